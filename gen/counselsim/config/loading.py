"""Loading a pipeline config: YAML validated by the config model of its `pipeline:` kind, with command-line
overrides. Every error names the file, the YAML line where one is known, and the dotted field path."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from counselsim import safe_yaml
from counselsim.config.messages import duplicate_key, format_validation_error, line_of
from counselsim.config.pipelines import PIPELINES, PipelineConfig
from counselsim.errors import InputError


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


def load_config(path: str | Path, overrides: list[str] | None = None) -> PipelineConfig:
    """The validated config of a YAML file after `key.path=value` overrides; InputError otherwise."""
    path = Path(path)
    raw = safe_yaml.read_config(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        root, data = safe_yaml.load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(e, "problem", None) or e
        context, context_mark = getattr(e, "context", None), getattr(e, "context_mark", None)
        if context and context_mark:
            problem = f"{problem} ({context} on line {context_mark.line + 1})"
        raise InputError(f"{where}: invalid YAML: {problem}") from None
    duplicate = duplicate_key(root)
    if duplicate:
        key, line, first = duplicate
        raise InputError(f"{path}:{line}: field '{key}': given twice (first on line {first}); only one may stay")
    if data is None:
        raise InputError(f"{path}: config file is empty")
    if not isinstance(data, dict):
        raise InputError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    for assignment in overrides or []:
        apply_override(data, assignment)
    return parse_config(data, str(path), root)


def parse_config(data: dict[str, Any], source: str = "config", yaml_root: yaml.Node | None = None) -> PipelineConfig:
    """The config model of the `pipeline:` kind of `data`, validated; errors name `source`, the line and the field."""
    kind = data.get("pipeline")
    if kind not in PIPELINES:
        line = line_of(yaml_root, ("pipeline",)) if yaml_root is not None else None
        problem = "missing" if kind is None else f"unknown pipeline {kind!r}"
        where = f"{source}:{line}" if line else source
        raise InputError(f"{where}: field 'pipeline': {problem}; one of {', '.join(PIPELINES)}")
    try:
        return PIPELINES[kind].model_validate(data)
    except ValidationError as e:
        raise InputError(format_validation_error(source, e, yaml_root)) from None
