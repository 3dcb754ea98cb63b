"""`counselsim run PIPELINE.yaml`: run a generation or transformation pipeline, locally or on a Ray cluster."""
from __future__ import annotations

import argparse
import json
import sys

from counselsim.config import load_config

NOTHING_DELIVERED = 3  # exit status of a run that finished without a single record


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a pipeline config (pipelines/*.yaml)")
    p.add_argument("config", help="pipeline YAML file")
    p.add_argument("--address", default=None, help="Ray cluster address ('auto' inside a cluster); default: local Ray")
    p.add_argument("--sessions", type=int, help="sessions to deliver (run.sessions)")
    p.add_argument("--out", help="output folder or URI, e.g. s3://bucket/corpus (run.output)")
    p.add_argument("--input", help="input corpus, for pipelines that read one (run.input)")
    p.add_argument("--seed", type=int, help="run seed (run.seed)")
    p.add_argument("--no-verify", action="store_true",
                   help="read the input corpus even if its shards do not match its manifest")
    p.add_argument("--model", help="model path for every configured model (models.*.path)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config field, e.g. --set roles.counselor.temperature=0.7 (repeatable)")
    p.set_defaults(handler=handle)


def overrides_from(args: argparse.Namespace, model_names: list[str] | None = None) -> list[str]:
    sets = []
    for flag, key in (("sessions", "run.sessions"), ("out", "run.output"), ("input", "run.input"), ("seed", "run.seed")):
        value = getattr(args, flag)
        if value is not None:
            sets.append(f"{key}={json.dumps(value)}")
    if args.model:
        sets += [f"models.{name}.path={json.dumps(args.model)}" for name in model_names or []]
    return sets + list(args.set)


def handle(args: argparse.Namespace) -> int:
    from counselsim.runtime.driver import run_pipeline

    base = load_config(args.config, overrides_from(args))  # for the model names; --input may be required
    cfg = load_config(args.config, overrides_from(args, sorted(base.models)))
    manifest = run_pipeline(cfg, args.address)
    counts = manifest["counts"]
    print(json.dumps({"output": cfg.run.output, "rows": counts["rows"], "dropped": counts["dropped"],
                      "drops": manifest["drops"], "throughput": manifest["throughput"]}, ensure_ascii=False))
    if counts.get("requested") and not counts["rows"]:
        print(f"counselsim: error: the run delivered 0 of {counts['requested']} requested records "
              f"(drops: {manifest['drops']}); see the manifest's drop_examples", file=sys.stderr)
        return NOTHING_DELIVERED
    return 0
