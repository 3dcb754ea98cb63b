"""A corpus checked against its manifest: the one place `verify` and every corpus reader get their answer from.

The manifest must be a JSON object whose `shards` list names each shard once, as `data/<file>.parquet`, with its
`rows`, `bytes` and `sha256`. A shard is good when it is there, stays inside the corpus after symlinks are
resolved, and has the listed size, checksum and row count; a Parquet file in `data/` that the manifest does not
list is a finding too, since a reader globbing the folder would pick it up.

Readers (`shards.shard_paths`) refuse a corpus with any finding unless checks are switched off with
`unverified()`, which the commands' `--no-verify` flag does.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from counselsim.corpus import storage
from counselsim.errors import InputError

MANIFEST = "manifest.json"
DATA = "data"
_SHARD_NAME = re.compile(r"^data/[^/\\]+\.parquet$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_checks_on: ContextVar[bool] = ContextVar("counselsim_verify_inputs", default=True)


@dataclass(frozen=True)
class Shard:
    name: str  # as listed: data/shard-00000.parquet
    uri: str
    rows: int
    bytes: int | None
    sha256: str


@contextmanager
def unverified(skip: bool = True) -> Iterator[None]:
    """Within the block, corpus readers use the shards without checking them (`--no-verify`)."""
    token = _checks_on.set(not skip)
    try:
        yield
    finally:
        _checks_on.reset(token)


def checks_on() -> bool:
    return _checks_on.get()


def has_manifest(folder: str) -> bool:
    return storage.exists(storage.join(folder, MANIFEST))


def load_manifest(folder: str) -> dict[str, Any] | None:
    """The manifest as a dict, None when there is none; anything that is not a JSON object is an InputError."""
    uri = storage.join(folder, MANIFEST)
    if not storage.is_remote(uri) and storage.local_path(uri).is_dir():
        raise InputError(f"{uri}: is a folder, not a manifest file")
    if not storage.exists(uri):
        return None
    try:
        manifest = storage.read_json(uri)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{uri}: manifest is not valid JSON ({e})") from None
    except OSError as e:
        raise InputError(f"{uri}: manifest cannot be read ({e.strerror or e})") from None
    if not isinstance(manifest, dict):
        raise InputError(f"{uri}: manifest must be a JSON object, got a JSON {type(manifest).__name__}")
    return manifest


def listed_shards(folder: str, manifest: dict[str, Any]) -> list[Shard]:
    """The manifest's shard entries; a malformed entry is an InputError naming its index and field."""
    where = storage.join(folder, MANIFEST)
    entries = manifest.get("shards")
    if not isinstance(entries, list):
        raise InputError(f"{where}: field 'shards': must be a list of shard entries, got {_kind(entries)}")
    shards = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InputError(f"{where}: field 'shards.{i}': must be an object, got {_kind(entry)}")
        name, rows, size, digest = (entry.get(k) for k in ("name", "rows", "bytes", "sha256"))
        for field, value, ok, wanted in (
            ("name", name, isinstance(name, str), "a string"),
            ("rows", rows, _count(rows), "a whole number ≥ 0"),
            ("bytes", size, size is None or _count(size), "a whole number ≥ 0"),
            ("sha256", digest, isinstance(digest, str) and _SHA256.match(digest), "64 lowercase hex digits"),
        ):
            if not ok:
                got = "missing" if field not in entry else f"got {_kind(value)} {value!r}"[:80]
                raise InputError(f"{where}: field 'shards.{i}.{field}': must be {wanted}, {got}")
        shards.append(Shard(name, storage.join(folder, *name.split("/")), rows, size, digest))
    return shards


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def check_corpus(folder: str, deep: bool = False) -> list[str]:
    """Every mismatch between the corpus at `folder` and its manifest, one readable line each; empty when all is
    well. `deep` also reads every shard in full (readability, record type, Arrow schema), as `verify` does."""
    manifest = load_manifest(folder)
    if manifest is None:
        raise InputError(f"{storage.join(folder, MANIFEST)}: no manifest (an unfinished or foreign corpus)")
    shards = listed_shards(folder, manifest)
    problems: list[str] = []
    seen: set[str] = set()
    for shard in shards:
        if shard.name in seen:
            problems.append(f"{shard.name}: listed in the manifest more than once")
            continue
        seen.add(shard.name)
        problem = _shard_problem(folder, shard)
        if problem is None and deep:
            problem = _content_problem(shard, manifest.get("record_type"))
        if problem:
            problems.append(f"{shard.name}: {problem}")
    for path in storage.list_files(storage.join(folder, DATA), "*.parquet"):
        name = f"{DATA}/{path.replace(chr(92), '/').rsplit('/', 1)[-1]}"
        if name not in seen:
            problems.append(f"{name}: shard not listed in the manifest")
    rows = sum(s.rows for s in shards)
    counted = manifest.get("counts", {}).get("rows") if isinstance(manifest.get("counts"), dict) else None
    if counted is not None and counted != rows:
        problems.append(f"manifest: counts.rows={counted!r} but its shards hold {rows}")
    return problems


def _shard_problem(folder: str, shard: Shard) -> str | None:
    """Why a listed shard is not the file the manifest describes (checked without parsing it), or None."""
    if not _SHARD_NAME.match(shard.name) or ".." in shard.name.split("/"):
        return "shard names must be data/<file>.parquet inside the corpus"
    if not storage.is_remote(shard.uri):
        path = storage.local_path(shard.uri)
        if path.is_symlink() and not _inside(path.resolve(), storage.local_path(folder).resolve()):
            return f"a symlink to {path.resolve()}, outside the corpus"
        if not path.is_file():
            return "listed in the manifest but missing"
    elif not storage.exists(shard.uri):
        return "listed in the manifest but missing"
    data = storage.read_bytes(shard.uri)
    digest = hashlib.sha256(data).hexdigest()
    if digest != shard.sha256:
        return f"checksum {digest[:12]}… differs from the manifest's {shard.sha256[:12]}…"
    if shard.bytes is not None and len(data) != shard.bytes:
        return f"{len(data)} bytes, manifest says {shard.bytes}"
    try:
        rows = pq.ParquetFile(pa.BufferReader(data)).metadata.num_rows
    except (pa.ArrowInvalid, OSError) as e:
        return f"unreadable Parquet ({e})"
    if rows != shard.rows:
        return f"{rows} rows, manifest says {shard.rows}"
    return None


def _content_problem(shard: Shard, expected_type: Any) -> str | None:
    from counselsim.corpus.shards import record_type
    from counselsim.schemas.arrow import schema_for

    try:
        table = storage.read_parquet(shard.uri)
    except (pa.ArrowInvalid, OSError) as e:
        return f"unreadable Parquet ({e})"
    found = record_type(table.schema)
    if found != expected_type:
        return f"record type {found!r}, manifest says {expected_type!r}"
    expected_schema = schema_for(found) if found else None
    if expected_schema is not None and not table.schema.equals(expected_schema, check_metadata=False):
        written, current = _schema_version(table.schema), _schema_version(expected_schema)
        if written != current:
            return (f"written with {found} schema version {written}, this counselsim reads version {current}: "
                    "make it again, or read it with the counselsim that wrote it")
        return f"schema differs from the {found} schema"
    return None


def _schema_version(schema: pa.Schema) -> str:
    return (schema.metadata or {}).get(b"counselsim.schema_version", b"none").decode()


def verified_shards(folder: str) -> list[str]:
    """The shard files of the corpus at `folder`, in manifest order, after checking them all; any finding is an
    InputError listing them."""
    problems = check_corpus(folder)
    if problems:
        listing = "\n".join(f"  {p}" for p in problems)
        raise InputError(f"{folder}: the corpus does not match its manifest ({len(problems)} problems; "
                         f"`counselsim verify` tells more, --no-verify reads it anyway):\n{listing}")
    return [s.uri for s in listed_shards(folder, load_manifest(folder) or {})]


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
