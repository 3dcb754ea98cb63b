"""Pipeline configuration: YAML files validated by pydantic, with command-line overrides.

Every error names the file, the YAML line where one is known, and the dotted field path.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from counselsim.errors import InputError

Backend = Literal["vllm", "transformers", "openai", "scripted"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelConfig(_Strict):
    """One model served by one or more engine replicas."""

    path: str = Field(description="HF folder or hub id, 'embedded:smollm2', or the model name an endpoint serves")
    backend: Backend = "vllm"
    replicas: int = Field(default=1, ge=1)
    num_cpus: float = Field(default=1, ge=0, description="Ray CPUs each replica reserves")
    num_gpus: float = Field(default=0, ge=0, description="Ray GPUs each replica reserves; 1 pins one engine per GPU")
    max_concurrency: int = Field(default=256, ge=1, description="calls one replica accepts at once")
    options: dict[str, Any] = Field(default_factory=dict, description="passed to the backend (engine args, base_url, ...)")
    env: dict[str, str] = Field(default_factory=dict, description="environment of the engine actor")
    ray_resources: dict[str, float] = Field(default_factory=dict, description="custom Ray resources each replica needs")


class RoleConfig(_Strict):
    model: str
    temperature: float = Field(default=0.8, ge=0)
    top_p: float = Field(default=0.9, gt=0, le=1)
    max_tokens: int = Field(default=128, ge=1)
    repetition_penalty: float = Field(default=1.0, gt=0)


class RefinementConfig(_Strict):
    """The counselor-reply check σ of the SimPsyDial method."""

    max_attempts: int = Field(default=4, ge=1)
    max_chars_zh: int = Field(default=200, ge=1)
    # Parallel zh/en text runs at roughly 1.6 Chinese characters per English word, so 200 characters ~ 120 words.
    max_words_en: int = Field(default=120, ge=1)


class SessionConfig(_Strict):
    max_turn_pairs: int = Field(default=50, ge=1)
    min_turn_pairs: int = Field(default=10, ge=0)
    opening: dict[str, str] = Field(default_factory=lambda: {"zh": "你好", "en": "Hello"})
    refinement: RefinementConfig = Field(default_factory=RefinementConfig)

    @model_validator(mode="after")
    def _min_below_max(self) -> "SessionConfig":
        if self.min_turn_pairs > self.max_turn_pairs:
            raise ValueError("min_turn_pairs must not exceed max_turn_pairs")
        return self


class RetryConfig(_Strict):
    attempts: int = Field(default=4, ge=1)
    initial_backoff_s: float = Field(default=0.5, ge=0)
    max_backoff_s: float = Field(default=10.0, ge=0)
    timeout_s: float = Field(default=300.0, gt=0, description="one engine call")


class FaultConfig(_Strict):
    """Injected engine faults, for chaos tests of a real deployment. Shares are per call."""

    error_share: float = Field(default=0.0, ge=0, le=1)
    timeout_share: float = Field(default=0.0, ge=0, le=1)
    garbage_share: float = Field(default=0.0, ge=0, le=1)
    seed: int = 0


class RunConfig(_Strict):
    sessions: int | None = Field(default=None, ge=1, description="sessions to deliver (generation)")
    seed: int = 0
    output: str
    input: str | None = Field(default=None, description="corpus to read, for pipelines that transform one")
    rows_per_shard: int = Field(default=256, ge=1)
    max_in_flight: int | None = Field(default=None, ge=1, description=(
        "sessions in flight per engine replica; default: 1.5x the engine's batch (vLLM max_num_seqs, "
        "transformers batch_size), or 64 for an endpoint"))
    max_attempts_factor: float = Field(default=3.0, ge=1, description="give up after sessions x factor attempts")
    progress: bool = True
    executor: Literal["ray", "local"] = Field(default="ray", description="'local' runs engines in this process, without Ray")
    license: str = Field(default="cc-by-4.0", description="license field of the dataset card")


class RoleCardsConfig(_Strict):
    pools: list[str] = Field(min_length=1)
    languages: list[Literal["zh", "en"]] = Field(default_factory=lambda: ["zh", "en"])


REQUIRED_ROLES = {
    "simpsydial": {"client", "counselor"},
    "rpc": {"counselor", "profiler", "rewriter", "labeler"},
    "role_cards": {"builder"},
    "wai": {"judge"},
}


class PipelineConfig(_Strict):
    pipeline: Literal["simpsydial", "rpc", "role_cards", "wai"]
    run: RunConfig
    role_cards: RoleCardsConfig | None = None
    models: dict[str, ModelConfig]
    roles: dict[str, RoleConfig] = Field(description="who plays each role (client, counselor, labeler, ...) and how")
    session: SessionConfig = Field(default_factory=SessionConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    faults: FaultConfig = Field(default_factory=FaultConfig)
    stages: dict[str, dict[str, Any]] = Field(default_factory=dict, description="settings of optional stages")

    @model_validator(mode="after")
    def _roles_name_models(self) -> "PipelineConfig":
        for role, role_cfg in self.roles.items():
            if role_cfg.model not in self.models:
                raise ValueError(f"roles.{role}.model names '{role_cfg.model}', which is not under models ({sorted(self.models)})")
        missing = REQUIRED_ROLES[self.pipeline] - set(self.roles)
        if missing:
            raise ValueError(f"the {self.pipeline} pipeline needs roles {sorted(missing)}")
        if self.pipeline == "simpsydial" and (self.role_cards is None or self.run.sessions is None):
            raise ValueError("the simpsydial pipeline needs role_cards and run.sessions")
        return self

    def generation_hash(self) -> str:
        """Hash of everything that shapes the content of a session; the run size and output place are left out,
        so a rerun that asks for more sessions extends the same corpus."""
        data = self.model_dump(mode="json", exclude={"run": {"sessions", "output", "max_in_flight", "progress", "rows_per_shard", "executor",
                                                              "license", "max_attempts_factor"}})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one `dotted.key=value` override; the value is parsed as YAML (numbers, lists, booleans)."""
    if "=" not in assignment:
        raise InputError(f"override '{assignment}' is not of the form key.path=value")
    key, raw = assignment.split("=", 1)
    parts = key.strip().split(".")
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise InputError(f"override '{assignment}': '{part}' is not a section")
        node = child
    node[parts[-1]] = yaml.safe_load(raw) if raw != "" else ""


def _line_of(root: yaml.Node | None, path: tuple[Any, ...]) -> int | None:
    """The 1-based line of a dotted field path in a composed YAML document, or of its nearest parent."""
    node, line = root, None
    for key in path:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(key)), None)
            if match is None:
                key_node = next((k for k, _ in node.value if k.value == str(key)), None)
                return key_node.start_mark.line + 1 if key_node else line
            line = next(k for k, _ in node.value if k.value == str(key)).start_mark.line + 1
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


_FIELD_IN_MESSAGE = re.compile(r"\b([a-z_]+)(?:\.[A-Za-z0-9_-]+)+")


def _duplicate_key(node: yaml.Node | None, path: tuple[str, ...] = ()) -> tuple[str, int, int] | None:
    """The first key given twice in one mapping, as (dotted path, line, line of the first); YAML itself would
    silently keep the last."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for k, v in node.value:
            key, line = str(k.value), k.start_mark.line + 1
            if key in seen:
                return ".".join((*path, key)), line, seen[key]
            seen[key] = line
            found = _duplicate_key(v, (*path, key))
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            found = _duplicate_key(v, (*path, str(i)))
            if found:
                return found
    return None


def format_validation_error(source: str, err: ValidationError, yaml_root: yaml.Node | None = None) -> str:
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        if not loc and isinstance(yaml_root, yaml.MappingNode):
            # A check across fields has no location of its own; its message names the field it is about.
            named = _FIELD_IN_MESSAGE.search(e["msg"])
            if named and any(k.value == named.group(1) for k, _ in yaml_root.value):
                loc = tuple(named.group(0).split("."))
        field = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(yaml_root, loc) if yaml_root is not None else None
        where = f"{source}:{line}" if line else source
        detail = e["msg"]
        if e["type"] == "extra_forbidden":
            detail = "unknown key"
        elif "input" in e and not isinstance(e["input"], dict):
            detail += f" (got {e['input']!r})"
        lines.append(f"{where}: field '{field}': {detail}")
    return "\n".join(lines)


def load_config(path: str | Path, overrides: list[str] | None = None) -> PipelineConfig:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: config file not found") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(e, "problem", None) or e
        context, context_mark = getattr(e, "context", None), getattr(e, "context_mark", None)
        if context and context_mark:
            problem = f"{problem} ({context} on line {context_mark.line + 1})"
        raise InputError(f"{where}: invalid YAML: {problem}") from None
    duplicate = _duplicate_key(root)
    if duplicate:
        key, line, first = duplicate
        raise InputError(f"{path}:{line}: field '{key}': given twice (first on line {first}); only one may stay")
    if data is None:
        raise InputError(f"{path}: config file is empty")
    if not isinstance(data, dict):
        raise InputError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    for assignment in overrides or []:
        apply_override(data, assignment)
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as e:
        raise InputError(format_validation_error(str(path), e, root)) from None
