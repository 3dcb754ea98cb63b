"""Fault injection around any engine, for chaos tests: a configurable share of calls raises, hangs or returns
garbage; the engine of chosen replicas can run slower or stall (stop answering with its process alive, as a hung
vLLM engine does). Deterministic for a given seed and call order."""
from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from counselsim.config import FaultConfig
from counselsim.engines.base import Completion, Engine, EngineError, Message, Sampling

GARBAGE = "\ufffd\ufffd\x00\x07"
FOREVER_S = 3600  # a hanging call: the caller's timeout or the stall watch fires first


def faults_for(faults: FaultConfig, replica: int, incarnation: int = 0) -> FaultConfig | None:
    """The faults the engine of `replica` gets, or None when it gets none. A stall is a one-off of the process:
    the replacement engine (`incarnation` > 0) is healthy, as restarting clears a hung vLLM engine."""
    placed = faults.replicas is None or replica in faults.replicas
    own = faults.model_copy(update={"slow_factor": faults.slow_factor if placed else 1.0,
                                    "stall_after_calls": faults.stall_after_calls if placed and not incarnation else 0})
    if own.error_share or own.timeout_share or own.garbage_share or own.stall_after_calls or own.slow_factor > 1:
        return own
    return None


class FaultyEngine:
    def __init__(self, inner: Engine, faults: FaultConfig) -> None:
        self.inner = inner
        self.faults = faults
        self.supports_structured_output = inner.supports_structured_output
        self.max_batch = inner.max_batch
        self.rng = random.Random(faults.seed)
        self.calls = 0
        self.injected = {"error": 0, "timeout": 0, "garbage": 0, "stalled": 0}

    async def generate(self, messages: list[Message], sampling: Sampling) -> Completion:
        f = self.faults
        self.calls += 1
        if f.stall_after_calls and self.calls > f.stall_after_calls:
            self.injected["stalled"] += 1
            await asyncio.sleep(FOREVER_S)
        roll = self.rng.random()
        if roll < f.error_share:
            self.injected["error"] += 1
            raise EngineError("injected engine error")
        if roll < f.error_share + f.timeout_share:
            self.injected["timeout"] += 1
            await asyncio.sleep(FOREVER_S)
        if roll < f.error_share + f.timeout_share + f.garbage_share:
            self.injected["garbage"] += 1
            return Completion(text=GARBAGE, prompt_tokens=0, completion_tokens=len(GARBAGE))
        t0 = time.monotonic()
        out = await self.inner.generate(messages, sampling)
        if f.slow_factor > 1:
            await asyncio.sleep((time.monotonic() - t0) * (f.slow_factor - 1))
        return out

    @property
    def last_output_at(self) -> float | None:
        return self.inner.last_output_at

    async def stats(self) -> dict[str, Any]:
        return {**await self.inner.stats(), "injected_faults": dict(self.injected)}

    async def close(self) -> None:
        await self.inner.close()
