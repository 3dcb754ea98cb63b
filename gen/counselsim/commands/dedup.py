"""`counselsim dedup`: copy a corpus without its near-duplicate (and, on request, looping) sessions.

Every input shard is checked and the whole dedup plan is made before the first output file is written. The
output is written like every corpus (`corpus.writer`): shards, dataset card, and last the manifest, which holds
the dedup report and the provenance of the input (its pipeline, config and run id, when it has a manifest).
"""
from __future__ import annotations

import argparse
import logging

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ValidationError

from counselsim.config import format_validation_error
from counselsim.corpus import storage
from counselsim.corpus.shards import (
    DATA, MANIFEST, SHARD_PATTERN, load_manifest, read_corpus, read_schema, record_type, shard_paths,
)
from counselsim.corpus.writer import write_corpus
from counselsim.corpus.ownership import claim_output
from counselsim.dedup import DedupConfig, plan_dedup
from counselsim.dedup.stage import COLUMNS
from counselsim.errors import InputError, OutputError
from counselsim.logs import event
from counselsim.schemas.arrow import schema_for

log = logging.getLogger("counselsim.dedup")


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults = DedupConfig()
    p = subparsers.add_parser("dedup", help="remove near-duplicate sessions from a corpus", description=__doc__)
    p.add_argument("--input", required=True, help="corpus folder, its data/ folder, or one Parquet file")
    p.add_argument("--out", required=True, help="folder for the deduplicated corpus; must not hold a corpus yet")
    p.add_argument("--threshold", type=float, default=defaults.threshold, help="estimated Jaccard of near-duplicates")
    p.add_argument("--num-perm", type=int, default=defaults.num_perm, help="MinHash permutations")
    p.add_argument("--ngram", type=int, default=defaults.ngram, help="characters per shingle")
    p.add_argument("--drop-looping", action="store_true", help="also remove sessions in which a speaker loops")
    p.add_argument("--rows-per-shard", type=int, default=256)
    p.add_argument("--no-verify", action="store_true",
                   help="read the input corpus even if its shards do not match its manifest")
    p.set_defaults(handler=run)


def _common_schema(shards: list[str]) -> pa.Schema:
    """The schema (with metadata) all shards share; it must be a counselsim record type holding the columns dedup
    reads."""
    schema = read_schema(shards[0])
    missing = [c for c in COLUMNS if c not in schema.names]
    if missing:
        raise InputError(f"{shards[0]}: no column {', '.join(missing)}; dedup needs {', '.join(COLUMNS)}")
    if schema_for(record_type(schema) or "") is None:
        found = f"record type {record_type(schema)!r}" if record_type(schema) else "no counselsim record type"
        raise InputError(f"{shards[0]}: {found} in its schema metadata; dedup reads counselsim corpora")
    for shard in shards[1:]:
        if not read_schema(shard).equals(schema, check_metadata=True):
            raise InputError(f"{shard}: its schema differs from that of {shards[0]}")
    return schema


def run(args: argparse.Namespace) -> int:
    try:
        cfg = DedupConfig(threshold=args.threshold, num_perm=args.num_perm, ngram=args.ngram,
                          drop_looping=args.drop_looping)
    except ValidationError as e:
        raise InputError(format_validation_error("counselsim dedup", e)) from None
    if args.rows_per_shard < 1:
        raise InputError("counselsim dedup: --rows-per-shard must be at least 1")
    claim_output(args.out, "dedup", [args.input])
    out_data = storage.list_files(storage.join(args.out, DATA), SHARD_PATTERN)
    if out_data or storage.exists(storage.join(args.out, MANIFEST)):
        raise OutputError(f"{args.out}: already holds a corpus; remove it or choose another --out")
    shards = shard_paths(args.input)
    schema = _common_schema(shards)
    result = plan_dedup(shards, cfg)

    removed = pa.array(sorted(result.removed), pa.string())
    kept = (table.filter(pc.invert(pc.is_in(table["session_id"], value_set=removed)))
            for shard in shards for _, table in read_corpus(shard))
    manifest = write_corpus(args.out, schema, kept, {
        "command": "dedup",
        "input": args.input,
        **_provenance(args.input),
        "counts": {"input": result.report["sessions"], "removed": result.report["removed"]},
        "dedup": result.report,
    }, args.rows_per_shard)
    event(log, "dedup written", out=args.out, input=result.report["sessions"], output=manifest["counts"]["rows"],
          **result.report["removed"])
    return 0


def _provenance(path: str) -> dict:
    """How the input corpus was made, from its manifest (absent for a folder of bare shards)."""
    source = load_manifest(path) if not path.endswith(".parquet") else None
    if source is None:
        return {}
    return {"pipeline": source.get("pipeline"), "config": source.get("config"),
            "source": {k: source.get(k) for k in ("command", "run_id", "config_hash", "created_at")},
            # an imported input's origin travels on, so an rpc run over the deduplicated corpus can still name it
            **({"import": source["import"]} if source.get("import") else {})}
