"""Reading the input of the feedback stage: any session corpus (generated or imported) or rpc corpus, every
record validated against its record type's model; errors name the shard, the record and the field."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from counselsim.config import format_validation_error
from counselsim.corpus.shards import read_corpus, record_type
from counselsim.errors import InputError
from counselsim.schemas.registry import MODELS
from counselsim.schemas.session import Session

INPUT_TYPES = ("session", "rpc_session")


@dataclass
class InputSummary:
    record_type: str = ""
    sessions: int = 0
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


def read_sessions(path: str) -> Iterator[tuple[str, str, int, Session]]:
    """(record type, shard, row, session) for every session of the corpus at `path`, shard by shard."""
    kinds: set[str] = set()
    for shard, table in read_corpus(path):
        kind = record_type(table.schema)
        if kind not in INPUT_TYPES:
            found = f"'{kind}' records" if kind else "no counselsim record type in its schema metadata"
            raise InputError(f"{shard}: expected {' or '.join(INPUT_TYPES)} records, found {found}")
        kinds.add(kind)
        if len(kinds) > 1:
            raise InputError(f"{path}: shards hold different record types {sorted(kinds)}")
        for i, row in enumerate(table.to_pylist()):
            yield kind, shard, i, _record(shard, i, row, MODELS[kind])


def validate_input(path: str) -> InputSummary:
    summary = InputSummary()
    seen: dict[str, str] = {}
    for kind, shard, i, session in read_sessions(path):
        if session.session_id in seen:
            raise InputError(f"{shard}: record {i}: field 'session_id': '{session.session_id}' also occurs in "
                             f"{seen[session.session_id]}")
        seen[session.session_id] = shard
        summary.record_type = kind
        summary.languages.add(session.language)
    if not seen:
        raise InputError(f"{path}: the input corpus holds no sessions")
    summary.sessions = len(seen)
    return summary
