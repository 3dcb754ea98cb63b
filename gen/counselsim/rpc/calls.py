"""One model call that must return a validated value.

Where the role's engine has guided decoding (vLLM), the call carries the JSON schema and the output is then only
checked; elsewhere the strict parser decides. Either way an output that does not parse is retried a bounded number
of times (with fresh seeds, and some temperature if the role samples greedily) and then reported as Unparseable:
the caller decides whether that drops the session or is recorded.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from counselsim.config import PipelineConfig
from counselsim.engines.base import Completion, ContextOverflowError, Message, Sampling
from counselsim.rpc.meter import StageMeter
from counselsim.rpc.parsing import ParseError
from counselsim.seeds import derive_seed
from counselsim.simpsydial.session import SessionDropped

T = TypeVar("T")
RETRY_TEMPERATURE = 0.7  # a greedy role gets this much on retries, or every retry would repeat the failure


class Caller(Protocol):
    """What the rpc stages need from the engine pool (EnginePool, or a test harness)."""

    async def call(self, role: str, key: str, messages: list[Message], sampling: Sampling) -> Completion: ...

    def supports_structured_output(self, role: str) -> bool: ...


class Unparseable(Exception):
    def __init__(self, stage: str, error: str, text: str) -> None:
        super().__init__(f"{stage}: {error}")
        self.stage = stage
        self.error = error
        self.text = text


@dataclass
class Usage:
    """Tokens one session's rpc calls used."""

    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class Result(Generic[T]):
    value: T
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    raw: str = ""
    guided: bool = False


def role_sampling(cfg: PipelineConfig, role: str) -> Sampling:
    r = cfg.roles[role]
    return Sampling(temperature=r.temperature, top_p=r.top_p, max_tokens=r.max_tokens)


@dataclass
class Context:
    """What every call of one session shares."""

    caller: Caller
    cfg: PipelineConfig
    key: str  # the session id: routes all of a session's calls to one replica
    seed: int
    meter: StageMeter
    usage: Usage = field(default_factory=Usage)

    async def complete(self, stage: str, role: str, messages: list[Message], sampling: Sampling) -> Completion:
        """A plain call, counted for the stage and the session."""
        with self.meter.call(stage) as stats:
            try:
                out = await self.caller.call(role, self.key, messages, sampling)
            except ContextOverflowError as e:
                raise SessionDropped("context_overflow", f"{stage}: {e}") from None
            stats.prompt_tokens += out.prompt_tokens
            stats.completion_tokens += out.completion_tokens
        self.usage.prompt_tokens += out.prompt_tokens
        self.usage.completion_tokens += out.completion_tokens
        return out

    async def parsed(self, stage: str, role: str, messages: list[Message], parse: Callable[[str], T],
                     schema: dict[str, Any], attempts: int, *seed_parts: object) -> Result[T]:
        """Call until `parse` accepts the output, at most `attempts` times; Unparseable after that."""
        guided = self.caller.supports_structured_output(role)
        base = role_sampling(self.cfg, role)
        t0 = time.monotonic()
        prompt_tokens = completion_tokens = 0
        error, text = "no attempt", ""
        for attempt in range(1, attempts + 1):
            temperature = base.temperature if attempt == 1 else max(base.temperature, RETRY_TEMPERATURE)
            sampling = dataclasses.replace(base, temperature=temperature,
                                           seed=derive_seed(self.seed, stage, *seed_parts, attempt),
                                           json_schema=schema if guided else None)
            out = await self.complete(stage, role, messages, sampling)
            prompt_tokens += out.prompt_tokens
            completion_tokens += out.completion_tokens
            text = out.text
            try:
                value = parse(text)
            except ParseError as e:
                self.meter.stage(stage).failed_parses += 1
                error = f"{e} (finish_reason {out.finish_reason})" if out.finish_reason != "stop" else str(e)
                continue
            return Result(value, attempt, prompt_tokens, completion_tokens, time.monotonic() - t0, text, guided)
        raise Unparseable(stage, error, text)
