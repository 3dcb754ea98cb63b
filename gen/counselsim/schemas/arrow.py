"""Explicit Arrow schemas for the Parquet tables. Arrow never infers a schema from data here.

`tests/test_schemas.py` checks that each Arrow schema and its pydantic model name the same fields.
"""
from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from counselsim.schemas.session import Session

TIMESTAMP = pa.timestamp("us", tz="UTC")

TRAIT = pa.struct([("level", pa.string()), ("note", pa.string())])

ROLE_CARD = pa.struct(
    [
        ("id", pa.string()),
        ("language", pa.string()),
        ("gender", pa.string()),
        ("age", pa.int32()),
        ("education", pa.string()),
        ("occupation", pa.string()),
        ("marital_status", pa.string()),
        ("family_relationships", pa.string()),
        (
            "big_five",
            pa.struct(
                [
                    ("openness", TRAIT),
                    ("conscientiousness", TRAIT),
                    ("extraversion", TRAIT),
                    ("agreeableness", TRAIT),
                    ("neuroticism", TRAIT),
                ]
            ),
        ),
        ("resistance", pa.struct([("level", pa.string()), ("reasoning", pa.string())])),
        ("chief_complaint", pa.string()),
        ("topic", pa.string()),
        ("source", pa.string()),
    ]
)

ROLE_MODEL = pa.struct(
    [
        ("model", pa.string()),
        ("backend", pa.string()),
        ("temperature", pa.float64()),
        ("top_p", pa.float64()),
        ("max_tokens", pa.int32()),
        ("repetition_penalty", pa.float64()),
        ("stop", pa.list_(pa.string())),
    ]
)

# The client's reasoning (counselsim.schemas.reasoning): on live resistant sessions and on rpc records.
MOTIVATION = pa.struct(
    [("profile_reflection", pa.string()), ("situation_awareness", pa.string()), ("reaction_decision", pa.string())]
)

PROFILE_5P = pa.struct(
    [
        ("presenting", pa.string()),
        ("predisposing", pa.string()),
        ("precipitating", pa.string()),
        ("perpetuating", pa.string()),
        ("protective", pa.string()),
    ]
)

TURN = pa.struct(
    [
        ("index", pa.int32()),
        ("speaker", pa.string()),
        ("text", pa.string()),
        ("attempts", pa.int32()),
        ("prompt_tokens", pa.int32()),
        ("completion_tokens", pa.int32()),
        ("latency_s", pa.float64()),
        ("finish_reason", pa.string()),
        ("reaction_type", pa.string()),
        ("motivation", MOTIVATION),
    ]
)

# Where an imported session was read from (counselsim.schemas.imported.SessionSource); null on generated ones.
SESSION_SOURCE = pa.struct(
    [("format", pa.string()), ("file", pa.string()), ("index", pa.int64()), ("counselor_prompt", pa.string())]
)

REJECTIONS = pa.struct([("reason", pa.string()), ("count", pa.int32())])

SESSION_FIELDS = [
    pa.field("session_id", pa.string(), nullable=False),
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("slot", pa.int64(), nullable=False),
    pa.field("role_card_id", pa.string(), nullable=False),
    pa.field("language", pa.string(), nullable=False),
    pa.field("role_card", ROLE_CARD, nullable=False),
    pa.field("client", ROLE_MODEL),  # null on imported sessions
    pa.field("counselor", ROLE_MODEL),  # null on imported sessions
    pa.field("seed", pa.int64()),
    pa.field("turns", pa.list_(TURN), nullable=False),
    pa.field("termination_reason", pa.string()),
    pa.field("num_turn_pairs", pa.int32(), nullable=False),
    pa.field("regenerations", pa.int32(), nullable=False),
    pa.field("rejections", pa.list_(REJECTIONS), nullable=False),
    pa.field("prompt_tokens", pa.int64(), nullable=False),
    pa.field("completion_tokens", pa.int64(), nullable=False),
    pa.field("started_at", TIMESTAMP),
    pa.field("finished_at", TIMESTAMP),
    pa.field("duration_s", pa.float64()),
    pa.field("config_hash", pa.string(), nullable=False),
    pa.field("package_version", pa.string(), nullable=False),
    pa.field("origin", pa.string(), nullable=False),
    pa.field("source", SESSION_SOURCE),
    pa.field("client_profile", PROFILE_5P),  # null unless a resistant live client
]

# counselsim.schema_version changes with the fields, so a reader can say a corpus was written by another version
# (corpus/integrity.py). 2: finish_reason, rejections, origin, source, reasoning fields; rpc: labels, episode plan.
SESSION_SCHEMA = pa.schema(SESSION_FIELDS, metadata={"counselsim.record": "session", "counselsim.schema_version": "2"})


def sessions_to_table(sessions: Iterable[Session]) -> pa.Table:
    rows = [s.model_dump(mode="python") for s in sessions]
    return pa.Table.from_pylist(rows, schema=SESSION_SCHEMA)


def table_to_sessions(table: pa.Table) -> list[Session]:
    return [Session.model_validate(row) for row in table.to_pylist()]


def schema_for(record_type: str) -> pa.Schema | None:
    """The Arrow schema of a record type named in shard metadata or a manifest."""
    from counselsim.schemas import registry

    return registry.SCHEMAS.get(record_type)


# --- rpc_session: a session with a 5P profile, an injected resistance episode and per-turn labels ---------------
# (pydantic models in counselsim.schemas.rpc)

RPC_TURN = pa.struct(
    list(TURN)
    + [
        ("label_binary", pa.string()),
        ("label", pa.string()),
        ("label_group", pa.string()),
        ("label_rationale", pa.string()),
        ("label_status", pa.string()),
        ("reaction_label", pa.string()),
        ("reaction_label_rationale", pa.string()),
        ("reaction_label_status", pa.string()),
        ("reaction_source", pa.string()),
        ("injected", pa.bool_()),
        ("original_text", pa.string()),
        ("regenerated", pa.bool_()),
    ]
)

EPISODE = pa.struct([("turn_indices", pa.list_(pa.int32())), ("reaction_type", pa.string()),
                     ("planner_reason", pa.string()), ("continuation", pa.string()),
                     ("counselor_regenerated", pa.int32()), ("client_regenerated", pa.int32())])

RPC_SESSION_FIELDS = [pa.field("turns", pa.list_(RPC_TURN), nullable=False) if f.name == "turns" else f
                      for f in SESSION_FIELDS] + [
    pa.field("profile_5p", PROFILE_5P, nullable=False),
    pa.field("episode", EPISODE),
    pa.field("episode_decision", pa.string(), nullable=False),
    pa.field("topic", pa.string()),
    pa.field("source_session_id", pa.string(), nullable=False),
    pa.field("rpc_run_id", pa.string(), nullable=False),
    pa.field("rpc_config_hash", pa.string(), nullable=False),
    pa.field("rpc_prompt_tokens", pa.int64(), nullable=False),
    pa.field("rpc_completion_tokens", pa.int64(), nullable=False),
]

RPC_SESSION_SCHEMA = pa.schema(RPC_SESSION_FIELDS,
                               metadata={"counselsim.record": "rpc_session", "counselsim.schema_version": "2"})
