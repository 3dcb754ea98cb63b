"""`counselsim verify DIR`: check a corpus against its manifest (shards, row counts, checksums, schema)."""
from __future__ import annotations

import argparse
import json
import sys

from counselsim.corpus.integrity import check_corpus


def verify(folder: str) -> list[str]:
    """Every mismatch between the corpus and its manifest, as readable lines; empty when all is well. A missing
    or malformed manifest is an InputError."""
    return check_corpus(folder, deep=True)


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
