"""A corpus on disk: `data/shard-NNNNN.parquet` files plus `manifest.json`, the last file a run writes.

    <out>/manifest.json   config, versions, counts, drop reasons, shard list with rows and sha256
    <out>/README.md       dataset card
    <out>/data/shard-00000.parquet ...
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from counselsim.corpus import integrity, storage
from counselsim.corpus.integrity import DATA, MANIFEST
from counselsim.errors import InputError

log = logging.getLogger(__name__)

SHARD_PATTERN = "shard-*.parquet"
RECORD_KEY = b"counselsim.record"


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.parquet"


def record_type(schema: pa.Schema) -> str | None:
    meta = schema.metadata or {}
    value = meta.get(RECORD_KEY)
    return value.decode() if value else None


class CorpusWriter:
    """Cuts record tables into shards of `rows_per_shard` rows under `<out>/data/`, named by position."""

    def __init__(self, out: str, schema: pa.Schema, rows_per_shard: int) -> None:
        self.out = out
        self.schema = schema
        self.rows_per_shard = rows_per_shard
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self.shards: list[dict[str, Any]] = []

    def add(self, table: pa.Table) -> None:
        if not table.schema.equals(self.schema, check_metadata=False):
            table = table.cast(self.schema)
        self._pending.append(table)
        self._pending_rows += table.num_rows
        while self._pending_rows >= self.rows_per_shard:
            self._flush(self.rows_per_shard)

    def _flush(self, rows: int) -> None:
        combined = pa.concat_tables(self._pending).combine_chunks()
        head, rest = combined.slice(0, rows), combined.slice(rows)
        name = shard_name(len(self.shards))
        info = storage.write_parquet(head.replace_schema_metadata(self.schema.metadata), storage.join(self.out, DATA, name))
        self.shards.append({"name": f"{DATA}/{name}", **info})
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def close(self) -> list[dict[str, Any]]:
        if self._pending_rows:
            self._flush(self._pending_rows)
        # Shards of an earlier, larger version of this corpus would otherwise linger beside the new ones.
        keep = {s["name"].split("/")[-1] for s in self.shards}
        for path in storage.list_files(storage.join(self.out, DATA), SHARD_PATTERN):
            if path.rsplit("/", 1)[-1] not in keep and not storage.is_remote(path):
                storage.remove_inside(path, self.out)
        return self.shards


def shard_paths(path: str) -> list[str]:
    """Shard files of a corpus given as its folder, its data/ folder, or one Parquet file. A corpus with a
    manifest is checked against it first (`integrity`) and read in manifest order; a folder without one (hand
    made, or a run that never finished) is read as found, with a warning."""
    if path.endswith(".parquet"):
        if not storage.exists(path):
            raise InputError(f"{path}: file not found")
        return [path]
    corpus = corpus_root(path)
    if corpus is not None and integrity.checks_on():
        return integrity.verified_shards(corpus)
    for folder in (storage.join(path, DATA), path):
        files = storage.list_files(folder, "*.parquet")
        if files:
            if corpus is None:
                log.warning("%s has no manifest.json: its shards are read unchecked", path)
            return files
    raise InputError(f"{path}: no Parquet shards found (expected {DATA}/{SHARD_PATTERN})")


def corpus_root(path: str) -> str | None:
    """The corpus folder holding the manifest for `path` (the folder itself, or the parent of its data/)."""
    if integrity.has_manifest(path):
        return path
    stripped = path.rstrip("/\\")
    if stripped.replace("\\", "/").rsplit("/", 1)[-1] == DATA:
        parent = stripped[: -len(DATA)].rstrip("/\\") or "."
        if integrity.has_manifest(parent):
            return parent
    return None


def read_schema(shard: str) -> pa.Schema:
    """The schema of one shard, read from its footer only; a file that is not Parquet is an error naming it."""
    try:
        if storage.is_remote(shard):
            fs, path = pafs.FileSystem.from_uri(shard)
            return pq.read_schema(path, filesystem=fs)
        return pq.read_schema(storage.local_path(shard))
    except (pa.ArrowInvalid, OSError) as e:
        raise InputError(f"{shard}: not a readable Parquet file ({e})") from None


def read_corpus(path: str, expected: str | None = None, columns: list[str] | None = None) -> Iterator[tuple[str, pa.Table]]:
    """Yield (file, table) per shard. A file that is not Parquet, or holds another record type, is an error
    naming that file."""
    for shard in shard_paths(path):
        try:
            table = storage.read_parquet(shard, columns=columns)
        except (pa.ArrowInvalid, OSError) as e:
            raise InputError(f"{shard}: not a readable Parquet file ({e})") from None
        kind = record_type(table.schema)
        if expected is not None and kind != expected:
            found = f"'{kind}' records" if kind else "no counselsim record type in its schema metadata"
            raise InputError(f"{shard}: expected '{expected}' records, found {found}")
        yield shard, table


def write_manifest(out: str, manifest: dict[str, Any]) -> None:
    storage.write_json(storage.join(out, MANIFEST), manifest)


def load_manifest(out: str) -> dict[str, Any] | None:
    return integrity.load_manifest(out)
