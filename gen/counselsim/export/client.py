"""Client-side training data (ResistClient): one sample per client turn that carries motivation reasoning, from a
live-resistant session corpus (every reasoned client turn) or an rpc corpus (its injected turns).

The input is what the live resistant client sees (counselsim.simpsydial.resistant_client): the system prompt with
the role card, the 5P profile and the seven reaction types, then the dialogue so far with the counselor as the user
and the client as the assistant, client turns as utterances only. The target is the last assistant message:

    --reasoning json   the answer the live client gives: {"profile_reflection", "situation_awareness",
                       "reaction_decision", "reaction_type", "utterance"} as one JSON object (default; a model
                       trained on it is a drop-in `session.client_mode: resistant` client)
    --reasoning think  "<think>\n<the three steps and the type, one per line>\n</think>\n<utterance>", the layout of
                       reasoning-model chat templates

Every sample also keeps the reasoning in fields of its own: `reaction_type` and `motivation` (the three steps).

    openai:   {"messages": [{"role", "content"}, ...], "session_id", "turn_index", "reaction_type", "motivation"}
    sharegpt: {"conversations": [{"from", "value"}, ...], ...}
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from counselsim.config import format_validation_error
from counselsim.config.sections import SessionConfig
from counselsim.corpus import storage
from counselsim.corpus.shards import read_corpus, read_schema, record_type, shard_paths
from counselsim.errors import InputError
from counselsim.export.sft import Style
from counselsim.jsonl import dumps_line
from counselsim.schemas.arrow import MOTIVATION
from counselsim.schemas.reasoning import Profile5P
from counselsim.schemas.registry import MODELS
from counselsim.schemas.session import Session, Turn
from counselsim.simpsydial.resistant_client import REASONING_KEYS, system_prompt

RECORD_TYPES = ("session", "rpc_session")
REASONING_FORMATS = ("json", "think")
# The live prompt names the planned session length; records do not keep it, so samples use the shipped default.
MAX_TURN_PAIRS = SessionConfig.model_fields["max_turn_pairs"].default

STYLES = {
    "openai": Style("messages", "role", "content", {"system": "system", "client": "assistant", "counselor": "user"}),
    "sharegpt": Style("conversations", "from", "value", {"system": "system", "client": "gpt", "counselor": "human"}),
}


def schema(style: Style) -> pa.Schema:
    base = style.schema()
    return base.append(pa.field("reaction_type", pa.string(), nullable=False)).append(
        pa.field("motivation", MOTIVATION, nullable=False))


def target(turn: Turn, reasoning: str) -> str:
    steps = turn.motivation.model_dump()
    if reasoning == "json":
        return json.dumps({**steps, "reaction_type": turn.reaction_type, "utterance": turn.text}, ensure_ascii=False)
    lines = [f"{key}: {steps[key]}" for key in REASONING_KEYS] + [f"reaction_type: {turn.reaction_type}"]
    return "<think>\n" + "\n".join(lines) + "\n</think>\n" + turn.text


def profile_of(session: Session) -> Profile5P | None:
    """The profile the client reasoned from: a live session's own, else an rpc record's."""
    return session.client_profile or getattr(session, "profile_5p", None)


def samples(session: Session, style: Style, reasoning: str) -> Iterator[dict[str, Any]]:
    """One sample per client turn of the session that carries a reaction type and its motivation."""
    profile = profile_of(session)
    if profile is None:
        return
    system = {style.role: style.roles["system"],
              style.content: system_prompt(session.role_card, profile, MAX_TURN_PAIRS)}
    history: list[dict[str, str]] = []
    for turn in session.turns:
        if turn.speaker == "client" and turn.motivation is not None and turn.reaction_type is not None:
            answer = {style.role: style.roles["client"], style.content: target(turn, reasoning)}
            yield {style.messages: [system, *history, answer], "session_id": session.session_id,
                   "turn_index": turn.index, "reaction_type": turn.reaction_type,
                   "motivation": turn.motivation.model_dump()}
        history.append({style.role: style.roles[turn.speaker], style.content: turn.text})


def _sessions(shard: str, kind: str) -> Iterator[Session]:
    model = MODELS[kind]
    for _, table in read_corpus(shard):
        for i, row in enumerate(table.to_pylist()):
            try:
                yield model.model_validate(row)
            except ValidationError as e:
                raise InputError(format_validation_error(f"{shard}: record {i}", e)) from None


def export_client(path: str, out: str, style: str = "openai", file_format: str = "jsonl",
                  reasoning: str = "json") -> int:
    """Write the client samples of the corpus at `path` to `out` atomically; returns the sample count. A corpus
    without any reasoned client turn (a plain-client corpus) is an InputError, and nothing is written."""
    chosen = STYLES[style]
    shards = shard_paths(path)
    kinds = {}
    for shard in shards:
        kind = record_type(read_schema(shard))
        if kind not in RECORD_TYPES:
            raise InputError(f"{shard}: expected {' or '.join(RECORD_TYPES)} records, found '{kind}'")
        kinds[shard] = kind
    count = 0
    with storage.atomic_writer(out) as f:  # streamed; the file appears only if every shard was read
        writer = pq.ParquetWriter(f, schema(chosen), compression="zstd") if file_format == "parquet" else None
        for shard in shards:
            batch = [s for session in _sessions(shard, kinds[shard]) for s in samples(session, chosen, reasoning)]
            count += len(batch)
            if writer is not None:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema(chosen)))
            else:
                f.write("".join(dumps_line(s) for s in batch).encode("utf-8"))
        if count == 0:
            raise InputError(f"{path}: no client turn carries motivation reasoning; client samples come from a "
                             "session.client_mode: resistant corpus or an rpc corpus with injected turns")
        if writer is not None:
            writer.close()
    return count
