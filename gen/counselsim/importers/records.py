"""What an importer returns: the dialogues it could read and the records it could not, with every problem."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from counselsim.corpus.storage import atomic_writer
from counselsim.schemas.imported import SessionSource
from counselsim.schemas.session import Speaker


@dataclass(frozen=True)
class RecordProblem:
    file: Path
    record: int | None  # the record's index in the file; None for a file that could not be read at all
    field: str  # e.g. "messages[3].role"; "(file)" or "(record)" for the whole thing
    message: str

    def __str__(self) -> str:
        where = f"{self.file}" if self.record is None else f"{self.file}: record {self.record}"
        return f"{where}: field '{self.field}': {self.message}"


@dataclass
class Dialogue:
    """One valid source record: its turns as (speaker, text), the client's chief complaint if known, and where it
    came from. `number` makes its session and card ids (`<prefix>-<number>`)."""

    number: int
    turns: list[tuple[Speaker, str]]
    source: SessionSource
    complaint: str | None = None


@dataclass
class ReadResult:
    dialogues: list[Dialogue] = field(default_factory=list)
    rejected: list[list[RecordProblem]] = field(default_factory=list)  # per rejected record, its problems
    complaints: Path | None = None  # the chief-complaints file read, if any

    @property
    def total(self) -> int:
        return len(self.dialogues) + len(self.rejected)


def write_rejection_report(rejected: list[list[RecordProblem]], path: str) -> None:
    """One JSON line per rejected record: file, record and its problems, as `role-cards import` reports cards."""
    with atomic_writer(path) as f:
        for problems in rejected:
            first = problems[0]
            row = {"file": str(first.file), "record": first.record,
                   "problems": [{"field": p.field, "problem": p.message} for p in problems]}
            f.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
