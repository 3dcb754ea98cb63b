"""Building an engine from its configured backend name; heavy imports happen only for the backend in use."""
from __future__ import annotations

from typing import Any

from counselsim.engines.base import Engine


def make_engine(backend: str, path: str, options: dict[str, Any]) -> Engine:
    if backend == "vllm":
        from counselsim.engines.vllm_engine import VLLMEngine

        return VLLMEngine(path, **options)
    if backend == "transformers":
        from counselsim.engines.transformers_engine import TransformersEngine

        return TransformersEngine(path, **options)
    if backend == "openai":
        from counselsim.engines.openai_engine import OpenAIEngine

        return OpenAIEngine(path, **options)
    if backend == "scripted":
        from counselsim.engines.scripted import ScriptedEngine

        return ScriptedEngine(**options)
    raise ValueError(f"unknown backend '{backend}'")
