"""Engines as Ray actors, and the caller sessions use to reach them.

Each configured model gets `replicas` actors. An actor declares its resources (num_gpus=1 pins one engine per
GPU; CPUs otherwise), is restarted by Ray if it dies, and serves many calls at once. Roles naming the same
model share its actors. A session always goes to the same replica, so its growing history hits that replica's
prefix cache. Calls are retried with exponential backoff and bounded by a timeout (tenacity).
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import zlib
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
    def __init__(self, model: ModelConfig, faults: FaultConfig) -> None:
        from counselsim.engines.factory import make_engine
        from counselsim.engines.faults import FaultyEngine

        engine = make_engine(model.backend, model.path, model.options)
        if faults.error_share or faults.timeout_share or faults.garbage_share:
            engine = FaultyEngine(engine, faults)
        self.engine = engine

    def info(self) -> dict[str, Any]:
        return {"node_id": ray.get_runtime_context().get_node_id(),
                "structured_output": self.engine.supports_structured_output, "max_batch": self.engine.max_batch}

    async def generate(self, messages: list[Message], sampling: Sampling) -> Completion:
        return await self.engine.generate(messages, sampling)

    async def stats(self) -> dict[str, Any]:
        return await self.engine.stats()

    async def close(self) -> None:
        await self.engine.close()


_RETRYABLE = (EngineError, RayActorError, asyncio.TimeoutError)


class EnginePool:
    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg
        self.replicas: dict[str, list[Any]] = {}
        for name in sorted({role.model for role in cfg.roles.values()}):
            model = cfg.models[name]
            options = {
                "num_cpus": model.num_cpus,
                "num_gpus": model.num_gpus,
                "max_concurrency": model.max_concurrency,
                "max_restarts": -1,
                "runtime_env": {"env_vars": model.env} if model.env else None,
                "resources": model.ray_resources or None,
                # Replicas go to different nodes where resources allow: one lost node then takes one replica.
                "scheduling_strategy": "SPREAD",
            }
            self.replicas[name] = [EngineActor.options(**options).remote(model, cfg.faults)
                                   for _ in range(model.replicas)]
        self.structured: dict[str, bool] = {}
        self.placement: dict[str, list[str]] = {}
        self.max_batch: dict[str, int | None] = {}

    async def start(self) -> None:
        """Wait until every replica has loaded its model."""
        for name, actors in self.replicas.items():
            infos = await asyncio.gather(*(a.info.remote() for a in actors))
            self.structured[name] = all(i["structured_output"] for i in infos)
            self.max_batch[name] = min((i["max_batch"] for i in infos if i["max_batch"]), default=None)
            self.placement[name] = [i["node_id"] for i in infos]
            log.info("engines ready", extra={"fields": {"model": name, "replicas": len(actors),
                                                       "nodes": sorted({i["node_id"][:8] for i in infos})}})

    @property
    def size(self) -> int:
        return max(len(a) for a in self.replicas.values())

    def engine_batch(self) -> int | None:
        return largest_batch(self.max_batch.values())

    def model_for(self, role: str) -> str:
        return self.cfg.roles[role].model

    def supports_structured_output(self, role: str) -> bool:
        return self.structured.get(self.model_for(role), False)

    async def call(self, role: str, key: str, messages: list[Message], sampling: Sampling) -> Completion:
        """Generate for `role`; `key` (the session id) picks the replica."""
        actors = self.replicas[self.model_for(role)]
        actor = actors[zlib.crc32(key.encode()) % len(actors)]
        try:
            return await call_with_retry(actor, messages, sampling, self.cfg.retry)
        except (RayActorError, asyncio.TimeoutError) as e:
            raise EngineError(f"retries exhausted: {type(e).__name__}: {e}") from None

    async def stats(self) -> dict[str, list[dict[str, Any]]]:
        """Per model, per replica: the node it ran on (at start) and its engine's counters."""
        out = {}
        for name, actors in self.replicas.items():
            stats = await asyncio.gather(*(a.stats.remote() for a in actors))
            out[name] = [{"node_id": node, **s} for node, s in zip(self.placement.get(name, []), stats)]
        return out

    async def close(self) -> None:
        for actors in self.replicas.values():
            for actor in actors:
                try:
                    await asyncio.wait_for(actor.close.remote(), 30)
                except Exception:  # an engine that will not close cleanly is killed below anyway
                    pass
                ray.kill(actor)


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
    """The same surface as EnginePool with engines inside this process and no Ray: for debugging, notebooks and
    fast tests of orchestration. One engine per model; no restarts."""

    def __init__(self, cfg: PipelineConfig) -> None:
        from counselsim.engines.factory import make_engine
        from counselsim.engines.faults import FaultyEngine

        self.cfg = cfg
        self.engines: dict[str, Any] = {}
        for name in sorted({role.model for role in cfg.roles.values()}):
            model = cfg.models[name]
            os.environ.update(model.env)  # what the Ray pool passes as the actor's runtime env
            engine = make_engine(model.backend, model.path, model.options)
            if cfg.faults.error_share or cfg.faults.timeout_share or cfg.faults.garbage_share:
                engine = FaultyEngine(engine, cfg.faults)
            self.engines[name] = engine

    size = 1

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

    async def stats(self) -> dict[str, list[dict[str, Any]]]:
        return {name: [await e.stats()] for name, e in self.engines.items()}

    async def close(self) -> None:
        for engine in self.engines.values():
            await engine.close()
