"""`counselsim audit`: a Markdown and a self-contained HTML quality report of a corpus."""
from __future__ import annotations

import argparse
import logging

from counselsim.audit.embeddings import DEFAULT_MODEL, load_embedder
from counselsim.audit.frames import load_frames
from counselsim.audit.report import build_report, write_report
from counselsim.corpus import load_manifest
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
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Read the corpus before loading a model, so bad input fails fast.
    frames = load_frames(args.input)
    manifest = load_manifest(args.input)
    embedder = None if args.embedding_model == "none" else load_embedder(args.embedding_model)
    report = build_report(frames, manifest, embedder, args.seed, source=args.input)
    write_report(report, args.out)
    event(log, "audit written", out=args.out, sessions=frames.sessions.height, sections=len(report.sections))
    return 0
