"""The engines of one session group and the caller its sessions use to reach them.

A session group (runtime/workers.py) holds one engine per model its roles name. Where the roles share one
model, the engine runs inside the worker's process (LocalEnginePool, also the local executor's pool); where they
name several, each engine is an actor on the worker's node (PlacedEnginePool). Either way every call of a session
stays on one machine and its growing history hits that engine's prefix cache. Calls are retried with exponential
backoff and bounded by a timeout (tenacity).
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
from typing import Any

import ray
from ray.exceptions import RayActorError, RayTaskError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from counselsim.config import FaultConfig, ModelConfig, PipelineConfig, RetryConfig
from counselsim.engines.base import Completion, ContextOverflowError, EngineError, Message, Sampling

log = logging.getLogger(__name__)

_BAD_CHARS = re.compile(r"[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f]")


def is_garbage(text: str) -> bool:
    """Output no caller can use: empty, undecodable, control characters, or neither letters nor digits (a bare
    "5" is a valid guided choice)."""
    return not text.strip() or bool(_BAD_CHARS.search(text)) or not any(ch.isalnum() for ch in text)


@ray.remote
class EngineActor:
    """One model's engine in its own process, beside the session worker that calls it (placed in the worker's
    placement group); Ray restarts it if it dies."""

    def __init__(self, model: ModelConfig, faults: FaultConfig, replica: int) -> None:
        incarnation = int(ray.get_runtime_context().was_current_actor_reconstructed)
        self.engine = make_local_engine(model, faults, replica, incarnation)

    def info(self) -> dict[str, Any]:
        return {"node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid(),
                "structured_output": self.engine.supports_structured_output, "max_batch": self.engine.max_batch}

    async def generate(self, messages: list[Message], sampling: Sampling) -> Completion:
        return await self.engine.generate(messages, sampling)

    async def stats(self) -> dict[str, Any]:
        """The engine's counters and the node it runs on (the manifest shows where each engine was placed)."""
        return {**await self.engine.stats(), "node_id": ray.get_runtime_context().get_node_id()}

    async def close(self) -> None:
        await self.engine.close()


def make_local_engine(model: ModelConfig, faults: FaultConfig, replica: int = 0, incarnation: int = 0) -> Any:
    """The model's engine in this process, wrapped in the fault injector when `faults` apply to `replica`."""
    from counselsim.engines.factory import make_engine
    from counselsim.engines.faults import FaultyEngine, faults_for

    engine = make_engine(model.backend, model.path, model.options)
    own = faults_for(faults, replica, incarnation)
    return FaultyEngine(engine, own) if own else engine


_RETRYABLE = (EngineError, RayActorError, asyncio.TimeoutError)


def engine_models(cfg: PipelineConfig) -> list[str]:
    """The models the roles name, each served by one engine per session group."""
    return sorted({role.model for role in cfg.roles.values()})


class PlacedEnginePool:
    """The engines of one session group as actors on the worker's node (one per model), called with retries."""

    def __init__(self, cfg: PipelineConfig, actors: dict[str, Any]) -> None:
        self.cfg = cfg
        self.actors = actors
        self.structured: dict[str, bool] = {}
        self.max_batch: dict[str, int | None] = {}

    async def start(self) -> None:
        """Wait until every engine has loaded its model."""
        for name, actor in self.actors.items():
            info = await actor.info.remote()
            self.structured[name] = info["structured_output"]
            self.max_batch[name] = info["max_batch"]

    def engine_batch(self) -> int | None:
        return largest_batch(self.max_batch.values())

    def supports_structured_output(self, role: str) -> bool:
        return self.structured.get(self.cfg.roles[role].model, False)

    async def call(self, role: str, key: str, messages: list[Message], sampling: Sampling) -> Completion:
        actor = self.actors[self.cfg.roles[role].model]
        try:
            return await call_with_retry(actor, messages, sampling, self.cfg.retry)
        except (RayActorError, asyncio.TimeoutError) as e:
            raise EngineError(f"retries exhausted: {type(e).__name__}: {e}") from None

    async def stats(self) -> dict[str, list[dict[str, Any]]]:
        """Per model, its engine's counters (a one-item list: the manifest lists every replica's)."""
        return {name: [await actor.stats.remote()] for name, actor in self.actors.items()}

    async def close(self) -> None:
        for actor in self.actors.values():
            try:
                await asyncio.wait_for(actor.close.remote(), 30)
            except Exception:  # an engine that will not close cleanly is killed by the group anyway
                pass


def largest_batch(batches) -> int | None:
    """Sessions per replica that keep every model's engines full: each session waits on one model at a time, so
    the largest engine batch among the models, or None when no engine reports one."""
    return max((b for b in batches if b), default=None)


async def call_with_retry(actor: Any, messages: list[Message], sampling: Sampling, retry: RetryConfig) -> Completion:
    async def once() -> Completion:
        ref = actor.generate.remote(messages, sampling)
        try:
            return await asyncio.wait_for(ref, retry.timeout_s)
        except asyncio.TimeoutError:
            ray.cancel(ref)
            raise
        except RayTaskError as e:
            # The actor re-raises engine exceptions wrapped; unwrap the ones we act on. The message is the engine's
            # own: str() of the wrapper is the actor's whole colored traceback, which buried the reason in drop details.
            cause = e.cause if isinstance(e.cause, BaseException) else e.as_instanceof_cause()
            if isinstance(cause, ContextOverflowError):
                raise ContextOverflowError(str(cause)) from None
            if isinstance(cause, EngineError):
                raise EngineError(str(cause)) from None
            raise EngineError(f"{type(cause).__name__}: {cause}") from None

    return await retrying(once, retry)


async def retrying(once, retry: RetryConfig) -> Completion:
    """Call `once()` until it returns usable output; transient failures back off exponentially, bounded."""
    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(retry.attempts),
        # Waits of initial x 2^n plus up to `initial` of jitter, capped (tenacity's default jitter is a whole second,
        # whatever the configured backoff).
        wait=wait_exponential_jitter(multiplier=retry.initial_backoff_s, max=retry.max_backoff_s,
                                     jitter=retry.initial_backoff_s),
        retry=retry_if_exception_type(_RETRYABLE),
        reraise=True,
    ):
        with attempt:
            out = await once()
            if is_garbage(out.text):
                raise EngineError("garbage output")
            return out
    raise AssertionError("unreachable")


class LocalEnginePool:
    """The engines of one session group inside this process, one per model: the local executor's pool (no Ray),
    and the pool of a session worker whose roles share one model. No restarts."""

    def __init__(self, cfg: PipelineConfig, replica: int = 0, incarnation: int = 0) -> None:
        self.cfg = cfg
        self.engines: dict[str, Any] = {}
        for name in engine_models(cfg):
            model = cfg.models[name]
            os.environ.update(model.env)  # what a Ray actor gets as its runtime env
            self.engines[name] = make_local_engine(model, cfg.faults, replica, incarnation)

    def engine_batch(self) -> int | None:
        return largest_batch(e.max_batch for e in self.engines.values())

    async def start(self) -> None:
        return None

    def supports_structured_output(self, role: str) -> bool:
        return self.engines[self.cfg.roles[role].model].supports_structured_output

    async def call(self, role: str, key: str, messages: list[Message], sampling: Sampling) -> Completion:
        engine = self.engines[self.cfg.roles[role].model]

        async def once() -> Completion:
            return await asyncio.wait_for(engine.generate(messages, sampling), self.cfg.retry.timeout_s)

        try:
            return await retrying(once, self.cfg.retry)
        except asyncio.TimeoutError as e:
            raise EngineError(f"retries exhausted: timeout after {self.cfg.retry.timeout_s}s") from e

    def last_output_at(self) -> float | None:
        """The latest output any of these engines produced (Engine.last_output_at), or None when none says."""
        return max((t for e in self.engines.values() if (t := e.last_output_at) is not None), default=None)

    async def stats(self) -> dict[str, list[dict[str, Any]]]:
        return {name: [await e.stats()] for name, e in self.engines.items()}

    async def close(self) -> None:
        for engine in self.engines.values():
            await engine.close()
