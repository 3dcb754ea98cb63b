"""Termination g and σ on a folder of real dialogues (Interactive Agents layout: `<N>.json` lists of
{"role", "content"}): recall of real closings, false stops on mid-session turns and on the gold set, σ rejections
by reason with examples.

    python benchmarks/rules_on_dialogues.py ../shared/data/interactive-agents-sample/dialogues [--language zh]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from counselsim.config import RefinementConfig
from counselsim.errors import InputError
from counselsim.simpsydial.rules_check import false_stops_on, load_dialogues, measure

GOLD = Path(__file__).resolve().parents[1] / "tests" / "data" / "termination_gold.yaml"


def _short(text: str, width: int = 90) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[:width] + "…"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--language", default="zh", choices=["zh", "en"])
    parser.add_argument("--gold", type=Path, default=GOLD, help="YAML with <language>.mid_session replies")
    args = parser.parse_args()
    try:
        dialogues = load_dialogues(args.folder)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    report = measure(dialogues, args.language, RefinementConfig())
    print(f"{len(dialogues)} dialogues, language {args.language}")
    print(f"recall of real closings: {len(report.closings) - len(report.missed)}/{len(report.closings)} = "
          f"{report.recall:.3f} (excluded: {len(report.excluded)} final turns that are questions: "
          f"{', '.join(f'{t.dialogue}/{t.index}' for t in report.excluded) or 'none'})")
    for t in report.missed:
        print(f"  missed {t.dialogue}/{t.index}: {_short(t.text)}")
    print(f"false stops on mid-session real turns: {len(report.false_stops)}/{report.mid_session}")
    for t in report.false_stops:
        print(f"  {t.dialogue}/{t.index}: {_short(t.text)}")
    if args.gold.exists():
        gold = yaml.safe_load(args.gold.read_text(encoding="utf-8")).get(args.language, {}).get("mid_session", [])
        stops = false_stops_on(gold, args.language)
        print(f"false stops on the gold mid-session set: {len(stops)}/{len(gold)}")
        for r in stops:
            print(f"  {_short(r)}")
    total = sum(len(v) for v in report.rejections.values())
    print(f"σ rejections: {total} ({', '.join(f'{k} {len(v)}' for k, v in sorted(report.rejections.items())) or 'none'})")
    for reason, turns in sorted(report.rejections.items()):
        for t in turns:
            print(f"  {reason} {t.dialogue}/{t.index}: {_short(t.text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
