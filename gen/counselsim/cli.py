"""The `counselsim` command. Each feature module registers its own subcommand."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from counselsim.corpus.integrity import unverified
from counselsim.errors import InputError, OutputError
from counselsim.logs import setup_logging

# Modules that expose `register(subparsers)`; each adds one subcommand whose handler returns an exit code.
COMMAND_MODULES = [
    "counselsim.commands.audit",
    "counselsim.commands.export",
    "counselsim.commands.run",
    "counselsim.commands.verify",
    "counselsim.commands.dedup",
    "counselsim.commands.role_cards",
    "counselsim.commands.import_corpus",
]


LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="counselsim", description=__doc__)
    parser.add_argument("--log-level", default="INFO", type=str.upper, choices=LOG_LEVELS,
                        help=", ".join(LOG_LEVELS) + " (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        # --no-verify (on the commands that read a corpus) lets readers use shards the manifest does not vouch for.
        with unverified(getattr(args, "no_verify", False)):
            return int(args.handler(args) or 0)
    except (InputError, OutputError) as e:
        print(f"counselsim: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        logging.getLogger("counselsim").warning("interrupted; finished work is kept, rerun the command to resume")
        return 130


if __name__ == "__main__":
    sys.exit(main())
