"""`counselsim export`: training data from a corpus."""
from __future__ import annotations

import argparse
import logging

from counselsim.export.sft import FILE_FORMATS, STYLES, export_sft
from counselsim.logs import event

log = logging.getLogger("counselsim.export.sft")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write training data from a corpus", description=__doc__)
    p.add_argument("--input", required=True, help="corpus folder (data/shard-*.parquet)")
    p.add_argument("--out", required=True, help="the file to write")
    p.add_argument("--format", required=True, choices=["sft"],
                   help="sft: one sample per counselor reply, the dialogue so far with the system prompt first")
    p.add_argument("--style", choices=sorted(STYLES), default="openai",
                   help="openai: {messages: [{role, content}]}; sharegpt: {conversations: [{from, value}]} "
                        "(default: %(default)s)")
    p.add_argument("--file-format", choices=FILE_FORMATS,
                   help="default: parquet when --out ends in .parquet, else jsonl")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    file_format = args.file_format or ("parquet" if args.out.endswith(".parquet") else "jsonl")
    count = export_sft(args.input, args.out, args.style, file_format)
    event(log, "export written", out=args.out, samples=count, style=args.style, file_format=file_format)
    return 0
