"""`counselsim dedup`: copy a corpus without its near-duplicate (and, on request, looping) sessions.

Every input shard is checked and the whole dedup plan is made before the first output file is written; the
manifest, holding the dedup report, is written last.
"""
from __future__ import annotations

import argparse
import logging

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ValidationError

from counselsim import __version__
from counselsim.corpus import storage
from counselsim.config import format_validation_error
from counselsim.corpus.shards import (
    DATA, MANIFEST, SHARD_PATTERN, CorpusWriter, read_corpus, read_schema, record_type, shard_paths, write_manifest,
)
from counselsim.dedup import DedupConfig, plan_dedup
from counselsim.dedup.stage import COLUMNS
from counselsim.errors import InputError, OutputError
from counselsim.logs import event

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
    p.set_defaults(handler=run)


def _common_schema(shards: list[str]) -> pa.Schema:
    """The schema (with metadata) all shards share; it must hold the columns dedup reads."""
    schema = read_schema(shards[0])
    missing = [c for c in COLUMNS if c not in schema.names]
    if missing:
        raise InputError(f"{shards[0]}: no column {', '.join(missing)}; dedup needs {', '.join(COLUMNS)}")
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
    out_data = storage.list_files(storage.join(args.out, DATA), SHARD_PATTERN)
    if out_data or storage.exists(storage.join(args.out, MANIFEST)):
        raise OutputError(f"{args.out}: already holds a corpus; remove it or choose another --out")
    shards = shard_paths(args.input)
    schema = _common_schema(shards)
    result = plan_dedup(shards, cfg)

    removed = pa.array(sorted(result.removed), pa.string())
    writer = CorpusWriter(args.out, schema, args.rows_per_shard)
    rows_in = rows_out = 0
    for shard in shards:
        for _, table in read_corpus(shard):
            kept = table.filter(pc.invert(pc.is_in(table["session_id"], value_set=removed)))
            writer.add(kept)
            rows_in += table.num_rows
            rows_out += kept.num_rows
    out_shards = writer.close()
    write_manifest(args.out, {
        "command": "dedup",
        "record": record_type(schema),
        "package_version": __version__,
        "input": args.input,
        "config": cfg.model_dump(),
        "counts": {"input": rows_in, "output": rows_out, "removed": rows_in - rows_out},
        "drop_reasons": result.report["removed"],
        "dedup": result.report,
        "shards": out_shards,
    })
    event(log, "dedup written", out=args.out, input=rows_in, output=rows_out, **result.report["removed"])
    return 0
