"""Shared fixtures. Real-engine fixtures start one engine per test session and are marked `engine`."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import REPO, SHARED

# vLLM for CPUs: both cores, a small KV cache.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "0-1")
os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared() -> Path:
    return SHARED


class LoopThread:
    """An event loop on its own thread, so one async engine can serve many tests (AsyncLLM is bound to the loop
    it starts on, and each `asyncio.run` would make a new one)."""

    def __init__(self) -> None:
        import asyncio
        import threading

        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def run(self, coro, timeout: float = 900):
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


class EngineHarness:
    """One real engine in-process, exposed as the pipelines' caller: `call(role, key, messages, sampling)`."""

    def __init__(self, loop: LoopThread, engine) -> None:
        self.loop = loop
        self.engine = engine

    async def call(self, role, key, messages, sampling):
        return await self.engine.generate(messages, sampling)

    def supports_structured_output(self, role: str) -> bool:
        return self.engine.supports_structured_output

    def run(self, coro, timeout: float = 900):
        return self.loop.run(coro, timeout)


@pytest.fixture(scope="session")
def vllm_engine():
    """The embedded model on vLLM, started once per test session."""
    from counselsim.engines.vllm_engine import VLLMEngine

    loop = LoopThread()

    async def start():
        return VLLMEngine("embedded:smollm2")

    harness = EngineHarness(loop, loop.run(start()))
    yield harness
    loop.run(harness.engine.close())
