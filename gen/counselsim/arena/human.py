"""Agreement of the supervisor with human choices on the same battles (the paper's reliability check, §5.3 and
Appendix C.2: 60.8% / 61.8% for Qwen1.5-110B-Chat with Prompts 1 / 2, 64.4% for GPT-4o).

A human-choice file is JSON Lines, one battle per line: {"session_id": ..., "turn_index": <counselor turn>,
"chosen": <entrant name>}. Every line must name a battle of the corpus and one of its two entrants.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from counselsim.arena.ratings import Battle
from counselsim.errors import InputError

FIELDS = ("session_id", "turn_index", "chosen")


@dataclass(frozen=True)
class HumanChoice:
    session_id: str
    turn_index: int
    chosen: str


@dataclass(frozen=True)
class Agreement:
    battles: int  # battles with a human choice
    agreed: int
    share: float


def read_choices(path: str | Path, battles: Sequence[Battle]) -> list[HumanChoice]:
    """The file's choices, each checked against `battles`; InputError names the file, line and field."""
    by_key = {(b.dialogue, b.turn): b for b in battles}
    seen: dict[tuple[str, int], int] = {}
    choices = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: human-choice file not found") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{where}: not JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected an object with fields {list(FIELDS)}")
        for name, kind in zip(FIELDS, (str, int, str)):
            if not isinstance(row.get(name), kind) or isinstance(row.get(name), bool):
                raise InputError(f"{where}: field '{name}': expected {kind.__name__}, got {row.get(name)!r}")
        key = (row["session_id"], row["turn_index"])
        battle = by_key.get(key)
        if battle is None:
            raise InputError(f"{where}: field 'turn_index': session {key[0]!r} has no battle at counselor turn "
                             f"{key[1]} in the corpus")
        if row["chosen"] not in (battle.a, battle.b):
            raise InputError(f"{where}: field 'chosen': '{row['chosen']}' is not an entrant of this battle "
                             f"({battle.a}, {battle.b})")
        if key in seen:
            raise InputError(f"{where}: battle {key} is also chosen on line {seen[key]}")
        seen[key] = number
        choices.append(HumanChoice(*key, row["chosen"]))
    if not choices:
        raise InputError(f"{path}: the human-choice file holds no choices")
    return choices


def agreement(battles: Sequence[Battle], choices: Sequence[HumanChoice]) -> Agreement:
    winners = {(b.dialogue, b.turn): b.winner for b in battles}
    agreed = sum(winners[(c.session_id, c.turn_index)] == c.chosen for c in choices)
    return Agreement(len(choices), agreed, agreed / len(choices))
