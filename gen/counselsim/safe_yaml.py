"""YAML for files a user hands us: bounded in size, and without aliases.

An alias (`*name`) repeats an anchored node wherever it appears, so a kilobyte of nested aliases expands into
gigabytes (the "billion laughs"), and an anchor that refers to itself never ends. No shipped config needs them,
so they are refused at the first one, by its line, before anything is built.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from counselsim.errors import InputError

MAX_CONFIG_BYTES = 1 << 20  # a pipeline config is a few KB; anything near this is not one


class AliasError(yaml.MarkedYAMLError):
    """An alias in user YAML; formatted like any YAML error (line and problem)."""


def read_config(path: Path, limit: int = MAX_CONFIG_BYTES) -> bytes:
    """The bytes of a config file; a missing file, a folder, an unreadable or oversized file is an InputError."""
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a config file")
    try:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except FileNotFoundError:
        raise InputError(f"{path}: config file not found") from None
    except OSError as e:
        raise InputError(f"{path}: config file cannot be read ({e.strerror or e})") from None
    if len(raw) > limit:
        raise InputError(f"{path}: config file is larger than {limit // 1024} KiB; is it a config?")
    return raw


def load(text: str) -> tuple[yaml.Node | None, Any]:
    """(node tree, Python data) of a YAML document; an alias is a yaml.YAMLError naming its line."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise AliasError(problem=f"aliases (*{event.anchor}) are not allowed; write the value out",
                             problem_mark=event.start_mark)
    return yaml.compose(text, Loader=yaml.SafeLoader), yaml.safe_load(text)
