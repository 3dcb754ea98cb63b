"""The one role caller: every model call of every role (client, counselor, profiler, rewriter, labeler, builder,
judge) goes through here.

It owns what the callers used to copy: the `Sampling` built from a role config (`sampling_for`), per-call seeds
derived from the work item's seed (so a result is the same whichever replica serves it), per-stage usage, the
check-and-regenerate loop for replies that must pass a check (`reply`, the σ loop) and the parse-and-retry loop
for structured answers (`parsed`: guided decoding where the engine has it, strict parsing otherwise).

A completion that stopped at its token limit (`finish_reason == "length"`) is never an accepted reply: it is
rejected as "truncated" and regenerated. ContextOverflowError and EngineError propagate: retrying here cannot help
with the first, and the pool has already retried the second; the runner counts both as drops.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from counselsim.config import RoleConfig
from counselsim.engines.base import Completion, Message, Sampling
from counselsim.engines.meter import StageMeter
from counselsim.engines.parsing import ParseError
from counselsim.seeds import derive_seed

T = TypeVar("T")
RETRY_TEMPERATURE = 0.7  # a greedy role gets this much on retries, or every retry would repeat the failure
TRUNCATED = "truncated"  # the rejection reason of a reply that stopped at max_tokens


class Caller(Protocol):
    """What the role caller needs from the engines: an engine pool (LocalEnginePool, PlacedEnginePool), a session
    worker's call watch, or a test harness."""

    async def call(self, role: str, key: str, messages: list[Message], sampling: Sampling) -> Completion: ...

    def supports_structured_output(self, role: str) -> bool: ...


def sampling_for(role: RoleConfig, **overrides: Any) -> Sampling:
    """THE place a Sampling is built from a role config; `overrides` set seed, json_schema, choices or a retry
    temperature."""
    fields: dict[str, Any] = {"temperature": role.temperature, "top_p": role.top_p, "max_tokens": role.max_tokens,
                              "repetition_penalty": role.repetition_penalty, "stop": tuple(role.stop)}
    return Sampling(**{**fields, **overrides})


class Rejected(Exception):
    """Every attempt at a reply was rejected; `reason` is the last rejection, `rejections` counts them all."""

    def __init__(self, role: str, reason: str, rejections: dict[str, int]) -> None:
        super().__init__(f"{role}: {sum(rejections.values())} attempts rejected, last '{reason}'")
        self.role = role
        self.reason = reason
        self.rejections = rejections


class Unparseable(Exception):
    """No attempt's output parsed; `errors` holds each attempt's parse error, `text` the last output."""

    def __init__(self, stage: str, errors: list[str], text: str) -> None:
        super().__init__(f"{stage}: {errors[-1] if errors else 'no attempt'}")
        self.stage = stage
        self.errors = errors
        self.error = errors[-1] if errors else "no attempt"
        self.text = text


@dataclass
class Reply:
    """An accepted reply and what it took: attempts, tokens and latency of all attempts, rejections by reason."""

    text: str
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    finish_reason: str
    rejections: dict[str, int] = field(default_factory=dict)


@dataclass
class Parsed(Generic[T]):
    value: T
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    raw: str
    finish_reason: str
    guided: bool


Check = Callable[[str], str | None]  # a reply -> the reason it is rejected, or None


class RoleCaller:
    """The model calls of one work item (a session, a complaint): all routed by `key` to one replica, seeded from
    `seed`, and counted into `meter` per stage and into this object's token and rejection totals."""

    def __init__(self, caller: Caller, roles: Mapping[str, RoleConfig], key: str, seed: int,
                 meter: StageMeter | None = None) -> None:
        self.caller = caller
        self.roles = roles
        self.key = key
        self.seed = seed
        self.meter = meter if meter is not None else StageMeter()
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.rejections: dict[str, int] = {}

    def guided(self, role: str) -> bool:
        """Whether the role's engine decodes to a JSON schema or a choice list."""
        return self.caller.supports_structured_output(role)

    def call_seed(self, *seed_parts: object, attempt: int) -> int:
        return derive_seed(self.seed, *seed_parts, attempt)

    async def complete(self, role: str, messages: list[Message], sampling: Sampling,
                       stage: str | None = None) -> Completion:
        """A plain call, counted for the stage (default: the role) and the work item."""
        with self.meter.call(stage or role) as stats:
            out = await self.caller.call(role, self.key, messages, sampling)
            stats.prompt_tokens += out.prompt_tokens
            stats.completion_tokens += out.completion_tokens
        self.prompt_tokens += out.prompt_tokens
        self.completion_tokens += out.completion_tokens
        return out

    async def reply(self, role: str, messages: list[Message], check: Check, *seed_parts: object, max_attempts: int,
                    clean: Callable[[str], str] = str.strip, stage: str | None = None) -> Reply:
        """Call, clean, check; regenerate with a fresh seed until `check` accepts (returns None) or `max_attempts`
        are spent (Rejected). A length-stopped completion is rejected as "truncated" before `check` sees it."""
        stage = stage or role
        t0 = time.monotonic()
        prompt_tokens = completion_tokens = 0
        rejections: dict[str, int] = {}
        reason = "no attempt"
        for attempt in range(1, max_attempts + 1):
            sampling = sampling_for(self.roles[role], seed=self.call_seed(*seed_parts, attempt=attempt))
            out = await self.complete(role, messages, sampling, stage)
            prompt_tokens += out.prompt_tokens
            completion_tokens += out.completion_tokens
            text = clean(out.text)
            rejected = TRUNCATED if out.finish_reason == "length" else check(text)
            if rejected is None:
                return Reply(text, attempt, prompt_tokens, completion_tokens, time.monotonic() - t0,
                             out.finish_reason, rejections)
            reason = rejected
            rejections[reason] = rejections.get(reason, 0) + 1
            self.rejections[reason] = self.rejections.get(reason, 0) + 1
            self.meter.outcome(stage, f"rejected:{reason}")
        raise Rejected(role, reason, rejections)

    async def parsed(self, role: str, messages: list[Message], parse: Callable[[str], T], *seed_parts: object,
                     attempts: int, schema: dict[str, Any] | None = None, choices: tuple[str, ...] | None = None,
                     stage: str | None = None) -> Parsed[T]:
        """Call until `parse` accepts the output (ParseError otherwise), at most `attempts` times; Unparseable after
        that. Where the engine has guided decoding the call carries `schema` or `choices` and `parse` only checks."""
        stage = stage or role
        guided = self.guided(role)
        base = self.roles[role]
        t0 = time.monotonic()
        prompt_tokens = completion_tokens = 0
        errors: list[str] = []
        text = ""
        for attempt in range(1, attempts + 1):
            temperature = base.temperature if attempt == 1 else max(base.temperature, RETRY_TEMPERATURE)
            sampling = sampling_for(base, temperature=temperature, seed=self.call_seed(*seed_parts, attempt=attempt),
                                    json_schema=schema if guided else None, choices=choices if guided else None)
            out = await self.complete(role, messages, sampling, stage)
            prompt_tokens += out.prompt_tokens
            completion_tokens += out.completion_tokens
            text = out.text
            try:
                value = parse(text)
            except ParseError as e:
                self.meter.stage(stage).failed_parses += 1
                errors.append(f"{e} (finish_reason {out.finish_reason})" if out.finish_reason != "stop" else str(e))
                continue
            return Parsed(value, attempt, prompt_tokens, completion_tokens, time.monotonic() - t0, text,
                          out.finish_reason, guided)
        raise Unparseable(stage, errors, text)
