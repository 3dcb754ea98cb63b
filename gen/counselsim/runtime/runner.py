"""Runs a job's work items with many in flight, staging each finished record.

A job knows what to do with one item; the runner knows nothing about sessions. The `Ledger` is the bookkeeping
both executors share: which item comes next (items handed back by a lost worker first, then the plan, skipping
what is staged), when to stop launching (the target is reachable by what is done plus what is in flight, or the
attempts are spent), and how a finished or failed item is staged and counted. `run_items` is the in-process
executor: up to `max_in_flight` items as asyncio tasks with no barrier between them, so the engines' continuous
batching is always fed. The Ray executor (runtime/dispatch.py) hands the same items to session workers.
"""
from __future__ import annotations

import asyncio
import logging
import math
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel
from tqdm import tqdm

from counselsim.engines.base import ContextOverflowError, EngineError
from counselsim.logs import event
from counselsim.runtime.job import Dropped, Job, WorkItem
from counselsim.runtime.staging import Staging

log = logging.getLogger(__name__)
PROGRESS_LOG_S = 30


@dataclass
class RunStats:
    attempted: int = 0
    written: int = 0
    dropped: int = 0
    resumed: int = 0
    counters: dict[str, int] = field(default_factory=dict)  # sums of job.counters() over this process' records
    wall_s: float = 0.0
    first_record_s: float | None = None
    max_in_flight: int = 0
    drops: dict[str, int] = field(default_factory=dict)
    replanned: int = 0  # items handed back by a lost or stalled worker and run again


@dataclass
class Finished:
    """A record made from the item `key`, with the job's counters for it (computed where it was made)."""

    key: str
    record: BaseModel
    counters: dict[str, int]


@dataclass
class Failed:
    key: str
    reason: str
    detail: str


def outcome(job: Job, item: WorkItem, task: asyncio.Task) -> Finished | Failed:
    """What a finished `job.process(item)` task came to."""
    error = task.exception()
    if error is None:
        record = task.result()
        return Finished(item.key, record, job.counters(record))
    if isinstance(error, Dropped):
        return Failed(item.key, error.reason, error.detail)
    if isinstance(error, ContextOverflowError):
        return Failed(item.key, "context_overflow", str(error))
    if isinstance(error, EngineError):
        return Failed(item.key, "engine_error", str(error))
    # A bad record must not sink the job: it is dropped, counted and logged with its traceback.
    log.error("item failed", exc_info=error, extra={"fields": {"key": item.key}})
    return Failed(item.key, f"error:{type(error).__name__}", str(error))


class Ledger:
    """What has been handed out, staged and counted in one run of `job` into `staging`."""

    def __init__(self, job: Job, staging: Staging, max_in_flight: int, max_attempts_factor: float,
                 show_progress: bool = True, unit: str = "record") -> None:
        recovered = staging.recover()
        self.job = job
        self.staging = staging
        self.stats = RunStats(written=len(recovered.done), dropped=len(recovered.drops),
                              resumed=len(recovered.done), max_in_flight=max_in_flight)
        self.stats.attempted = self.stats.written + self.stats.dropped
        self.skip = recovered.done | set(recovered.drops)
        self.max_attempts = math.inf if job.target is None else math.ceil(job.target * max_attempts_factor)
        if recovered.done or recovered.drops:
            event(log, "resuming", done=len(recovered.done), dropped=len(recovered.drops), torn=recovered.torn_lines)
        self.items = job.plan()
        self.handed_back: deque[WorkItem] = deque()
        self.in_flight = 0
        self.exhausted = False
        self.t0 = time.monotonic()
        self.last_log = self.t0
        self.bar = tqdm(total=job.target, initial=self.stats.written, unit=unit, file=sys.stderr,
                        disable=not (show_progress and sys.stderr.isatty()), dynamic_ncols=True)

    def _wanted(self) -> bool:
        target = self.job.target
        return target is None or self.stats.written + self.in_flight < target

    def next_item(self) -> WorkItem | None:
        """The next item to run, or None when none is wanted now (more may be once in-flight items settle)."""
        if not self._wanted():
            return None
        if self.handed_back:
            self.in_flight += 1
            return self.handed_back.popleft()
        while not self.exhausted and self.stats.attempted < self.max_attempts:
            item = next(self.items, None)
            if item is None:
                self.exhausted = True
                break
            if item.key in self.skip:
                continue
            self.stats.attempted += 1
            self.in_flight += 1
            return item
        return None

    def take(self, count: int) -> list[WorkItem]:
        items = []
        while len(items) < count and (item := self.next_item()) is not None:
            items.append(item)
        return items

    def hand_back(self, items: Sequence[WorkItem]) -> None:
        """Items whose worker was lost: run again, with the same slots and seeds, before any new item."""
        self.handed_back.extend(items)
        self.in_flight -= len(items)
        self.stats.replanned += len(items)

    @property
    def done(self) -> bool:
        """Nothing in flight, and nothing more will be handed out."""
        return self.in_flight == 0 and (not self._wanted() or (not self.handed_back and (
            self.exhausted or self.stats.attempted >= self.max_attempts)))

    def settle(self, outcomes: Sequence[Finished | Failed]) -> None:
        """Stage the outcomes (records fsynced together in the journal) before counting any of them."""
        records = [o.record for o in outcomes if isinstance(o, Finished)]
        if records:
            self.staging.add_records(records)
        for o in outcomes:
            self.in_flight -= 1
            if isinstance(o, Failed):
                self.staging.add_drop(o.key, o.reason, o.detail)
                self.stats.dropped += 1
                continue
            self.stats.written += 1
            for name, value in o.counters.items():
                self.stats.counters[name] = self.stats.counters.get(name, 0) + value
            if self.stats.first_record_s is None:
                self.stats.first_record_s = time.monotonic() - self.t0
        self._report()

    def _report(self) -> None:
        elapsed = time.monotonic() - self.t0
        rates = {f"{name}_per_s": round(total / elapsed, 2) for name, total in self.stats.counters.items()}
        if not self.bar.disable:
            self.bar.n = self.stats.written
            self.bar.set_postfix(dropped=self.stats.dropped, **rates, refresh=False)
            self.bar.refresh()
        if time.monotonic() - self.last_log > PROGRESS_LOG_S:
            self.last_log = time.monotonic()
            event(log, "progress", written=self.stats.written, dropped=self.stats.dropped, in_flight=self.in_flight,
                  **rates)

    def close(self) -> RunStats:
        self.bar.close()
        self.staging.compact()
        self.stats.wall_s = time.monotonic() - self.t0
        self.stats.drops = dict(self.staging.drop_reasons)
        return self.stats


async def run_items(job: Job, staging: Staging, max_in_flight: int, max_attempts_factor: float,
                    show_progress: bool = True, unit: str = "record") -> RunStats:
    """Run `job` (bound) in this process with up to `max_in_flight` items at once."""
    ledger = Ledger(job, staging, max_in_flight, max_attempts_factor, show_progress, unit)
    in_flight: dict[asyncio.Task, WorkItem] = {}
    try:
        while True:
            for item in ledger.take(max_in_flight - len(in_flight)):
                in_flight[asyncio.create_task(job.process(item))] = item
            if not in_flight:
                break
            finished, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            ledger.settle([outcome(job, in_flight.pop(task), task) for task in finished])
    finally:
        for task in in_flight:
            task.cancel()
        ledger.bar.close()
    return ledger.close()
