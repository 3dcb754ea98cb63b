"""Reading the session records of a corpus (generated, imported or rpc) as validated pydantic models, for the
pipelines that transform one: every record is checked against its record type's model, and an error names the
shard, the record and the field."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from counselsim.config import format_validation_error
from counselsim.corpus.shards import read_corpus, record_type
from counselsim.errors import InputError
from counselsim.schemas.registry import MODELS, SCHEMAS
from counselsim.schemas.session import Session


@dataclass
class InputSummary:
    record_type: str = ""
    sessions: int = 0
    shards: int = 0
    languages: set[str] = field(default_factory=set)


def _record(shard: str, i: int, row: dict, model: type[BaseModel]) -> Session:
    where = f"{shard}: record {i} (session_id {row.get('session_id')!r})"
    try:
        session = model.model_validate(row)
    except ValidationError as e:
        raise InputError(format_validation_error(where, e)) from None
    for k, turn in enumerate(session.turns):
        if turn.index != k:
            raise InputError(f"{where}: field 'turns.{k}.index': expected {k}, got {turn.index}")
    return session


def read_sessions(path: str, types: Sequence[str] = ("session",)) -> Iterator[tuple[str, str, int, Session]]:
    """(record type, shard, row, session) for every record of the corpus at `path`, shard by shard; the corpus
    must hold one of `types`, the same in every shard."""
    kinds: set[str] = set()
    for shard, table in read_corpus(path):
        kind = record_type(table.schema)
        if kind not in types:
            found = f"'{kind}' records" if kind else "no counselsim record type in its schema metadata"
            raise InputError(f"{shard}: expected {' or '.join(repr(t) for t in types)} records, found {found}")
        kinds.add(kind)
        if len(kinds) > 1:
            raise InputError(f"{path}: shards hold different record types {sorted(kinds)}")
        missing = [name for name in SCHEMAS[kind].names if name not in table.column_names]
        if missing:
            raise InputError(f"{shard}: missing {kind} fields {missing}")
        for i, row in enumerate(table.to_pylist()):
            yield kind, shard, i, _record(shard, i, row, MODELS[kind])


def validate_sessions(path: str, types: Sequence[str] = ("session",)) -> InputSummary:
    """Read every record once: valid, session ids unique, at least one; what the corpus holds."""
    summary = InputSummary()
    seen: dict[str, str] = {}
    shards = set()
    for kind, shard, i, session in read_sessions(path, types):
        if session.session_id in seen:
            raise InputError(f"{shard}: record {i}: field 'session_id': '{session.session_id}' also occurs in "
                             f"{seen[session.session_id]}")
        seen[session.session_id] = shard
        shards.add(shard)
        summary.record_type = kind
        summary.languages.add(session.language)
    if not seen:
        raise InputError(f"{path}: the input corpus holds no sessions")
    summary.sessions, summary.shards = len(seen), len(shards)
    return summary
