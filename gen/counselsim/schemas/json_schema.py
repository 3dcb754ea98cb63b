"""The language-neutral contract: one JSON Schema file per registered record type, generated from its pydantic
model, in the repository's top-level `schemas/` folder.

    python -m counselsim.schemas            # rewrite schemas/*.schema.json from the models
    python -m counselsim.schemas --check    # exit 1, naming the files, when they differ from the models

The schemas describe a record as `model_dump(mode="json")` writes it (serialization mode): what a reader finds in
a row of the Parquet shards, timestamps as ISO strings.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from counselsim.schemas import registry

SUFFIX = ".schema.json"
DEFAULT_OUT = Path("schemas")  # the top-level schemas/ when run from the repository root


def json_schema(record_type: str) -> dict:
    model = registry.MODELS[record_type]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"{record_type}{SUFFIX}",
            **model.model_json_schema(mode="serialization")}


def rendered() -> dict[str, str]:
    """File name -> file text for every registered record type."""
    return {f"{name}{SUFFIX}": json.dumps(json_schema(name), indent=2, ensure_ascii=False) + "\n"
            for name in sorted(registry.MODELS)}


def drift(folder: Path) -> list[str]:
    """Files of `folder` that are missing, stale or left over from an unregistered record type."""
    wanted = rendered()
    found = {p.name for p in folder.glob(f"*{SUFFIX}")}
    problems = [f"{name}: missing" for name in sorted(set(wanted) - found)]
    problems += [f"{name}: differs from the model" for name in sorted(set(wanted) & found)
                 if (folder / name).read_text(encoding="utf-8") != wanted[name]]
    problems += [f"{name}: no such record type" for name in sorted(found - set(wanted))]
    return problems


def write(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    wanted = rendered()
    for stale in folder.glob(f"*{SUFFIX}"):
        if stale.name not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        (folder / name).write_text(text, encoding="utf-8")
    return sorted(wanted)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m counselsim.schemas", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder of the schema files (default {DEFAULT_OUT})")
    p.add_argument("--check", action="store_true", help="only compare; exit 1 when the files drift from the models")
    args = p.parse_args(argv)
    if args.check:
        problems = drift(args.out)
        for line in problems:
            print(f"{args.out / line}", file=sys.stderr)
        return 1 if problems else 0
    for name in write(args.out):
        print(args.out / name)
    return 0
