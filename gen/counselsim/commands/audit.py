"""`counselsim audit`: a Markdown and a self-contained HTML quality report of a corpus."""
from __future__ import annotations

import argparse
import json
import logging

from counselsim.audit.embeddings import DEFAULT_MODEL
from counselsim.logs import event

log = logging.getLogger("counselsim.audit")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="write a quality report of a corpus", description=__doc__)
    p.add_argument("--input", required=True, help="corpus folder (data/shard-*.parquet and manifest.json)")
    p.add_argument("--out", required=True, help="report folder: report.md, report.html, figures/, metrics.json")
    p.add_argument("--embedding-model", default=DEFAULT_MODEL,
                   help=f"sentence-transformers model for semantic consistency: '{DEFAULT_MODEL}' (bundled, "
                        "the default), a local model folder, or 'none' to skip the metric")
    p.add_argument("--seed", type=int, default=0, help="seed of the random-mapping control")
    p.add_argument("--wai", metavar="CONFIG",
                   help="also score the working alliance (WAI-O-S) with the LLM judge of this wai pipeline config "
                        "(e.g. pipelines/wai.yaml): a report section, and per-session scores in "
                        "<out>/wai_sessions.parquet")
    p.add_argument("--address", default=None, help="with --wai: Ray cluster address; default: local Ray")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="with --wai: override a field of its config")
    p.set_defaults(handler=run)


def _wai_config(args: argparse.Namespace):
    from counselsim.audit.wai import wai_settings
    from counselsim.config import load_config
    from counselsim.errors import InputError

    cfg = load_config(args.wai, list(args.set) + [f"run.output={json.dumps(args.out)}"])
    if cfg.pipeline != "wai":
        raise InputError(f"{args.wai}: --wai needs a config with 'pipeline: wai', this one is '{cfg.pipeline}'")
    wai_settings(cfg)
    return cfg


def _score_wai(cfg, args: argparse.Namespace, frames):
    import asyncio

    from counselsim.audit.wai import score_corpus
    from counselsim.runtime.driver import make_pool

    async def score():
        pool = make_pool(cfg, args.address)
        try:
            await pool.start()
            return await score_corpus(frames, cfg, pool)
        finally:
            await pool.close()

    result = asyncio.run(score())
    event(log, "wai scored", judge=result.judge, sessions=result.sessions.height, calls=len(result.calls),
          unparseable=sum(c.unparseable for c in result.calls), failed=sum(c.error is not None for c in result.calls))
    return result


def run(args: argparse.Namespace) -> int:
    # Imported here: the report pulls in matplotlib, scipy and pandas, seconds that every other command would pay.
    from counselsim.audit.embeddings import load_embedder
    from counselsim.audit.frames import load_frames
    from counselsim.audit.report import build_report, write_report
    from counselsim.corpus.shards import load_manifest

    # Read the corpus and the judge's config, and load the small embedding model, before starting the judge's
    # engines, so bad input fails fast.
    frames = load_frames(args.input)
    manifest = load_manifest(args.input)
    wai_cfg = _wai_config(args) if args.wai else None
    embedder = None if args.embedding_model == "none" else load_embedder(args.embedding_model)
    wai = _score_wai(wai_cfg, args, frames) if wai_cfg else None
    report = build_report(frames, manifest, embedder, args.seed, source=args.input, wai=wai)
    write_report(report, args.out)
    if wai is not None:
        from counselsim.corpus import storage

        storage.write_parquet(wai.sessions.to_arrow(), storage.join(args.out, "wai_sessions.parquet"))
    event(log, "audit written", out=args.out, sessions=frames.sessions.height, sections=len(report.sections))
    return 0
