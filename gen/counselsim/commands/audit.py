"""`counselsim audit`: a Markdown and a self-contained HTML quality report of a corpus."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

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
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the random-mapping control and of the arena's bootstrap")
    p.add_argument("--reference", metavar="DIR",
                   help="a reference corpus (e.g. one made by `counselsim import`) to put beside this one: Table 1, "
                        "lengths and fidelity side by side, with Welch's t-test and Cohen's d per metric")
    p.add_argument("--no-verify", action="store_true",
                   help="read the input corpus even if its shards do not match its manifest")
    p.add_argument("--wai", metavar="CONFIG",
                   help="also score the working alliance (WAI-O-S) with the LLM judge of this wai pipeline config "
                        "(e.g. pipelines/wai.yaml): a report section, and per-session scores in "
                        "<out>/wai_sessions.parquet; with --reference, the reference corpus is judged too, so WAI "
                        "stands in the comparison; finished judge calls are staged in <out>.staging/ (the "
                        "reference's in <out>.reference.staging/), so rerunning the same command after a kill makes "
                        "only the calls not yet made")
    p.add_argument("--feedback", metavar="DIR",
                   help="a feedback corpus over this one (counselsim run pipelines/feedback.yaml): a section on how "
                        "the counselors handle client resistance")
    p.add_argument("--human-choices", metavar="FILE",
                   help="with an arena corpus: JSON Lines of human choices for its battles ({\"session_id\", "
                        "\"turn_index\", \"chosen\": entrant}), to measure the supervisor's agreement with them")
    p.add_argument("--address", default=None, help="with --wai: Ray cluster address; default: local Ray")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="with --wai: override a field of its config")
    p.set_defaults(handler=run)


def _wai_config(args: argparse.Namespace):
    from counselsim.config import load_config
    from counselsim.errors import InputError

    cfg = load_config(args.wai, list(args.set) + [f"run.output={json.dumps(args.out)}"])
    if cfg.pipeline != "wai":
        raise InputError(f"{args.wai}: --wai needs a config with 'pipeline: wai', this one is '{cfg.pipeline}'")
    return cfg


def wai_staging(out: str, corpus: str = "") -> Path:
    """<report>.staging/ (or <report>.<corpus>.staging/ for the reference): the judge calls made so far, beside the
    report folder."""
    return Path(out.rstrip("/") + (f".{corpus}" if corpus else "") + ".staging")


def _score_wai(cfg, args: argparse.Namespace, frames, corpus: str = ""):
    import asyncio

    from counselsim.audit.wai_job import WaiJob, open_staging
    from counselsim.runtime.driver import run_job

    job = WaiJob(frames, cfg)
    job.validate()
    staging, run_id = open_staging(job, wai_staging(args.out, corpus), args.out)
    asyncio.run(run_job(cfg, job, staging, run_id, args.address, in_flight=cfg.stages.wai.concurrency))
    result = job.result(staging)
    event(log, "wai scored", judge=result.judge, sessions=result.sessions.height, calls=len(result.calls),
          unparseable=sum(c.unparseable for c in result.calls), failed=sum(c.error is not None for c in result.calls))
    return result


def run(args: argparse.Namespace) -> int:
    # Imported here: the report pulls in matplotlib, scipy and pandas, seconds that every other command would pay.
    from counselsim.audit.embeddings import load_embedder
    from counselsim.audit.frames import load_frames
    from counselsim.audit.report import Reference, build_report, write_report
    from counselsim.corpus.ownership import claim_output
    from counselsim.corpus.shards import load_manifest
    from counselsim.errors import InputError

    # Read the corpus and the judge's config, and load the small embedding model, before starting the judge's
    # engines, so bad input fails fast.
    claim_output(args.out, "audit", [args.input, *([args.feedback] if args.feedback else [])])
    frames = load_frames(args.input)
    reference = Reference(load_frames(args.reference), args.reference) if args.reference else None
    manifest = load_manifest(args.input)
    wai_cfg = _wai_config(args) if args.wai else None
    arena = None
    if frames.record_type == "arena_dialogue":
        from counselsim.audit.arena import load_arena_audit

        arena = load_arena_audit(args.input, args.human_choices)
    elif args.human_choices:
        raise InputError(f"--human-choices {args.human_choices}: needs an arena corpus, {args.input} holds "
                         f"'{frames.record_type}' records")
    feedback = None
    if args.feedback:
        from counselsim.audit.feedback import load_feedback

        feedback = load_feedback(args.feedback)
    try:
        embedder = None if args.embedding_model == "none" else load_embedder(args.embedding_model)
    except OSError as e:  # no such folder, or a hub id that is not in the local cache
        raise InputError(f"--embedding-model {args.embedding_model}: cannot be loaded ({e})") from None
    wai = _score_wai(wai_cfg, args, frames) if wai_cfg else None
    if wai_cfg and reference is not None:
        reference.wai = _score_wai(wai_cfg, args, reference.frames, corpus="reference")
    report = build_report(frames, manifest, embedder, args.seed, source=args.input, wai=wai,
                          feedback=feedback, reference=reference, arena=arena)
    write_report(report, args.out)
    if wai is not None:
        from counselsim.corpus import storage

        storage.write_parquet(wai.sessions.to_arrow(), storage.join(args.out, "wai_sessions.parquet"))
    event(log, "audit written", out=args.out, sessions=frames.sessions.height, sections=len(report.sections))
    return 0
