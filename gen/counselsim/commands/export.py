"""`counselsim export`: training data from a corpus."""
from __future__ import annotations

import argparse
import logging

from counselsim.corpus.ownership import claim_file
from counselsim.errors import InputError
from counselsim.export.client import REASONING_FORMATS, export_client
from counselsim.export.sft import FILE_FORMATS, STYLES, export_sft
from counselsim.logs import event

log = logging.getLogger("counselsim.export.sft")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write training data from a corpus", description=__doc__)
    p.add_argument("--input", required=True, help="corpus folder (data/shard-*.parquet)")
    p.add_argument("--out", required=True, help="the file to write (outside the input corpus)")
    p.add_argument("--format", required=True, choices=["sft", "preference"],
                   help="sft: one sample per counselor reply, the dialogue so far with the system prompt first; "
                        "preference: one prompt/chosen/rejected sample per arena battle (TRL DPO layout)")
    p.add_argument("--target", choices=["counselor", "client"], default="counselor",
                   help="with --format sft: counselor: one sample per counselor reply; client: one sample per "
                        "reasoned client turn (live resistant or rpc corpora), role card + 5P profile + history in, "
                        "motivation reasoning + utterance out (default: %(default)s)")
    p.add_argument("--reasoning", choices=REASONING_FORMATS, default="json",
                   help="with --target client: json: the live resistant client's JSON answer; think: "
                        "<think>reasoning</think> then the utterance (default: %(default)s)")
    p.add_argument("--style", choices=sorted(STYLES), default="openai",
                   help="openai: {messages: [{role, content}]}; sharegpt: {conversations: [{from, value}]} "
                        "(default: %(default)s)")
    p.add_argument("--file-format", choices=FILE_FORMATS,
                   help="default: parquet when --out ends in .parquet, else jsonl")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--no-verify", action="store_true",
                   help="read the input corpus even if its shards do not match its manifest")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.target == "client" and args.format != "sft":
        raise InputError("--target client goes with --format sft")
    claim_file(args.out, [args.input], args.overwrite)
    file_format = args.file_format or ("parquet" if args.out.endswith(".parquet") else "jsonl")
    if args.format == "preference":
        from counselsim.export.preference import export_preference

        count = export_preference(args.input, args.out, file_format)
    elif args.target == "client":
        count = export_client(args.input, args.out, args.style, file_format, args.reasoning)
    else:
        count = export_sft(args.input, args.out, args.style, file_format)
    event(log, "export written", out=args.out, samples=count, style=args.style, file_format=file_format)
    return 0
