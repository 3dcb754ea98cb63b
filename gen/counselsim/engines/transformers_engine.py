"""transformers backend: batched `generate` for machines where vLLM cannot be installed.

Requests queue up and are served in batches of the same sampling settings; `generate` runs in a worker thread
so the event loop (and the Ray actor) keeps accepting calls. No guided decoding: callers parse strictly.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from counselsim.engines.base import Completion, ContextOverflowError, EngineError, Message, Sampling
from counselsim.engines.models import resolve


class TransformersEngine:
    supports_structured_output = False

    def __init__(self, path: str, batch_size: int = 32, batch_wait_s: float = 0.05, max_model_len: int = 4096,
                 dtype: str = "float32", threads: int | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        local = resolve(path)
        self.tokenizer = AutoTokenizer.from_pretrained(local, padding_side="left")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(local, dtype=getattr(torch, dtype)).eval()
        self.max_batch = batch_size
        self.last_output_at: float | None = None  # set as each batch finishes (generate is not streamed)
        self.batch_wait_s = batch_wait_s
        self.max_model_len = max_model_len
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self._batches = 0
        self._batched_requests = 0
        self._generation_tokens = 0

    async def generate(self, messages: list[Message], sampling: Sampling) -> Completion:
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        if len(ids) >= self.max_model_len:
            raise ContextOverflowError(f"prompt of {len(ids)} tokens does not fit the context of {self.max_model_len}")
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._serve())
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((list(ids), sampling, future))
        return await future

    async def _serve(self) -> None:
        assert self._queue is not None
        held: list = []
        while True:
            first = held.pop(0) if held else await self._queue.get()
            key = _batch_key(first[1])
            batch = [first]
            deadline = time.monotonic() + self.batch_wait_s
            while len(batch) < self.max_batch:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), timeout)
                except asyncio.TimeoutError:
                    break
                (batch if _batch_key(item[1]) == key else held).append(item)
            try:
                results = await asyncio.to_thread(self._run_batch, [b[0] for b in batch], first[1])
            except Exception as e:
                for _, _, fut in batch:
                    if not fut.done():
                        fut.set_exception(EngineError(f"transformers generate failed: {e!r}"))
                continue
            for (_, _, fut), result in zip(batch, results):
                if not fut.done():
                    fut.set_result(result)

    def _run_batch(self, prompts: list[list[int]], sampling: Sampling) -> list[Completion]:
        import torch

        enc = self.tokenizer.pad({"input_ids": prompts}, return_tensors="pt")
        width = enc["input_ids"].shape[1]
        max_new = max(1, min(sampling.max_tokens, self.max_model_len - width))
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        with torch.inference_mode():
            out = self.model.generate(
                **enc,
                max_new_tokens=max_new,
                do_sample=sampling.temperature > 0,
                temperature=sampling.temperature if sampling.temperature > 0 else None,
                top_p=sampling.top_p if sampling.temperature > 0 else None,
                repetition_penalty=sampling.repetition_penalty,
                pad_token_id=self.tokenizer.pad_token_id,
                **({"stop_strings": list(sampling.stop), "tokenizer": self.tokenizer} if sampling.stop else {}),
            )
        results = []
        for prompt, row in zip(prompts, out[:, width:].tolist()):
            tokens = _until_eos(row, self.tokenizer.eos_token_id, self.tokenizer.pad_token_id)
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            finish = "length" if len(tokens) == max_new else "stop"
            cut = min((i for s in sampling.stop if (i := text.find(s)) >= 0), default=-1)
            if cut >= 0:  # generation stopped on a stop string: the reply ends before it, as in vLLM
                text, finish = text[:cut], "stop"
            results.append(Completion(text=text, prompt_tokens=len(prompt), completion_tokens=len(tokens),
                                      finish_reason=finish))
        self._batches += 1
        self._batched_requests += len(prompts)
        self._generation_tokens += sum(r.completion_tokens for r in results)
        self.last_output_at = time.monotonic()
        return results

    async def stats(self) -> dict[str, Any]:
        return {
            "mean_running_batch": self._batched_requests / self._batches if self._batches else 0.0,
            "generation_tokens": self._generation_tokens,
            "batches": self._batches,
        }

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()


def _batch_key(s: Sampling) -> tuple:
    return (s.temperature, s.top_p, s.max_tokens, s.repetition_penalty, s.stop)


def _until_eos(tokens: list[int], eos: int | None, pad: int | None) -> list[int]:
    for i, t in enumerate(tokens):
        if t == eos or t == pad:
            return tokens[:i]
    return tokens
