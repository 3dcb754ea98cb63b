"""`counselsim verify DIR`: check a corpus against its manifest (shards, row counts, checksums, schema)."""
from __future__ import annotations

import argparse
import json
import sys

from counselsim.corpus import storage
from counselsim.corpus.shards import DATA, SHARD_PATTERN, load_manifest, record_type
from counselsim.errors import InputError
from counselsim.schemas.arrow import schema_for


def verify(folder: str) -> list[str]:
    """Every mismatch between the corpus and its manifest, as readable lines; empty when all is well."""
    manifest = load_manifest(folder)
    if manifest is None:
        raise InputError(f"{storage.join(folder, 'manifest.json')}: no manifest (an unfinished or foreign corpus)")
    problems: list[str] = []
    expected_type = manifest.get("record_type")
    expected_schema = schema_for(expected_type) if expected_type else None
    if expected_schema is None:
        problems.append(f"manifest: unknown record_type {expected_type!r}")
    listed = {s["name"] for s in manifest.get("shards", [])}
    for shard in manifest.get("shards", []):
        uri = storage.join(folder, *shard["name"].split("/"))
        if not storage.exists(uri):
            problems.append(f"{shard['name']}: listed in the manifest but missing")
            continue
        digest = storage.sha256(uri)
        if digest != shard["sha256"]:
            problems.append(f"{shard['name']}: checksum {digest[:12]}… differs from the manifest's {shard['sha256'][:12]}…")
            continue
        try:
            table = storage.read_parquet(uri)
        except Exception as e:  # any unreadable shard is a finding, not a crash
            problems.append(f"{shard['name']}: unreadable Parquet ({e})")
            continue
        if table.num_rows != shard["rows"]:
            problems.append(f"{shard['name']}: {table.num_rows} rows, manifest says {shard['rows']}")
        if record_type(table.schema) != expected_type:
            problems.append(f"{shard['name']}: record type {record_type(table.schema)!r}, manifest says {expected_type!r}")
        elif expected_schema is not None and not table.schema.equals(expected_schema, check_metadata=False):
            problems.append(f"{shard['name']}: schema differs from the {expected_type} schema")
    for path in storage.list_files(storage.join(folder, DATA), SHARD_PATTERN):
        name = f"{DATA}/{path.replace(chr(92), '/').rsplit('/', 1)[-1]}"
        if name not in listed:
            problems.append(f"{name}: shard not listed in the manifest")
    rows = sum(s["rows"] for s in manifest.get("shards", []))
    if manifest.get("counts", {}).get("rows") not in (None, rows):
        problems.append(f"manifest: counts.rows={manifest['counts']['rows']} but its shards hold {rows}")
    return problems


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check a corpus against its manifest")
    p.add_argument("folder")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    problems = verify(args.folder)
    if args.json:
        print(json.dumps({"ok": not problems, "problems": problems}, ensure_ascii=False))
    elif problems:
        print("\n".join(problems), file=sys.stderr)
    else:
        print(f"{args.folder}: ok")
    return 1 if problems else 0
