"""vLLM backend: an AsyncLLM with continuous batching and prefix caching, fed by many concurrent sessions."""
from __future__ import annotations

import os
import time
import uuid
from typing import Any

from counselsim.engines.base import Completion, ContextOverflowError, EngineError, Message, Sampling
from counselsim.engines.models import resolve

# What a CPU-only machine needs; GPU users leave these unset (see the README). bfloat16 runs ~3x slower than
# float32 on CPUs without native bf16 (measured 36 vs 116 tok/s at 64 concurrent here); torch.compile adds ~50 s
# to start for ~5%. vLLM for CPUs kills its engine core ("CPU Generator does not use offset") when a seeded
# request is prefilled in chunks, so chunked prefill is off and a step may take a whole max-length prompt.
# Prefix caching reuses whole KV blocks only; vLLM's CPU default of 128-token blocks re-prefills ~64 tokens of
# history per call on average, 32-token blocks made a 16-session run 16% faster here.
CPU_DEFAULTS = {"enforce_eager": True, "dtype": "float32", "max_model_len": 4096, "max_num_seqs": 64,
                "enable_chunked_prefill": False, "max_num_batched_tokens": 4096, "block_size": 32}


class _SchedulerStats:
    """A vLLM stat logger that keeps the running batch size and prefix-cache hits for the benchmark."""

    def __init__(self) -> None:
        self.iterations = 0
        self.running_sum = 0
        self.prefix_queries = 0
        self.prefix_hits = 0
        self.generation_tokens = 0

    def factory(self):
        from vllm.v1.metrics.loggers import StatLoggerBase

        stats = self

        class Logger(StatLoggerBase):
            def __init__(self, vllm_config, engine_index: int = 0) -> None:
                pass

            def record(self, scheduler_stats, iteration_stats, mm_cache_stats=None, engine_idx: int = 0) -> None:
                if scheduler_stats is not None and scheduler_stats.num_running_reqs:
                    stats.iterations += 1
                    stats.running_sum += scheduler_stats.num_running_reqs
                    prefix = scheduler_stats.prefix_cache_stats
                    stats.prefix_queries += prefix.queries
                    stats.prefix_hits += prefix.hits
                if iteration_stats is not None:
                    stats.generation_tokens += iteration_stats.num_generation_tokens

            def log_engine_initialized(self) -> None:
                pass

        return Logger

    def as_dict(self) -> dict[str, Any]:
        return {
            "mean_running_batch": self.running_sum / self.iterations if self.iterations else 0.0,
            "prefix_cache_hit_rate": self.prefix_hits / self.prefix_queries if self.prefix_queries else 0.0,
            "generation_tokens": self.generation_tokens,
            "iterations": self.iterations,
        }


class VLLMEngine:
    supports_structured_output = True

    def __init__(self, path: str, **options: Any) -> None:
        from vllm import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        on_cpu = not _has_cuda()
        args = {**(CPU_DEFAULTS if on_cpu else {}), "enable_prefix_caching": True, **options}
        args.setdefault("disable_log_stats", False)
        self.stats_logger = _SchedulerStats()
        self.engine = AsyncLLM.from_engine_args(
            AsyncEngineArgs(model=resolve(path), **args), stat_loggers=[self.stats_logger.factory()]
        )
        self.tokenizer = self.engine.get_tokenizer()
        self.max_model_len = self.engine.model_config.max_model_len
        self.max_batch = self.engine.vllm_config.scheduler_config.max_num_seqs
        self.last_output_at: float | None = None

    async def generate(self, messages: list[Message], sampling: Sampling) -> Completion:
        from vllm import SamplingParams, TokensPrompt
        from vllm.sampling_params import StructuredOutputsParams

        ids = chat_token_ids(self.tokenizer, messages)
        if len(ids) >= self.max_model_len:
            raise ContextOverflowError(f"prompt of {len(ids)} tokens does not fit the context of {self.max_model_len}")
        structured = None
        if sampling.json_schema is not None:
            structured = StructuredOutputsParams(json=sampling.json_schema, disable_any_whitespace=True)
        elif sampling.choices:
            structured = StructuredOutputsParams(choice=list(sampling.choices))
        params = SamplingParams(
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=min(sampling.max_tokens, self.max_model_len - len(ids)),
            seed=sampling.seed,
            repetition_penalty=sampling.repetition_penalty,
            stop=list(sampling.stop) or None,
            structured_outputs=structured,
        )
        final = None
        try:
            async for out in self.engine.generate(TokensPrompt(prompt_token_ids=ids), params, uuid.uuid4().hex):
                final = out
                self.last_output_at = time.monotonic()
        except ValueError as e:  # vLLM's own input validation, e.g. a prompt beyond the context
            raise ContextOverflowError(str(e)) from None
        except Exception as e:
            raise EngineError(f"vLLM generate failed: {e!r}") from e
        if final is None or not final.outputs:
            raise EngineError("vLLM returned no output")
        choice = final.outputs[0]
        return Completion(
            text=choice.text,
            prompt_tokens=len(ids),
            completion_tokens=len(choice.token_ids),
            finish_reason=choice.finish_reason or "stop",
        )

    async def stats(self) -> dict[str, Any]:
        return self.stats_logger.as_dict()

    async def close(self) -> None:
        # Drop our reference too: AsyncLLM.__del__ shuts down again, and run at interpreter exit it fails noisily.
        engine, self.engine = self.engine, None
        engine.shutdown()


def chat_token_ids(tokenizer: Any, messages: list[Message]) -> list[int]:
    """The prompt's token ids under the model's chat template, ending with the assistant's turn opening."""
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if hasattr(ids, "input_ids"):  # some tokenizers return a BatchEncoding
        ids = ids["input_ids"]
    return list(ids)


def _has_cuda() -> bool:
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return False
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False
