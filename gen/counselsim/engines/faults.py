"""Fault injection around any engine, for chaos tests: a configurable share of calls raises, hangs or returns
garbage. Deterministic for a given seed and call order."""
from __future__ import annotations

import asyncio
import random
from typing import Any

from counselsim.config import FaultConfig
from counselsim.engines.base import Completion, Engine, EngineError, Message, Sampling

GARBAGE = "\ufffd\ufffd\x00\x07"


class FaultyEngine:
    def __init__(self, inner: Engine, faults: FaultConfig) -> None:
        self.inner = inner
        self.faults = faults
        self.supports_structured_output = inner.supports_structured_output
        self.max_batch = inner.max_batch
        self.rng = random.Random(faults.seed)
        self.injected = {"error": 0, "timeout": 0, "garbage": 0}

    async def generate(self, messages: list[Message], sampling: Sampling) -> Completion:
        roll = self.rng.random()
        f = self.faults
        if roll < f.error_share:
            self.injected["error"] += 1
            raise EngineError("injected engine error")
        if roll < f.error_share + f.timeout_share:
            self.injected["timeout"] += 1
            await asyncio.sleep(3600)  # the caller's timeout fires first
        if roll < f.error_share + f.timeout_share + f.garbage_share:
            self.injected["garbage"] += 1
            return Completion(text=GARBAGE, prompt_tokens=0, completion_tokens=len(GARBAGE))
        return await self.inner.generate(messages, sampling)

    async def stats(self) -> dict[str, Any]:
        return {**await self.inner.stats(), "injected_faults": dict(self.injected)}

    async def close(self) -> None:
        await self.inner.close()
