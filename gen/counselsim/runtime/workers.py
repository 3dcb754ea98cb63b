"""Session workers: the sessions of one replica run in a Ray actor next to their engines.

The driver ships the job once (pickled, at the worker's start) and then only trades work items for outcomes:
`exchange(items)` starts the new items as asyncio tasks running `job.process(item)` against the worker's own
engines and returns what has finished since the last exchange (with the job's worker state, runtime/job.py). A session's turns therefore never leave the node,
and the driver's work per session is O(1) (one item out, one record back, in batches).

The worker also watches its engines: every call is counted while pending, and the time of the last output is
kept, so the driver can tell a stalled engine (calls pending, nothing returned for `run.stall_timeout_s`, process
alive) from a busy one and replace the whole group.
"""
from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import Any

import ray

from counselsim.config import PipelineConfig
from counselsim.engines.base import Completion, Message, Sampling
from counselsim.runtime.job import Job, WorkerState, WorkItem
from counselsim.runtime.runner import Failed, Finished, outcome

# An exchange returns once this share of the worker's capacity has finished (batching records for the driver),
# or after `wait_s` with whatever has (a heartbeat carrying the stall watch).
BATCH_SHARE = 1 / 8


@dataclass
class Report:
    outcomes: list[Finished | Failed]
    in_flight: int
    pending_calls: int  # engine calls started and not returned
    silent_s: float  # seconds since the engines last produced output (CallWatch.silent_s)
    job_state: dict[str, Any] | None  # the job's worker_state() since the last exchange, for a WorkerState job


@dataclass
class CallWatch:
    """Pending engine calls and the time of the last output, around any Caller."""

    inner: Any
    pending: int = 0
    last_output: float = field(default_factory=time.monotonic)

    def supports_structured_output(self, role: str) -> bool:
        return self.inner.supports_structured_output(role)

    def silent_s(self) -> float:
        """Seconds without output: since the last call returned or, for engines that stream (vLLM inside this
        worker), since the last generated token, whichever is later. A slow engine still producing is not silent."""
        streamed = getattr(self.inner, "last_output_at", None)
        last = max(self.last_output, streamed() or 0.0) if streamed else self.last_output
        return time.monotonic() - last

    async def call(self, role: str, key: str, messages: list[Message], sampling: Sampling) -> Completion:
        if self.pending == 0:
            self.last_output = time.monotonic()  # an idle engine is not silent: count from the first pending call
        self.pending += 1
        try:
            out = await self.inner.call(role, key, messages, sampling)
            self.last_output = time.monotonic()
            return out
        finally:
            self.pending -= 1


@dataclass
class Capabilities:
    """What the driver's copy of a job may ask of the engines it never calls (WaiJob reads guided decoding)."""

    structured: dict[str, bool]

    def supports_structured_output(self, role: str) -> bool:
        return self.structured[role]

    async def call(self, role: str, key: str, messages: list[Message], sampling: Sampling) -> Completion:
        raise AssertionError("the driver makes no engine calls: sessions run on the workers")


@ray.remote
class SessionWorker:
    """Runs `job`'s items against `engines` (model -> engine actor on this node) or, when None, against engines
    built inside this process (`replica` and `incarnation` place the injected faults)."""

    def __init__(self, cfg: PipelineConfig, job: Job, run_id: str, replica: int, incarnation: int,
                 engines: dict[str, Any] | None) -> None:
        from counselsim.engines.pool import LocalEnginePool, PlacedEnginePool

        self.pool = LocalEnginePool(cfg, replica, incarnation) if engines is None else PlacedEnginePool(cfg, engines)
        self.watch = CallWatch(self.pool)
        self.job = job
        self.run_id = run_id
        self.roles = list(cfg.roles)
        self.tasks: dict[asyncio.Task, WorkItem] = {}
        self.finished: list[Finished | Failed] = []
        self.wake = asyncio.Event()

    async def start(self) -> dict[str, Any]:
        """Wait for the engines; bind the job to them. Returns where this worker runs and its engines' batch."""
        await self.pool.start()
        self.job.bind(self.watch, self.run_id)
        return {"node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid(),
                "engine_batch": self.pool.engine_batch(),
                "structured": {role: self.pool.supports_structured_output(role) for role in self.roles}}

    def _done(self, task: asyncio.Task) -> None:
        item = self.tasks.pop(task)
        if not task.cancelled():
            self.finished.append(outcome(self.job, item, task))
        self.wake.set()

    async def exchange(self, items: list[WorkItem], capacity: int, wait_s: float) -> Report:
        """Start `items`; return the outcomes finished since the last exchange once about `capacity` x BATCH_SHARE
        have finished, or after `wait_s`."""
        for item in items:
            task = asyncio.create_task(self.job.process(item))
            self.tasks[task] = item
            task.add_done_callback(self._done)
        deadline = time.monotonic() + wait_s
        enough = max(1, int(capacity * BATCH_SHARE))
        while len(self.finished) < enough and self.tasks:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), left)
            except asyncio.TimeoutError:
                break
        out, self.finished = self.finished, []
        job_state = self.job.worker_state() if isinstance(self.job, WorkerState) else None
        return Report(out, len(self.tasks), self.watch.pending, self.watch.silent_s(), job_state)

    async def stats(self) -> dict[str, list[dict[str, Any]]]:
        return await self.pool.stats()

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await self.pool.close()
