"""The one interface every backend implements: chat messages + sampling -> text + token usage."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class Sampling:
    """How one call samples. Pipelines build it from a role config only through engines.roles.sampling_for."""

    temperature: float = 0.8
    top_p: float = 0.9
    max_tokens: int = 128
    repetition_penalty: float = 1.0
    # Strings that end the reply where they first appear (not included); finish_reason stays "stop".
    stop: tuple[str, ...] = ()
    seed: int | None = None
    # Structured output: a JSON schema or a fixed list of choices. Backends without guided decoding ignore
    # these and the caller parses strictly (see Engine.supports_structured_output).
    json_schema: dict[str, Any] | None = None
    choices: tuple[str, ...] | None = None


@dataclass
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"
    meta: dict[str, Any] = field(default_factory=dict)


class EngineError(Exception):
    """A transient engine failure; the call may be retried."""


class ContextOverflowError(Exception):
    """The prompt does not fit the model's context. Retrying cannot help: the session fails with this reason."""


class Engine(Protocol):
    supports_structured_output: bool
    # Sequences the engine decodes at once (vLLM's max_num_seqs, a transformers batch), or None when unknown
    # (a remote endpoint). By default the pipeline keeps 1.5x this many sessions in flight per replica.
    max_batch: int | None
    # time.monotonic() of the engine's last generated output, for engines that stream it step by step (vLLM);
    # None when unknown. The stall watch reads it, so a slow engine that is still producing tokens is not stalled.
    last_output_at: float | None

    async def generate(self, messages: list[Message], sampling: Sampling) -> Completion: ...

    async def stats(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...
