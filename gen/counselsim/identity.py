"""The resume identity of a run: what shapes its records, declared field by field by the config sections.

Each config section lists in IDENTITY the fields that change what a record says (models, sampling, session rules,
seeds, stage settings) and in OUTSIDE_IDENTITY those that only place or size the work (replicas, GPUs, env,
concurrency, retries, shard size, ...), as vLLM's config classes each declare what their `compute_hash` covers.
Files that shape content enter by their sha256, never by their path: the prompts and taxonomies under the package's
data/ folder, role-card pools, an input corpus's manifest.

The identity is a flat map of dotted paths to values or digests. Its hash names the run (and its session ids); the
map itself is kept in staging/run.json, so a refused resume can say which fields differ.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic_core import to_jsonable_python

from counselsim.errors import InputError, OutputError
from counselsim.resources import data_path

SHOWN_CHANGES = 8  # differing fields a refusal lists before "and N more"


class ConfigSection(BaseModel):
    """A strict config section (unknown keys and non-finite numbers are errors) that declares its identity."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    IDENTITY: ClassVar[tuple[str, ...]] = ()
    OUTSIDE_IDENTITY: ClassVar[tuple[str, ...]] = ()

    def identity(self) -> dict[str, Any]:
        """The declared fields that shape records; sections override this to put a file's digest for its path."""
        return {name: getattr(self, name) for name in self.IDENTITY}


@dataclass(frozen=True)
class Identity:
    fields: dict[str, Any]  # dotted path -> JSON value, or "sha256:<hex>" for a file

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def identity_of(section: ConfigSection) -> Identity:
    return Identity(dict(_flatten(section.identity(), "")))


def _flatten(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, ConfigSection):
        value = value.identity()
    if isinstance(value, Mapping):
        for key, child in value.items():
            name = key.value if isinstance(key, Enum) else str(key)
            yield from _flatten(child, f"{path}.{name}" if path else name)
    elif isinstance(value, (list, tuple)):
        for i, child in enumerate(value):
            yield from _flatten(child, f"{path}.{i}")
    else:
        yield path, to_jsonable_python(value)


# --- files by content --------------------------------------------------------------------------------------

_FILE_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: str, field: str) -> str:
    """sha256 of a local file's bytes, cached while its size and mtime stay; `field` names it in errors."""
    try:
        stat = os.stat(path)
        key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns)
        if key not in _FILE_DIGESTS:
            with open(path, "rb") as f:
                _FILE_DIGESTS[key] = "sha256:" + hashlib.sha256(f.read()).hexdigest()
        return _FILE_DIGESTS[key]
    except OSError as e:
        raise InputError(f"{path}: field '{field}': cannot read the file ({e.strerror or e})") from None


def corpus_digest(uri: str, field: str) -> str:
    """An input corpus by content: the sha256 of its manifest.json, which lists every shard's sha256."""
    from counselsim.corpus import (
        storage,  # storage pulls in pyarrow; configs load without it
    )

    manifest = storage.join(uri, "manifest.json")
    try:
        return "sha256:" + hashlib.sha256(storage.read_bytes(manifest)).hexdigest()
    except (OSError, FileNotFoundError) as e:
        raise InputError(f"{uri}: field '{field}': cannot read the corpus manifest ({e})") from None


@cache
def data_digests() -> dict[str, str]:
    """Every file under the package's data/ folder (prompts, phrase lists, taxonomies) by relative path.
    All of them, for every pipeline: a changed data file refuses a resume even where the pipeline may not read it,
    which is safe, where listing the files each pipeline reads would drift from the code that reads them."""
    found: dict[str, str] = {}

    def walk(node, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            name = f"{prefix}/{child.name}" if prefix else child.name
            if child.is_dir():
                if child.name != "__pycache__":
                    walk(child, name)
            else:
                found[name] = "sha256:" + hashlib.sha256(child.read_bytes()).hexdigest()

    walk(data_path(), "")
    return found


# --- resume -------------------------------------------------------------------------------------------------

def changes(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """`path old -> new` for every field that differs, in path order."""
    absent = "(absent)"
    return [f"{path} {_shown(recorded.get(path, absent))} -> {_shown(current.get(path, absent))}"
            for path in sorted(set(recorded) | set(current)) if recorded.get(path, absent) != current.get(path, absent)]


def _shown(value: Any) -> str:
    if isinstance(value, str) and value.startswith("sha256:"):
        return value[:19]  # "sha256:" and 12 hex digits tell two files apart
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


def check_resume(recorded_run: Mapping[str, Any] | None, identity: Identity, output: str) -> None:
    """Refuse to continue a run in `output` made with another identity, naming the fields that differ."""
    if recorded_run is None or recorded_run.get("config_hash") == identity.digest:
        return
    recorded = recorded_run.get("identity")
    if not isinstance(recorded, dict):
        detail = f"hash {recorded_run.get('config_hash')}, now {identity.digest}; it predates recorded identities"
    else:
        diff = changes(recorded, identity.fields)
        more = f"; and {len(diff) - SHOWN_CHANGES} more" if len(diff) > SHOWN_CHANGES else ""
        detail = "; ".join(diff[:SHOWN_CHANGES]) + more
    raise OutputError(f"{output} holds a run made with another configuration: {detail}; "
                      "choose another output or delete it")
