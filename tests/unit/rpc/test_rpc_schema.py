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


# The planner's episode fields, for records whose test is about the turns.
EPISODE_FIELDS = {"planner_reason": "p", "continuation": "rejoined", "counselor_regenerated": 0,
                  "client_regenerated": 0}


def record(episode=None, **turn_updates) -> dict:
    data = session(texts=["Hello", "What brings you?", "I cannot sleep.", "What keeps you up?", "Work.", "Bye."]).model_dump()
    for t in data["turns"]:
        t.update(injected=False, regenerated=False)
        if t["speaker"] == "client":
            t.update(label_binary="collaboration", label="collaboration", label_group="collaboration",
                     label_rationale="r", label_status="ok", reaction_label="non_resistant",
                     reaction_label_rationale="answers", reaction_label_status="ok")
    for index, update in turn_updates.items():
        data["turns"][int(index[1:])].update(update)
    if episode is not None:
        episode = {**EPISODE_FIELDS, **episode}
    return {**data, "profile_5p": PROFILE, "episode": episode,
            "episode_decision": "injected" if episode else "declined", "source_session_id": data["session_id"],
            "rpc_run_id": "r", "rpc_config_hash": "h", "rpc_prompt_tokens": 1, "rpc_completion_tokens": 1}


INJECTED = {"injected": True, "reaction_type": "defensive", "reaction_source": "injected", "motivation": MOTIVE,
            "original_text": "old", "label_binary": "resistance", "label": "denying.blaming", "label_group": "denying",
            "reaction_label": "defensive"}
DECLARED = {"reaction_type": "avoidant", "reaction_source": "declared", "motivation": MOTIVE}


def test_a_valid_record_round_trips_through_arrow():
    rec = RPCSession.model_validate(record({"turn_indices": [2], "reaction_type": "defensive",
                                            "counselor_regenerated": 1}, t2=INJECTED,
                                           t3={"regenerated": True, "original_text": "old reply"}, t4=DECLARED))
    table = pa.Table.from_pylist([rec.model_dump()], schema=RPC_SESSION_SCHEMA)
    assert RPCSession.model_validate(table.to_pylist()[0]) == rec


@pytest.mark.parametrize("episode, updates, message", [
    ({"turn_indices": [2, 4, 6, 8], "reaction_type": "defensive"}, {}, "at most 3"),
    (None, {"t2": INJECTED}, "no episode"),
    ({"turn_indices": [2], "reaction_type": "defensive"}, {}, "differ from the injected turns"),
    ({"turn_indices": [2], "reaction_type": "avoidant"}, {"t2": INJECTED}, "shows 'defensive'"),
    (None, {"t1": {"label_status": "ok"}}, "counselor turn carries no label"),
    (None, {"t1": {"reaction_label": "defensive"}}, "counselor turn carries no label"),
    (None, {"t1": {"reaction_type": "defensive", "reaction_source": "declared"}}, "counselor turn"),
    (None, {"t2": {"regenerated": True}}, "keeps its original_text"),
    (None, {"t3": {"regenerated": True}}, "keeps its original_text"),
    (None, {"t2": {"label": "denying.blaming"}}, "label_group"),
    (None, {"t2": {"label": "denying.blaming", "label_group": "denying"}}, "label_binary"),
    (None, {"t2": {"label_status": None}}, "every client turn has a label_status"),
    (None, {"t2": {"label_status": "unparseable"}}, "unparseable turn has no fine-grained label"),
    (None, {"t2": {"label": "shouting", "label_group": None}}, "pattern"),
    (None, {"t2": {"injected": True}}, "keeps original_text"),
    (None, {"t2": {"reaction_type": "angry"}}, "reaction_type"),
    # the reaction label
    (None, {"t2": {"reaction_label_status": None}}, "every client turn has a reaction_label_status"),
    (None, {"t2": {"reaction_label_status": "unparseable"}}, "disagree"),
    (None, {"t2": {"reaction_label": None}}, "disagree"),
    (None, {"t2": {"reaction_label": None, "reaction_label_status": "unparseable"}}, "rationale without"),
    (None, {"t2": {"reaction_label": "shouting"}}, "reaction_label"),
    # where a reaction type came from
    (None, {"t2": {"reaction_type": "avoidant"}}, "reaction_source is set exactly when"),
    (None, {"t2": {"reaction_source": "declared"}}, "reaction_source is set exactly when"),
    (None, {"t2": {**DECLARED, "reaction_source": "injected"}}, "not injected"),
    (None, {"t2": {"motivation": MOTIVE}}, "motivation belongs to a reaction_type"),
    ({"turn_indices": [2], "reaction_type": "defensive"}, {"t2": {**INJECTED, "reaction_source": "declared"}},
     "reaction_source is 'injected'"),
    ({"turn_indices": [2], "reaction_type": "defensive"}, {"t2": {**INJECTED, "regenerated": True}},
     "injected turn is not regenerated"),
    (None, {"t2": {"original_text": "old"}}, "neither injected nor regenerated"),
])
def test_broken_records_are_refused(episode, updates, message):
    with pytest.raises(ValidationError, match=message):
        RPCSession.model_validate(record(episode, **updates))


def test_an_unparseable_turn_may_keep_its_binary_label():
    rec = record(t2={"label_binary": "resistance", "label": None, "label_group": None, "label_status": "unparseable"})
    assert RPCSession.model_validate(rec).turns[2].label_binary == "resistance"


def test_declared_types_regenerated_client_turns_and_unparseable_reaction_labels_are_valid():
    rec = RPCSession.model_validate(record(
        {"turn_indices": [2], "reaction_type": "defensive", "continuation": "regenerated",
         "counselor_regenerated": 1, "client_regenerated": 1},
        t0=DECLARED, t2=INJECTED, t3={"regenerated": True, "original_text": "old reply"},
        t4={**DECLARED, "regenerated": True, "original_text": "Work.", "reaction_label": None,
            "reaction_label_rationale": None, "reaction_label_status": "unparseable"}))
    t0, t2, t4 = rec.turns[0], rec.turns[2], rec.turns[4]
    assert (t0.reaction_type, t0.reaction_source, t0.reaction_label) == ("avoidant", "declared", "non_resistant")
    assert (t2.reaction_source, t2.reaction_label) == ("injected", "defensive")
    assert t4.regenerated and t4.reaction_label is None and t4.reaction_label_status == "unparseable"
