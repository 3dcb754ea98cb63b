"""Crash-safe staging of finished records while a job runs.

Every finished record is appended to `journal.jsonl` and fsynced before it counts as done; full batches are
compacted into `part-NNNNN.parquet` (atomic rename) and the journal is then emptied. Drops go to `drops.jsonl`.
A kill at any moment loses only records still in flight: a torn last journal line is cut off, a record found in
both a part and the journal is taken once, and temp files of an interrupted write are deleted on recovery.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ValidationError

from counselsim.corpus import storage
from counselsim.errors import OutputError
from counselsim.runtime.job import Job

JOURNAL = "journal.jsonl"
DROPS = "drops.jsonl"
RUN = "run.json"
MAX_DETAIL = 4000  # characters of a drop's detail kept (a builder failure lists every attempt's reason)


@dataclass
class Recovered:
    done: set[str] = field(default_factory=set)
    drops: dict[str, str] = field(default_factory=dict)  # key -> reason
    torn_lines: int = 0


class Staging:
    """Staged records of `model`, keyed by their `key_column`."""

    def __init__(self, folder: Path, schema: pa.Schema, model: type[BaseModel], rows_per_part: int, *,
                 key_column: str) -> None:
        self.folder = folder
        self.schema = schema
        self.model = model
        self.key_column = key_column
        self.rows_per_part = rows_per_part
        self._buffer: list[BaseModel] = []
        self._parts = 0
        self.drop_reasons: dict[str, int] = {}
        self.drop_examples: dict[str, str] = {}

    @classmethod
    def for_job(cls, folder: Path, job: Job, rows_per_part: int) -> Staging:
        return cls(folder, job.schema, job.model, rows_per_part, key_column=job.key_column)

    # --- run identity -------------------------------------------------------------------------------------
    def read_run(self) -> dict[str, Any] | None:
        path = self.folder / RUN
        return json.loads(path.read_text()) if path.exists() else None

    def write_run(self, info: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        storage.write_json(str(self.folder / RUN), info)

    # --- recovery -----------------------------------------------------------------------------------------
    def part_paths(self) -> list[Path]:
        return sorted(self.folder.glob("part-*.parquet"))

    def recover(self) -> Recovered:
        self.folder.mkdir(parents=True, exist_ok=True)
        storage.remove_temp_files(str(self.folder))
        rec = Recovered()
        parts = self.part_paths()
        self._parts = int(parts[-1].stem.split("-")[1]) + 1 if parts else 0
        for part in parts:
            try:
                rec.done.update(pq.read_table(part, columns=[self.key_column]).column(self.key_column).to_pylist())
            except (pa.ArrowException, OSError, KeyError) as e:
                raise OutputError(f"{part}: damaged staging part ({e}); delete this file and rerun, and its "
                                  "records are made again") from None
        for line, data in self._lines(self.folder / JOURNAL, rec):
            try:
                record = self.model.model_validate(data)
            except ValidationError as e:
                raise OutputError(f"{self.folder / JOURNAL}:{line + 1}: not a {self.model.__name__} record "
                                  f"({e.error_count()} field errors); delete this file and rerun, and its records "
                                  "are made again") from None
            key = getattr(record, self.key_column)
            if key not in rec.done:
                rec.done.add(key)
                self._buffer.append(record)
        for line, data in self._lines(self.folder / DROPS, rec):
            rec.drops[data["key"]] = data["reason"]
            self._count_drop(data["reason"], data.get("detail", ""))
        return rec

    @staticmethod
    def _lines(path: Path, rec: Recovered):
        if not path.exists():
            return
        lines = path.read_bytes().split(b"\n")
        offset = 0
        for i, raw in enumerate(lines):
            start, offset = offset, offset + len(raw) + 1
            if not raw.strip():
                continue
            try:
                yield i, json.loads(raw)
            except json.JSONDecodeError as e:
                if i < len(lines) - 1:  # only an unterminated last line can be torn by a kill
                    raise OutputError(f"{path}:{i + 1}: corrupt staging line ({e.msg})") from None
                rec.torn_lines += 1
                # Cut it off: lines appended later would otherwise glue onto it and corrupt the file for good.
                os.truncate(path, start)

    # --- reading back a finished job ----------------------------------------------------------------------
    def records(self) -> Iterator[BaseModel]:
        """Every staged record, part by part; call after the runner has compacted the journal."""
        for part in self.part_paths():
            for row in pq.read_table(part).to_pylist():
                yield self.model.model_validate(row)

    def drops(self) -> list[dict[str, str]]:
        """Every recorded drop: {key, reason, detail}, in the order they happened."""
        return [data for _, data in self._lines(self.folder / DROPS, Recovered())]

    # --- writing ------------------------------------------------------------------------------------------
    def _append(self, name: str, *objs: dict[str, Any]) -> None:
        """Append one JSON line per object, then one fsync for all of them."""
        with open(self.folder / name, "a", encoding="utf-8") as f:
            f.write("".join(json.dumps(obj, ensure_ascii=False, default=str) + "\n" for obj in objs))
            f.flush()
            os.fsync(f.fileno())

    def add_record(self, record: BaseModel) -> None:
        self.add_records([record])

    def add_records(self, records: list[BaseModel]) -> None:
        """Stage `records` together: every one is in the fsynced journal when this returns."""
        self._append(JOURNAL, *(record.model_dump(mode="json") for record in records))
        self._buffer.extend(records)
        if len(self._buffer) >= self.rows_per_part:
            self.compact()

    def add_drop(self, key: str, reason: str, detail: str = "") -> None:
        self._append(DROPS, {"key": key, "reason": reason, "detail": detail[:MAX_DETAIL]})
        self._count_drop(reason, detail)

    def _count_drop(self, reason: str, detail: str) -> None:
        self.drop_reasons[reason] = self.drop_reasons.get(reason, 0) + 1
        self.drop_examples.setdefault(reason, detail[:300])

    def compact(self) -> None:
        """Move buffered records into a new part, then empty the journal."""
        if self._buffer:
            rows = [r.model_dump(mode="python") for r in self._buffer]
            table = pa.Table.from_pylist(rows, schema=self.schema)
            storage.write_parquet(table, str(self.folder / f"part-{self._parts:05d}.parquet"))
            self._parts += 1
            self._buffer.clear()
        storage.write_bytes(str(self.folder / JOURNAL), b"")
