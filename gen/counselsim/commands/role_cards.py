"""`counselsim role-cards`: import role cards kept in other formats into a pool, and describe or split a pool."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from counselsim.cards import importer
from counselsim.cards.pool import load_pool, load_pools, write_pool, write_pools
from counselsim.cards.split import split_pool
from counselsim.cards.stats import format_stats, pool_stats
from counselsim.corpus.ownership import claim_file
from counselsim.dedup import DedupConfig
from counselsim.errors import InputError
from counselsim.jsonl import dumps_line
from counselsim.corpus.storage import atomic_writer

IMPORTERS = {importer.FORMAT: importer.import_interactive_agents}


def rejected_path(out: Path) -> Path:
    """pool.jsonl -> pool.rejected.jsonl"""
    stem = out.name.removesuffix(".jsonl")
    return out.with_name(f"{stem}.rejected.jsonl")


def _write_rejected(rejected: list[importer.Rejected], path: Path) -> None:
    with atomic_writer(str(path)) as f:
        for r in rejected:
            row = {"id": r.id, "file": str(r.file),
                   "problems": [{"line": p.line, "field": p.field, "problem": p.message} for p in r.problems]}
            f.write(dumps_line(row).encode("utf-8"))


def _import(args: argparse.Namespace) -> int:
    claim_file(args.out, [args.folder], args.overwrite)
    result = IMPORTERS[args.format](args.folder, args.complaints, args.id_prefix)
    out = Path(args.out)
    if result.rejected and (not args.skip_invalid or not result.cards):
        total = len(result.cards) + len(result.rejected)
        hint = "; --skip-invalid imports the valid ones" if result.cards else ""
        problems = "\n".join(str(p) for r in result.rejected for p in r.problems)
        invalid = f"{len(result.rejected)} of {total} role cards are invalid"
        raise InputError(f"{invalid}, nothing written{hint}:\n{problems}")
    write_pool(result.cards, out)
    report = rejected_path(out)
    if args.skip_invalid:
        _write_rejected(result.rejected, report)
    elif report.exists():
        report.unlink()  # it described an earlier import into this pool
    print(f"imported {len(result.cards)} role cards into {out}")
    if result.rejected:
        print(f"rejected {len(result.rejected)} role cards; their problems are in {report}")
    return 0


def _stats(args: argparse.Namespace) -> int:
    stats = pool_stats(load_pools(args.pools), DedupConfig(threshold=args.near_duplicate_threshold))
    print(json.dumps(stats, ensure_ascii=False, indent=2) if args.json else format_stats(stats))
    return 0


def _split(args: argparse.Namespace) -> int:
    train_path, test_path = Path(args.train), Path(args.test)
    if train_path.resolve() == test_path.resolve():
        raise InputError(f"--train and --test are the same file: {train_path}")
    for path, flag in ((args.train, "--train"), (args.test, "--test")):
        claim_file(path, [args.pool], args.overwrite, flag)
    train, test = split_pool(load_pool(args.pool), args.test_size, args.seed)
    write_pools([(train, train_path), (test, test_path)])
    print(f"{len(train)} training cards in {train_path}, {len(test)} held-out cards in {test_path}")
    return 0


def build_staging(pool: Path) -> Path:
    """pool.jsonl -> pool.staging/: the crash-safe state of a build, beside the pool it writes."""
    return pool.with_name(pool.name.removesuffix(".jsonl") + ".staging")


def _build(args: argparse.Namespace) -> int:
    import asyncio

    from counselsim.cards.build_job import BuildJob
    from counselsim.config import load_config
    from counselsim.runtime.driver import open_run, run_job
    from counselsim.runtime.staging import Staging

    overrides = list(args.set) + ([f"run.output={json.dumps(args.out)}"] if args.out else [])
    cfg = load_config(args.config, overrides)
    out = Path(cfg.run.output)
    job = BuildJob(cfg, args.complaints)
    job.validate()
    staging = Staging.for_job(build_staging(out), job, cfg.run.rows_per_shard)
    run_id = open_run(staging, job.identity(), str(out), cfg.pipeline)
    asyncio.run(run_job(cfg, job, staging, run_id, args.address, in_flight=cfg.stages.build.concurrency))

    cards = sorted(staging.records(), key=lambda c: c.id)
    failures = job.failures(staging.drops())
    write_pool(cards, out)
    failed = out.with_name(out.name.removesuffix(".jsonl") + ".failed.jsonl")
    with atomic_writer(str(failed)) as f:
        for row in failures:
            f.write(dumps_line(row).encode("utf-8"))
    print(json.dumps({"built": len(cards), "failed": len(failures), "pool": str(out),
                      "failures": str(failed)}, ensure_ascii=False))
    return 0 if cards else 1


def _test_size(text: str) -> int | float:
    try:
        value: int | float = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is neither a count nor a fraction") from None
        if not 0 < value < 1:
            raise argparse.ArgumentTypeError(f"a fraction must lie between 0 and 1, got {text}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"the count must be positive, got {text}")
    return value


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"a Jaccard threshold lies in (0, 1], got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("role-cards", help="import, describe and split client role-card pools",
                                   description=__doc__)
    sub = parser.add_subparsers(dest="role_cards_command", required=True)

    imp = sub.add_parser("import", help="read role cards in another format into a validated JSONL pool")
    imp.add_argument("folder", metavar="DIR", help="a folder of role cards (for interactive-agents: role_cards/ "
                     "with <index>.txt files, or the .txt files themselves, and chief_complaints.json)")
    imp.add_argument("--format", required=True, choices=sorted(IMPORTERS), help="the format the cards are in")
    imp.add_argument("--out", "-o", required=True, help="the JSONL pool to write")
    imp.add_argument("--complaints", metavar="FILE",
                     help=f"the JSON list of chief complaints by card index (default: DIR/{importer.COMPLAINTS_FILE})")
    imp.add_argument("--id-prefix", default="ia",
                     help="card ids are <prefix>-<index> (default: %(default)s); give the release's train and test "
                          "folders different prefixes, as both count from 0")
    imp.add_argument("--skip-invalid", action="store_true",
                     help="write the valid cards and list the invalid ones with their problems in "
                          "<out>.rejected.jsonl, instead of writing nothing when any card is invalid")
    imp.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    imp.set_defaults(handler=_import)

    stats = sub.add_parser("stats", help="counts by language, gender, age, occupation, resistance and topic, and "
                                         "repeated chief complaints")
    stats.add_argument("pools", nargs="+", metavar="POOL", help="JSONL role-card pools")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.add_argument("--near-duplicate-threshold", type=_threshold, default=DedupConfig().threshold,
                       help="estimated Jaccard similarity at which two chief complaints are near-duplicates "
                            "(default: %(default)s, as in the dedup stage)")
    stats.set_defaults(handler=_stats)

    build = sub.add_parser("build", help="turn free-text chief complaints into role cards with an LLM")
    build.add_argument("--complaints", required=True, metavar="FILE",
                       help="JSON list or JSONL of complaints (strings, or objects with complaint or question+description)")
    build.add_argument("--config", default="pipelines/role_cards.yaml", help="models and the builder role")
    build.add_argument("--out", "-o", help="the JSONL pool to write (run.output); failures go to <out>.failed.jsonl; "
                                          "the build's crash-safe state to <out>.staging/: rerunning the same "
                                          "command after a kill builds only the complaints not yet finished")
    build.add_argument("--address", default=None, help="Ray cluster address; default: local Ray")
    build.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    build.set_defaults(handler=_build)

    split = sub.add_parser("split", help="split a pool into training and held-out cards, deterministic by seed")
    split.add_argument("pool", metavar="POOL", help="the JSONL role-card pool to split")
    split.add_argument("--test-size", type=_test_size, default=100,
                       help="held-out cards: a count, or a fraction of the pool such as 0.1 (default: 100, as in "
                            "the paper)")
    split.add_argument("--seed", type=int, default=0, help="the same seed and pool give the same split")
    split.add_argument("--train", required=True, metavar="FILE", help="where to write the training cards")
    split.add_argument("--test", required=True, metavar="FILE", help="where to write the held-out cards")
    split.add_argument("--overwrite", action="store_true", help="replace --train and --test if they exist")
    split.set_defaults(handler=_split)
