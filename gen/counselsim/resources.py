"""Loading the data files that ship with the package: prompt templates, phrase lists, taxonomies."""
from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from typing import Any

import yaml

_PLACEHOLDER = re.compile(r"\{([a-z_0-9]+)\}")


def data_path(*parts: str):
    """A file under the package's data/ folder."""
    return files("counselsim").joinpath("data", *parts)


@cache
def read_text(*parts: str) -> str:
    return data_path(*parts).read_text(encoding="utf-8")


@cache
def read_yaml(*parts: str) -> Any:
    return yaml.safe_load(read_text(*parts))


def render(template: str, **values: object) -> str:
    """Fill `{name}` placeholders. Unlike str.format, braces in values and unknown text are left alone,
    and a placeholder without a value is an error."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"template placeholder '{name}' has no value")
        return str(values[name])

    return _PLACEHOLDER.sub(fill, template)


def prompt(language: str, name: str, **values: object) -> str:
    return render(read_text("prompts", language, f"{name}.txt"), **values).strip()
