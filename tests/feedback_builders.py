"""Builders for feedback tests: a small labeled (rpc) corpus, written as a real corpus with a manifest."""
from __future__ import annotations

import pyarrow as pa

from counselsim.corpus.writer import write_corpus
from counselsim.schemas.rpc import RPCSession
from rpc_builders import make_session

RESISTANT = "I don't think that would work for me."


def rpc_record(session_id: str, slot: int) -> RPCSession:
    """A labeled session: client turn 4 resists (denying.disagreeing), the others collaborate."""
    session = make_session(session_id, slot, pairs=4)
    turns = []
    for t in session.turns:
        row = t.model_dump()
        if t.speaker == "client":
            resists = t.index == 4
            if resists:
                row["text"] = RESISTANT
            row.update(label_binary="resistance" if resists else "collaboration",
                       label="denying.disagreeing" if resists else "collaboration",
                       label_group="denying" if resists else "collaboration", label_rationale="r", label_status="ok",
                       reaction_label="defensive" if resists else "non_resistant", reaction_label_rationale="r",
                       reaction_label_status="ok")
        turns.append(row)
    return RPCSession.model_validate({
        **session.model_dump(), "turns": turns,
        "profile_5p": dict.fromkeys(("presenting", "predisposing", "precipitating", "perpetuating", "protective"), "x"),
        "episode": None, "episode_decision": "declined", "source_session_id": session_id, "rpc_run_id": "rpc", "rpc_config_hash": "h",
        "rpc_prompt_tokens": 0, "rpc_completion_tokens": 0})


def write_input(folder, records, schema, pipeline: str) -> str:
    table = pa.Table.from_pylist([r.model_dump() for r in records], schema=schema)
    write_corpus(str(folder), schema, [table], {"pipeline": pipeline}, rows_per_shard=2)
    return str(folder)
