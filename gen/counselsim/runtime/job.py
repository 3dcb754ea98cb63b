"""The job protocol: what the runner, staging and finalize need to know about a pipeline, and nothing more.

A job turns work items into records. It names the column that keys its records (resume skips finished keys), the
column final shards are ordered by, its record model and Arrow schema. It is built in two steps: `validate()`
checks every input without engines (before anything is written), then `bind(pool, run_id)` gives it the engines.

On the Ray executor `process` runs in a copy of the job on each session worker, while `summary` runs on the
driver's copy. A job whose summary reads what `process` accumulates (e.g. per-stage call meters) is also a
`WorkerState`: each worker drains that state with every batch of outcomes, and the driver merges it.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa
from pydantic import BaseModel


class Dropped(Exception):
    """The item cannot become a record; `reason` is counted in the run manifest and the dataset card."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class WorkItem:
    key: str
    slot: int
    payload: Any


class Job(Protocol):
    record_type: str
    key_column: str  # the column holding each record's key (WorkItem.key)
    order_column: str  # final shards are sorted by this column
    schema: pa.Schema
    model: type[BaseModel]
    target: int | None  # records to deliver; None: one attempt per item

    def validate(self) -> None:
        """Check every input (files, prompts, settings) without engines; raise InputError naming what is wrong."""

    def bind(self, pool: Any, run_id: str) -> None:
        """Give the job its engines and the run id, once they are up."""

    def plan(self) -> Iterator[WorkItem]: ...

    async def process(self, item: WorkItem) -> BaseModel: ...

    def counters(self, record: BaseModel) -> dict[str, int]:
        """Numbers the runner adds up across records for progress and throughput (e.g. turns, completion_tokens)."""

    def summary(self, part_paths: Sequence[Path]) -> dict[str, Any] | None:
        """Extra manifest sections computed over the finished records, or None."""


@runtime_checkable
class WorkerState(Protocol):
    """A job whose `summary` reads state that `process` accumulates, which the Ray executor carries from the
    workers' copies of the job to the driver's. A lost worker loses at most what it gathered since its last
    exchange (its items run again elsewhere)."""

    def worker_state(self) -> dict[str, Any]:
        """What this copy accumulated since the last call (plain, picklable data), counting from zero after."""

    def merge_worker_state(self, state: dict[str, Any]) -> None:
        """Add a worker's `worker_state()` into this (the driver's) copy."""
