"""The config sections every pipeline shares: models, roles, session rules, run, retries, faults, role cards.

Each section declares which of its fields shape records (IDENTITY) and which only place or size the work
(OUTSIDE_IDENTITY); see counselsim.identity.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from counselsim.identity import ConfigSection, corpus_digest, file_digest

Backend = Literal["vllm", "transformers", "openai", "scripted"]

# Engine options that size or place an engine but leave its outputs alone; every other option (dtype,
# max_model_len, revision, quantization, a scripted engine's script, ...) is part of the resume identity.
CAPACITY_OPTIONS = frozenset({
    "max_num_seqs", "max_num_batched_tokens", "gpu_memory_utilization", "tensor_parallel_size",
    "pipeline_parallel_size", "data_parallel_size", "swap_space", "cpu_offload_gb", "enable_prefix_caching",
    "enable_chunked_prefill", "block_size", "enforce_eager", "disable_log_stats",  # vLLM
    "batch_size", "batch_wait_s", "threads",  # transformers
    "base_url", "api_key_env", "timeout_s",  # openai
    "delay_s", "max_batch",  # scripted
})


class ModelConfig(ConfigSection):
    """One model served by one or more engine replicas."""

    IDENTITY = ("path", "backend", "options")
    OUTSIDE_IDENTITY = ("replicas", "num_cpus", "num_gpus", "max_concurrency", "env", "ray_resources")

    path: str = Field(description="HF folder or hub id, 'embedded:smollm2', or the model name an endpoint serves")
    backend: Backend = "vllm"
    replicas: int = Field(default=1, ge=1)
    num_cpus: float = Field(default=1, ge=0, description="Ray CPUs each replica reserves")
    num_gpus: float = Field(default=0, ge=0, description="Ray GPUs each replica reserves; 1 pins one engine per GPU")
    max_concurrency: int = Field(default=256, ge=1, description="calls one replica accepts at once")
    options: dict[str, Any] = Field(default_factory=dict, description="passed to the backend (engine args, base_url, ...)")
    env: dict[str, str] = Field(default_factory=dict, description="environment of the engine actor")
    ray_resources: dict[str, float] = Field(default_factory=dict, description="custom Ray resources each replica needs")

    def identity(self) -> dict[str, Any]:
        options = {k: v for k, v in self.options.items() if k not in CAPACITY_OPTIONS}
        return {"path": self.path, "backend": self.backend, "options": options}


class RoleConfig(ConfigSection):
    IDENTITY = ("model", "temperature", "top_p", "max_tokens", "repetition_penalty", "stop")

    model: str
    temperature: float = Field(default=0.8, ge=0)
    top_p: float = Field(default=0.9, gt=0, le=1)
    max_tokens: int = Field(default=128, ge=1)
    repetition_penalty: float = Field(default=1.0, gt=0)
    stop: list[str] = Field(default_factory=list, description=(
        "strings that end a reply where they first appear, e.g. a line break: σ rejects a counselor reply with a "
        "newline, so stopping there lets the model end on its own instead of being cut at max_tokens"))


class RefinementConfig(ConfigSection):
    """The counselor-reply check σ of the SimPsyDial method."""

    IDENTITY = ("max_attempts", "max_chars_zh", "max_words_en")

    max_attempts: int = Field(default=4, ge=1)
    max_chars_zh: int = Field(default=200, ge=1)
    # Parallel zh/en text runs at roughly 1.6 Chinese characters per English word, so 200 characters ~ 120 words.
    max_words_en: int = Field(default=120, ge=1)


class ResistantClientConfig(ConfigSection):
    """`session.resistant_client`: the reasoning client of `client_mode: resistant` (ResistClient's motivation
    reasoning; counselsim.simpsydial.resistant_client)."""

    IDENTITY = ("profile_field_max_chars", "profile_attempts", "reasoning_max_chars", "utterance_max_chars_zh",
                "utterance_max_chars_en", "attempts")

    profile_field_max_chars: int = Field(default=300, ge=20, description="longest accepted 5P field")
    profile_attempts: int = Field(default=3, ge=1, description="profiler calls before the session is dropped")
    reasoning_max_chars: int = Field(default=240, ge=20, description="longest accepted reasoning step")
    utterance_max_chars_zh: int = Field(default=150, ge=10, description="longest accepted client utterance, Chinese")
    utterance_max_chars_en: int = Field(default=400, ge=10, description="longest accepted client utterance, English")
    attempts: int = Field(default=3, ge=1, description="calls per client turn before the session is dropped")

    def utterance_max_chars(self, lang: str) -> int:
        return self.utterance_max_chars_zh if lang == "zh" else self.utterance_max_chars_en


class SessionConfig(ConfigSection):
    IDENTITY = ("max_turn_pairs", "min_turn_pairs", "opening", "refinement")

    max_turn_pairs: int = Field(default=50, ge=1)
    min_turn_pairs: int = Field(default=10, ge=0)
    opening: dict[str, str] = Field(default_factory=lambda: {"zh": "你好", "en": "Hello"})
    refinement: RefinementConfig = Field(default_factory=RefinementConfig)

    @model_validator(mode="after")
    def _min_below_max(self) -> SessionConfig:
        if self.min_turn_pairs > self.max_turn_pairs:
            raise ValueError("min_turn_pairs must not exceed max_turn_pairs")
        return self


class SimPsyDialSessionConfig(SessionConfig):
    """A generation session's rules, and which client plays: `plain` speaks from the role card (the SimPsyDial
    paper); `resistant` reasons before each utterance (profile reflection, situation awareness, reaction decision:
    ResistClient) from the role card and a 5P profile the `profiler` role builds once per session."""

    IDENTITY = (*SessionConfig.IDENTITY, "client_mode", "resistant_client")

    client_mode: Literal["plain", "resistant"] = "plain"
    resistant_client: ResistantClientConfig = Field(default_factory=ResistantClientConfig)


class RegenerationConfig(ConfigSection):
    """The session rules of a pipeline that only regenerates counselor replies: σ."""

    IDENTITY = ("refinement",)

    refinement: RefinementConfig = Field(default_factory=RefinementConfig)


class RetryConfig(ConfigSection):
    """Engine call retries: a call that finally fails drops its record, which a rerun attempts again."""

    OUTSIDE_IDENTITY = ("attempts", "initial_backoff_s", "max_backoff_s", "timeout_s")

    attempts: int = Field(default=4, ge=1)
    initial_backoff_s: float = Field(default=0.5, ge=0)
    max_backoff_s: float = Field(default=10.0, ge=0)
    timeout_s: float = Field(default=300.0, gt=0, description="one engine call")


class FaultConfig(ConfigSection):
    """Injected engine faults, for chaos tests of a real deployment. Shares are per call."""

    OUTSIDE_IDENTITY = ("error_share", "timeout_share", "garbage_share", "seed", "stall_after_calls", "slow_factor",
                        "replicas")

    error_share: float = Field(default=0.0, ge=0, le=1)
    timeout_share: float = Field(default=0.0, ge=0, le=1)
    garbage_share: float = Field(default=0.0, ge=0, le=1)
    seed: int = 0
    stall_after_calls: int = Field(default=0, ge=0, description=(
        "the engine stops answering after this many calls, its process alive (once: its replacement is healthy); "
        "0: never"))
    slow_factor: float = Field(default=1.0, ge=1, description="every call takes this many times as long")
    replicas: list[int] | None = Field(default=None, description=(
        "the replicas (session groups, from 0) that stall and slow_factor apply to; default: all"))


class RunConfig(ConfigSection):
    """Where a run writes and how it runs; of all this only the seed shapes records."""

    IDENTITY = ("seed",)
    OUTSIDE_IDENTITY = ("output", "rows_per_shard", "max_in_flight", "max_attempts_factor", "progress", "executor",
                        "license", "stall_timeout_s")

    seed: int = 0
    output: str
    rows_per_shard: int = Field(default=256, ge=1)
    max_in_flight: int | None = Field(default=None, ge=1, description=(
        "sessions in flight per engine replica; default: 1.5x the engine's batch (vLLM max_num_seqs, "
        "transformers batch_size), or 64 for an endpoint"))
    max_attempts_factor: float = Field(default=3.0, ge=1, description="give up after sessions x factor attempts")
    progress: bool = True
    executor: Literal["ray", "local"] = Field(default="ray", description="'local' runs engines in this process, without Ray")
    license: str = Field(default="cc-by-4.0", description="license field of the dataset card")
    stall_timeout_s: float = Field(default=300.0, gt=0, description=(
        "a session group whose engines return nothing for this long while calls are pending is replaced and its "
        "sessions run again (Ray executor)"))

    @property
    def inputs(self) -> list[str]:
        """The corpora this run reads (none: it generates)."""
        return []


class GenerationRunConfig(RunConfig):
    """A run that generates records: asking for more sessions extends the same corpus."""

    OUTSIDE_IDENTITY = (*RunConfig.OUTSIDE_IDENTITY, "sessions")

    sessions: int = Field(ge=1, description="sessions to deliver")


class TransformRunConfig(RunConfig):
    """A run that transforms a corpus, one record per input record; the input enters the identity by content."""

    IDENTITY = (*RunConfig.IDENTITY, "input")

    input: str | None = Field(default=None, validate_default=True, description="the corpus to transform (--input)")

    @field_validator("input")
    @classmethod
    def _input_given(cls, value: str | None) -> str:
        if not value:
            raise ValueError("required: the corpus to transform (set run.input or pass --input)")
        return value

    @property
    def inputs(self) -> list[str]:
        assert self.input is not None
        return [self.input]

    def identity(self) -> dict[str, Any]:
        return {"seed": self.seed, "input": corpus_digest(self.input, "run.input")}


class RoleCardsConfig(ConfigSection):
    IDENTITY = ("pools", "languages")

    pools: list[str] = Field(min_length=1)
    languages: list[Literal["zh", "en"]] = Field(default_factory=lambda: ["zh", "en"])

    def identity(self) -> dict[str, Any]:
        pools = [file_digest(p, f"role_cards.pools.{i}") for i, p in enumerate(self.pools)]
        return {"pools": pools, "languages": self.languages}
