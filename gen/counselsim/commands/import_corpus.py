"""`counselsim import`: read dialogues made elsewhere into an ordinary session corpus (shards, dataset card,
manifest), which `dedup`, `audit`, `export` and `run pipelines/rpc.yaml --input` then read like any other.

Every record is read and checked before anything is written: one bad record (wrong role, empty turn, turns not
alternating, undecodable file, missing field) stops the import with its file, record and field, unless
--skip-invalid imports the others and lists the bad ones in <out>/rejected.jsonl.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging

from counselsim.corpus import storage
from counselsim.corpus.shards import DATA, MANIFEST, SHARD_PATTERN
from counselsim.corpus.writer import write_corpus
from counselsim.errors import InputError, OutputError
from counselsim.importers import interactive_agents, messages
from counselsim.importers.dialogue import to_session
from counselsim.importers.records import ReadResult, write_rejection_report
from counselsim.logs import event
from counselsim.schemas.arrow import SESSION_SCHEMA, sessions_to_table

log = logging.getLogger("counselsim.import")

FORMATS = {interactive_agents.FORMAT: "ia", messages.FORMAT: "chat"}  # format -> default id prefix
REJECTED = "rejected.jsonl"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="read dialogues in another format into a session corpus", description=__doc__)
    p.add_argument("src", metavar="SRC", help="interactive-agents: a folder of <N>.json dialogues (or one holding "
                                              "dialogues/); messages: a JSON or JSONL file of chat records")
    p.add_argument("--format", required=True, choices=sorted(FORMATS), help="the format SRC is in")
    p.add_argument("--out", required=True, help="folder for the corpus; must not hold a corpus yet")
    p.add_argument("--complaints", metavar="FILE",
                   help="JSON list of chief complaints by dialogue number (interactive-agents; default: "
                        f"{interactive_agents.COMPLAINTS_FILE} beside the dialogues, if there is one) or by record "
                        "index (messages); each becomes the client's partial role card")
    p.add_argument("--client-role", choices=messages.CLIENT_ROLES, default="user",
                   help="messages: the chat role that is the client (default: %(default)s; the other is the "
                        "counselor)")
    p.add_argument("--id-prefix", help="session and card ids are <prefix>-<N> (default: ia for interactive-agents, "
                                       "chat for messages)")
    p.add_argument("--skip-invalid", action="store_true",
                   help=f"import the valid records and list the invalid ones in <out>/{REJECTED}, instead of "
                        "writing nothing when any record is invalid")
    p.add_argument("--rows-per-shard", type=int, default=256)
    p.set_defaults(handler=run)


def _read(args: argparse.Namespace) -> ReadResult:
    if args.format == interactive_agents.FORMAT:
        return interactive_agents.read(args.src, args.complaints)
    return messages.read(args.src, args.complaints, args.client_role)


def import_hash(settings: dict, result: ReadResult) -> str:
    """The identity of an import: its settings and the content it read."""
    content = [(d.number, d.turns, d.complaint, d.source.counselor_prompt) for d in result.dialogues]
    return hashlib.sha256(json.dumps([settings, content], ensure_ascii=False).encode("utf-8")).hexdigest()


def run(args: argparse.Namespace) -> int:
    if args.rows_per_shard < 1:
        raise InputError("counselsim import: --rows-per-shard must be at least 1")
    out_shards = storage.list_files(storage.join(args.out, DATA), SHARD_PATTERN)
    if out_shards or storage.exists(storage.join(args.out, MANIFEST)):
        raise OutputError(f"{args.out}: already holds a corpus; remove it or choose another --out")
    result = _read(args)
    if result.rejected and (not args.skip_invalid or not result.dialogues):
        hint = "; --skip-invalid imports the valid ones" if result.dialogues else ""
        problems = "\n".join(str(p) for record in result.rejected for p in record)
        raise InputError(f"{len(result.rejected)} of {result.total} records are invalid, nothing written{hint}:\n"
                         f"{problems}")
    prefix = args.id_prefix or FORMATS[args.format]
    settings = {"format": args.format, "source": args.src,
                "complaints": str(result.complaints) if result.complaints else None,
                "client_role": args.client_role if args.format == messages.FORMAT else None, "id_prefix": prefix}
    config_hash = import_hash(settings, result)
    run_id = f"import-{config_hash[:12]}"
    sessions = [to_session(d, prefix, slot, run_id, config_hash) for slot, d in enumerate(result.dialogues)]
    if result.rejected:
        write_rejection_report(result.rejected, storage.join(args.out, REJECTED))
    manifest = write_corpus(args.out, SESSION_SCHEMA, [sessions_to_table(sessions)], {
        "command": "import",
        "pipeline": "import",
        "run_id": run_id,
        "config_hash": config_hash,
        "import": {**settings, "rejection_report": REJECTED if result.rejected else None},
        "counts": {"input": result.total, "imported": len(sessions), "rejected": len(result.rejected)},
    }, args.rows_per_shard)
    event(log, "import written", out=args.out, imported=len(sessions), rejected=len(result.rejected),
          rows=manifest["counts"]["rows"])
    if result.rejected:
        print(f"rejected {len(result.rejected)} records; their problems are in {storage.join(args.out, REJECTED)}")
    return 0
