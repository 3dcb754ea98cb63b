"""Any OpenAI-compatible chat endpoint (`vllm serve`, a hosted API): the model runs elsewhere."""
from __future__ import annotations

import os
from typing import Any

from counselsim.engines.base import Completion, ContextOverflowError, EngineError, Message, Sampling


class OpenAIEngine:
    def __init__(self, path: str, base_url: str, api_key_env: str = "OPENAI_API_KEY",
                 structured_output: bool = True, timeout_s: float = 300.0) -> None:
        from openai import AsyncOpenAI

        self.model = path
        # Guided decoding through `structured_outputs` is a vLLM server extension; turn it off for other servers.
        self.supports_structured_output = structured_output
        self.max_batch = None  # the server batches; its capacity is not visible from here
        self.last_output_at = None  # replies are not streamed: the stall watch goes by finished calls
        self.client = AsyncOpenAI(base_url=base_url, api_key=os.environ.get(api_key_env, "EMPTY"), timeout=timeout_s,
                                  max_retries=0)  # retries are ours (tenacity), not the client's
        self._completion_tokens = 0

    async def generate(self, messages: list[Message], sampling: Sampling) -> Completion:
        import openai

        extra: dict[str, Any] = {}
        if sampling.repetition_penalty != 1.0:  # a vLLM server extension
            extra["repetition_penalty"] = sampling.repetition_penalty
        if self.supports_structured_output and sampling.json_schema is not None:
            extra["structured_outputs"] = {"json": sampling.json_schema}
        elif self.supports_structured_output and sampling.choices:
            extra["structured_outputs"] = {"choice": list(sampling.choices)}
        try:
            response = await self.client.chat.completions.create(
                model=self.model,
                messages=messages,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_tokens,
                seed=sampling.seed,
                stop=list(sampling.stop) or None,
                extra_body=extra or None,
            )
        except openai.BadRequestError as e:
            if "context" in str(e).lower() or "too long" in str(e).lower():
                raise ContextOverflowError(str(e)) from None
            raise EngineError(f"endpoint rejected the request: {e}") from e
        except openai.OpenAIError as e:
            raise EngineError(f"endpoint call failed: {e!r}") from e
        if not response.choices:
            raise EngineError("endpoint returned no choices")
        choice = response.choices[0]
        usage = response.usage
        self._completion_tokens += usage.completion_tokens if usage else 0
        return Completion(
            text=choice.message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            finish_reason=choice.finish_reason or "stop",
        )

    async def stats(self) -> dict[str, Any]:
        return {"generation_tokens": self._completion_tokens}

    async def close(self) -> None:
        await self.client.close()
