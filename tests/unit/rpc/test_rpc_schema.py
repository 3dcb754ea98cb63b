"""The rpc_session record: pydantic model and explicit Arrow schema agree, and the model refuses broken records."""
from __future__ import annotations

import pyarrow as pa
import pytest
from counselsim.corpus.shards import record_type
from counselsim.schemas import registry
from counselsim.schemas.arrow import (
    EPISODE,
    MOTIVATION,
    PROFILE_5P,
    RPC_SESSION_SCHEMA,
    RPC_TURN,
    SESSION_SCHEMA,
    schema_for,
)
from counselsim.schemas.rpc import Episode, Motivation, Profile5P, RPCSession, RPCTurn
from helpers import session
from pydantic import ValidationError

PROFILE = {k: "x" for k in Profile5P.model_fields}
MOTIVE = {"profile_reflection": "a", "situation_awareness": "b", "reaction_decision": "c"}


def test_arrow_schema_and_models_name_the_same_fields():
    assert RPC_SESSION_SCHEMA.names == list(RPCSession.model_fields)
    assert [f.name for f in RPC_TURN] == list(RPCTurn.model_fields)
    assert [f.name for f in PROFILE_5P] == list(Profile5P.model_fields)
    assert [f.name for f in MOTIVATION] == list(Motivation.model_fields)
    assert [f.name for f in EPISODE] == list(Episode.model_fields)
    # Every session field is kept, in order, before the rpc ones.
    assert RPC_SESSION_SCHEMA.names[: len(SESSION_SCHEMA)] == SESSION_SCHEMA.names
    assert record_type(RPC_SESSION_SCHEMA) == "rpc_session"
    assert registry.SCHEMAS["rpc_session"] is RPC_SESSION_SCHEMA and registry.MODELS["rpc_session"] is RPCSession
    assert schema_for("rpc_session") is RPC_SESSION_SCHEMA


def record(episode=None, **turn_updates) -> dict:
    data = session(texts=["Hello", "What brings you?", "I cannot sleep.", "What keeps you up?", "Work.", "Bye."]).model_dump()
    for t in data["turns"]:
        t.update(injected=False, regenerated=False)
        if t["speaker"] == "client":
            t.update(label_binary="collaboration", label="collaboration", label_group="collaboration",
                     label_rationale="r", label_status="ok")
    for index, update in turn_updates.items():
        data["turns"][int(index[1:])].update(update)
    return {**data, "profile_5p": PROFILE, "episode": episode, "source_session_id": data["session_id"],
            "rpc_run_id": "r", "rpc_config_hash": "h", "rpc_prompt_tokens": 1, "rpc_completion_tokens": 1}


INJECTED = {"injected": True, "reaction_type": "defensive", "motivation": MOTIVE, "original_text": "old",
            "label_binary": "resistance", "label": "denying.blaming", "label_group": "denying"}


def test_a_valid_record_round_trips_through_arrow():
    rec = RPCSession.model_validate(record({"turn_indices": [2], "reaction_type": "defensive"}, t2=INJECTED,
                                           t3={"regenerated": True, "original_text": "old reply"}))
    table = pa.Table.from_pylist([rec.model_dump()], schema=RPC_SESSION_SCHEMA)
    assert RPCSession.model_validate(table.to_pylist()[0]) == rec


@pytest.mark.parametrize("episode, updates, message", [
    ({"turn_indices": [2, 4, 6, 8], "reaction_type": "defensive"}, {}, "at most 3"),
    (None, {"t2": INJECTED}, "no episode"),
    ({"turn_indices": [2], "reaction_type": "defensive"}, {}, "differ from the injected turns"),
    ({"turn_indices": [2], "reaction_type": "avoidant"}, {"t2": INJECTED}, "shows 'defensive'"),
    (None, {"t1": {"label_status": "ok"}}, "counselor turn carries no label"),
    (None, {"t2": {"regenerated": True}}, "only counselor turns"),
    (None, {"t3": {"regenerated": True}}, "keeps its original_text"),
    (None, {"t2": {"label": "denying.blaming"}}, "label_group"),
    (None, {"t2": {"label": "denying.blaming", "label_group": "denying"}}, "label_binary"),
    (None, {"t2": {"label_status": None}}, "every client turn has a label_status"),
    (None, {"t2": {"label_status": "unparseable"}}, "unparseable turn has no fine-grained label"),
    (None, {"t2": {"label": "shouting", "label_group": None}}, "pattern"),
    (None, {"t2": {"injected": True}}, "keeps original_text"),
    (None, {"t2": {"reaction_type": "angry"}}, "reaction_type"),
])
def test_broken_records_are_refused(episode, updates, message):
    with pytest.raises(ValidationError, match=message):
        RPCSession.model_validate(record(episode, **updates))


def test_an_unparseable_turn_may_keep_its_binary_label():
    rec = record(t2={"label_binary": "resistance", "label": None, "label_group": None, "label_status": "unparseable"})
    assert RPCSession.model_validate(rec).turns[2].label_binary == "resistance"
