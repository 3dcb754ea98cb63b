"""Runs a job's work items through the engine pool with many items in flight, staging each finished record.

A job knows what to do with one item; the runner knows nothing about sessions. It keeps up to
`max_in_flight x replicas` items running with no barrier between them, so the engines' continuous batching is
always fed, and it stops launching once the target is reachable by what is done plus what is in flight.
"""
from __future__ import annotations

import asyncio
import logging
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa
from pydantic import BaseModel
from tqdm import tqdm

from counselsim.engines.base import EngineError
from counselsim.logs import event
from counselsim.simpsydial.session import SessionDropped
from counselsim.runtime.staging import Staging

log = logging.getLogger(__name__)


@dataclass
class WorkItem:
    key: str
    slot: int
    payload: Any


class Job(Protocol):
    record_type: str
    schema: pa.Schema
    model: type[BaseModel]
    target: int | None  # records to deliver; None: one attempt per item

    def plan(self) -> Iterator[WorkItem]: ...

    async def process(self, item: WorkItem) -> BaseModel: ...


@dataclass
class RunStats:
    attempted: int = 0
    written: int = 0
    dropped: int = 0
    resumed: int = 0
    turns: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0
    first_record_s: float | None = None
    max_in_flight: int = 0
    drops: dict[str, int] = field(default_factory=dict)


async def run_items(job: Job, staging: Staging, max_in_flight: int, max_attempts_factor: float,
                    show_progress: bool = True) -> RunStats:
    recovered = staging.recover()
    stats = RunStats(written=len(recovered.done), dropped=len(recovered.drops), resumed=len(recovered.done))
    stats.attempted = stats.written + stats.dropped
    stats.max_in_flight = max_in_flight
    skip = recovered.done | set(recovered.drops)
    max_attempts = math.inf if job.target is None else math.ceil(job.target * max_attempts_factor)
    if recovered.done or recovered.drops:
        event(log, "resuming", done=len(recovered.done), dropped=len(recovered.drops), torn=recovered.torn_lines)

    items = job.plan()
    in_flight: dict[asyncio.Task, WorkItem] = {}
    t0 = time.monotonic()
    bar = tqdm(total=job.target, initial=stats.written, unit="session", file=sys.stderr,
               disable=not (show_progress and sys.stderr.isatty()), dynamic_ncols=True)
    last_log = t0
    exhausted = False

    def want_more() -> bool:
        if exhausted or stats.attempted >= max_attempts:
            return False
        return job.target is None or stats.written + len(in_flight) < job.target

    try:
        while True:
            while len(in_flight) < max_in_flight and want_more():
                item = next(items, None)
                if item is None:
                    exhausted = True
                    break
                if item.key in skip:
                    continue
                stats.attempted += 1
                in_flight[asyncio.create_task(job.process(item))] = item
            if not in_flight:
                break
            finished, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                item = in_flight.pop(task)
                _settle(task, item, staging, stats, t0)
            elapsed = time.monotonic() - t0
            bar.n = stats.written
            bar.set_postfix(dropped=stats.dropped, turns_s=f"{stats.turns / elapsed:.1f}",
                            tok_s=f"{stats.completion_tokens / elapsed:.0f}", refresh=False)
            bar.refresh()
            if time.monotonic() - last_log > 30:
                last_log = time.monotonic()
                event(log, "progress", written=stats.written, dropped=stats.dropped, in_flight=len(in_flight),
                      turns_per_s=round(stats.turns / elapsed, 2), tokens_per_s=round(stats.completion_tokens / elapsed, 1))
    finally:
        for task in in_flight:
            task.cancel()
        bar.close()
    staging.compact()
    stats.wall_s = time.monotonic() - t0
    stats.drops = dict(staging.drop_reasons)
    return stats


def _settle(task: asyncio.Task, item: WorkItem, staging: Staging, stats: RunStats, t0: float) -> None:
    error = task.exception()
    if error is None:
        record = task.result()
        staging.add_record(record)
        stats.written += 1
        turns = getattr(record, "turns", [])
        stats.turns += len(turns)
        stats.completion_tokens += sum(getattr(t, "completion_tokens", 0) for t in turns)
        if stats.first_record_s is None:
            stats.first_record_s = time.monotonic() - t0
        return
    if isinstance(error, SessionDropped):
        reason, detail = error.reason, error.detail
    elif isinstance(error, EngineError):
        reason, detail = "engine_error", str(error)
    else:
        # A bad record must not sink the job: it is dropped, counted and logged with its traceback.
        reason, detail = f"error:{type(error).__name__}", str(error)
        log.error("item failed", exc_info=error, extra={"fields": {"key": item.key}})
    staging.add_drop(item.key, reason, detail)
    stats.dropped += 1
