"""Termination g and σ measured on real dialogues in the Interactive Agents release layout.

A folder holds `<N>.json` files, each a list of {"role": "client"|"counselor", "content": ...} in order. The
release's system ended a session at its first farewell, so every final counselor turn that is not a question
counts as a real closing (recall), every earlier counselor turn as mid-session (a closing there is a false stop),
and σ runs on every counselor turn.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from counselsim.config import RefinementConfig
from counselsim.errors import InputError
from counselsim.simpsydial.refinement import rejection_reason
from counselsim.simpsydial.termination import ends_with_question, is_closing


@dataclass(frozen=True)
class Turn:
    dialogue: str
    index: int  # position in the dialogue's list
    text: str


@dataclass
class RulesReport:
    closings: list[Turn] = field(default_factory=list)
    missed: list[Turn] = field(default_factory=list)
    excluded: list[Turn] = field(default_factory=list)  # final turns that are questions: not closings
    mid_session: int = 0
    false_stops: list[Turn] = field(default_factory=list)
    rejections: dict[str, list[Turn]] = field(default_factory=lambda: defaultdict(list))

    @property
    def recall(self) -> float:
        return 1 - len(self.missed) / len(self.closings) if self.closings else float("nan")


def load_dialogues(folder: Path) -> dict[str, list[dict]]:
    """Dialogue name -> turns; a file that is not a list of role/content records is an InputError."""
    # Only <N>.json: the release keeps chief_complaints.json beside the dialogues.
    files = sorted((p for p in folder.glob("*.json") if p.stem.isdigit()), key=lambda p: int(p.stem))
    dialogues = {}
    for path in files:
        try:
            turns = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise InputError(f"{path}: not readable JSON ({e})") from None
        if not isinstance(turns, list):
            raise InputError(f"{path}: expected a list of turns")
        for i, turn in enumerate(turns):
            if not (isinstance(turn, dict) and turn.get("role") in ("client", "counselor")
                    and isinstance(turn.get("content"), str)):
                raise InputError(f"{path}: turn {i}: needs role 'client' or 'counselor' and a string 'content'")
        dialogues[path.stem] = turns
    if not dialogues:
        raise InputError(f"{folder}: no <N>.json dialogues")
    return dialogues


def measure(dialogues: dict[str, list[dict]], language: str, limits: RefinementConfig) -> RulesReport:
    report = RulesReport()
    for name, turns in dialogues.items():
        counselor = [Turn(name, i, t["content"]) for i, t in enumerate(turns) if t["role"] == "counselor"]
        for turn in counselor:
            reason = rejection_reason(turn.text, language, limits)
            if reason:
                report.rejections[reason].append(turn)
        if not counselor:
            continue
        *earlier, final = counselor
        if ends_with_question(final.text):
            report.excluded.append(final)
        else:
            report.closings.append(final)
            if not is_closing(final.text, language):
                report.missed.append(final)
        report.mid_session += len(earlier)
        report.false_stops += [t for t in earlier if is_closing(t.text, language)]
    return report


def false_stops_on(replies: list[str], language: str) -> list[str]:
    return [r for r in replies if is_closing(r, language)]
