"""A corpus as two polars frames: one row per session, and one row per turn."""
from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from counselsim.corpus.shards import read_corpus, record_type
from counselsim.errors import InputError

# An arena dialogue is a session whose turns also carry their battle (counselsim.schemas.arena).
RECORD_TYPES = ("session", "rpc_session", "arena_dialogue")


@dataclass
class CorpusFrames:
    sessions: pl.DataFrame  # every session column except `turns`
    turns: pl.DataFrame  # session_id, language, the turn struct's fields, and `length`
    record_type: str
    schema: pa.Schema


def length_expr(text: pl.Expr, language: pl.Expr) -> pl.Expr:
    """Utterance length as `counselsim.simpsydial.refinement.length` counts it: characters in Chinese, whitespace-separated
    words otherwise."""
    return pl.when(language == "zh").then(text.str.len_chars()).otherwise(text.str.extract_all(r"\S+").list.len())


def explode_turns(sessions: pl.DataFrame) -> pl.DataFrame:
    """One row per turn, in session and turn order."""
    turns = (
        sessions.select("session_id", "language", "turns")
        .explode("turns", empty_as_null=False)
        .unnest("turns")
    )
    return turns.with_columns(length=length_expr(pl.col("text"), pl.col("language")))


def load_frames(path: str) -> CorpusFrames:
    tables, kinds = [], set()
    for shard, table in read_corpus(path):
        kind = record_type(table.schema)
        if kind not in RECORD_TYPES:
            raise InputError(f"{shard}: expected {' or '.join(RECORD_TYPES)} records, found '{kind}'")
        kinds.add(kind)
        tables.append(table)
    if len(kinds) > 1:
        raise InputError(f"{path}: shards hold different record types {sorted(kinds)}")
    table = pa.concat_tables(tables)
    sessions = pl.from_arrow(table)
    return CorpusFrames(
        sessions=sessions.drop("turns"),
        turns=explode_turns(sessions),
        record_type=kinds.pop(),
        schema=table.schema,
    )
