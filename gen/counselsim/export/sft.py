"""SFT training data from a corpus (SimPsyDial §5.2.2): each counselor reply becomes one sample holding the dialogue
up to and including that reply, with the counselor system prompt (the paper's Figure 9) prepended. The client is
the user and the counselor the assistant.

    openai:   {"messages": [{"role": "system" | "user" | "assistant", "content": ...}, ...], "session_id", "turn_index"}
    sharegpt: {"conversations": [{"from": "system" | "human" | "gpt", "value": ...}, ...], "session_id", "turn_index"}
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from counselsim.corpus import storage
from counselsim.corpus.shards import read_corpus, read_schema, record_type, shard_paths
from counselsim.errors import InputError
from counselsim.jsonl import dumps_line
from counselsim.simpsydial.agents import counselor_system_prompt

# An arena dialogue trains on the replies it went on with: the supervisor's choices.
RECORD_TYPES = ("session", "rpc_session", "arena_dialogue")
FILE_FORMATS = ("jsonl", "parquet")


@dataclass(frozen=True)
class Style:
    messages: str
    role: str
    content: str
    roles: dict[str, str]  # system / client / counselor -> the style's role names

    def schema(self) -> pa.Schema:
        message = pa.struct([(self.role, pa.string()), (self.content, pa.string())])
        return pa.schema([
            pa.field(self.messages, pa.list_(message), nullable=False),
            pa.field("session_id", pa.string(), nullable=False),
            pa.field("turn_index", pa.int32(), nullable=False),
        ])


STYLES = {
    "openai": Style("messages", "role", "content", {"system": "system", "client": "user", "counselor": "assistant"}),
    "sharegpt": Style("conversations", "from", "value", {"system": "system", "client": "human", "counselor": "gpt"}),
}


def samples(session_id: str, language: str, turns: list[dict[str, Any]], style: Style) -> Iterator[dict[str, Any]]:
    """One sample per counselor turn of a session, turns given in order."""
    system = {style.role: style.roles["system"], style.content: counselor_system_prompt(language)}
    history = []
    for turn in turns:
        history.append({style.role: style.roles[turn["speaker"]], style.content: turn["text"]})
        if turn["speaker"] == "counselor":
            yield {style.messages: [system, *history], "session_id": session_id, "turn_index": turn["index"]}


def corpus_samples(shards: list[str], style: Style) -> Iterator[list[dict[str, Any]]]:
    """The samples of each shard in turn."""
    for shard in shards:
        for _, table in read_corpus(shard, columns=["session_id", "language", "turns"]):
            yield [sample for row in table.to_pylist()
                   for sample in samples(row["session_id"], row["language"], row["turns"], style)]


def export_sft(path: str, out: str, style: str = "openai", file_format: str = "jsonl") -> int:
    """Write the SFT samples of the corpus at `path` to the file `out` atomically; returns the sample count."""
    chosen = STYLES[style]
    shards = shard_paths(path)  # checked against the manifest, once
    for shard in shards:  # every shard's record type checked (footers only) before any output is created
        kind = record_type(read_schema(shard))
        if kind not in RECORD_TYPES:
            raise InputError(f"{shard}: expected {' or '.join(RECORD_TYPES)} records, found '{kind}'")
    count = 0
    with storage.atomic_writer(out) as f:
        if file_format == "jsonl":
            for batch in corpus_samples(shards, chosen):
                f.write("".join(dumps_line(s) for s in batch).encode("utf-8"))
                count += len(batch)
        else:
            schema = chosen.schema()
            with pq.ParquetWriter(f, schema, compression="zstd") as writer:
                for batch in corpus_samples(shards, chosen):
                    writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                    count += len(batch)
    return count
