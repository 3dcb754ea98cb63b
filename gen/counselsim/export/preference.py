"""Preference data from an arena corpus, in the layout TRL's DPO trainer reads (conversational form): one sample
per judged battle, the dialogue up to the client turn as `prompt` (the counselor system prompt first, as in the
SFT export), the chosen and the rejected reply each as one assistant message. Unparseable verdicts are left out.

    {"prompt": [{"role", "content"}, ...], "chosen": [{"role": "assistant", ...}], "rejected": [...],
     "session_id", "turn_index", "chosen_entrant", "rejected_entrant"}
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from counselsim.arena.corpus import RECORD_TYPE, battles_of, dialogue_rows
from counselsim.corpus import storage
from counselsim.corpus.shards import read_schema, record_type, shard_paths
from counselsim.errors import InputError

ROLES = {"client": "user", "counselor": "assistant"}
_MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
SCHEMA = pa.schema([
    pa.field("prompt", _MESSAGES, nullable=False),
    pa.field("chosen", _MESSAGES, nullable=False),
    pa.field("rejected", _MESSAGES, nullable=False),
    pa.field("session_id", pa.string(), nullable=False),
    pa.field("turn_index", pa.int32(), nullable=False),
    pa.field("chosen_entrant", pa.string(), nullable=False),
    pa.field("rejected_entrant", pa.string(), nullable=False),
])


def samples(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
    systems = {e["name"]: e["system_prompt"] for e in row["entrants"]}
    for turn, battle in battles_of(row):
        if battle["status"] != "ok":
            continue
        by_entrant = {c["entrant"]: c["text"] for c in battle["candidates"]}
        loser = next(name for name in by_entrant if name != battle["winner"])
        history = [{"role": ROLES[t["speaker"]], "content": t["text"]} for t in row["turns"][:turn["index"]]]
        yield {"prompt": [{"role": "system", "content": systems[battle["winner"]]}, *history],
               "chosen": [{"role": "assistant", "content": by_entrant[battle["winner"]]}],
               "rejected": [{"role": "assistant", "content": by_entrant[loser]}],
               "session_id": row["session_id"], "turn_index": turn["index"],
               "chosen_entrant": battle["winner"], "rejected_entrant": loser}


def export_preference(path: str, out: str, file_format: str = "jsonl") -> int:
    """Write the preference pairs of the arena corpus at `path` to `out` atomically; returns the sample count."""
    for shard in shard_paths(path):  # every shard checked (footers only) before any output is created
        if record_type(read_schema(shard)) != RECORD_TYPE:
            raise InputError(f"{shard}: --format preference needs {RECORD_TYPE} records (an arena corpus), found "
                             f"'{record_type(read_schema(shard))}'")
    rows = [sample for row in dialogue_rows(path) for sample in samples(row)]
    with storage.atomic_writer(out) as f:
        if file_format == "jsonl":
            f.write("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in rows).encode("utf-8"))
        else:
            pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), f, compression="zstd")
    return len(rows)
