"""Strict reading of a judge's answer: one JSON object with the four mechanism levels and an explanation.

Lenient about form (a code fence, prose around the object, a mechanism named by its display name or an alias in
either language, a level written as the string "2"); strict about content: every mechanism exactly once, each
level an integer 0, 1 or 2, a non-empty explanation. Anything else is a ParseError, never a guess.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from counselsim.engines.parsing import ParseError, json_object
from counselsim.feedback.mechanisms import MechanismsFile
from counselsim.rpc.parsing import normalize
from counselsim.schemas.feedback import LEVELS, MECHANISMS

EXPLANATION_KEYS = ("explanation", "reason", "rationale", "解释", "理由", "说明")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Judgement:
    levels: dict[str, int]  # mechanism id -> 0 | 1 | 2
    explanation: str


class KeyIndex:
    """Normalized spellings of the mechanism keys -> mechanism id."""

    def __init__(self, spec: MechanismsFile) -> None:
        self.by_key: dict[str, str] = {}
        for mechanism in spec.mechanisms:
            for spelling in mechanism.spellings():
                self.by_key[normalize(spelling)] = mechanism.id
        self.explanation = {normalize(k) for k in EXPLANATION_KEYS}


def _level(mechanism: str, value: Any) -> int:
    # bool is an int in Python; true/false is not a level.
    if isinstance(value, int) and not isinstance(value, bool):
        level = value
    elif isinstance(value, str) and value.strip() in {str(v) for v in LEVELS}:
        level = int(value.strip())
    else:
        raise ParseError(f"'{mechanism}': {value!r} is not a level {list(LEVELS)}")
    if level not in LEVELS:
        raise ParseError(f"'{mechanism}': {level} is not a level {list(LEVELS)}")
    return level


def parse_judgement(text: str, keys: KeyIndex, max_chars: int | None = None) -> Judgement:
    obj = json_object(text)
    levels: dict[str, int] = {}
    explanation = None
    for key, value in obj.items():
        name = normalize(str(key))
        if name in keys.explanation:
            if not isinstance(value, str) or not value.strip():
                raise ParseError("'explanation' is missing or empty")
            explanation = _SPACES.sub(" ", value).strip()
            continue
        mechanism = keys.by_key.get(name)
        if mechanism is None:
            continue  # extra keys (a score total, a note) carry nothing we read
        if mechanism in levels:
            raise ParseError(f"'{mechanism}' is given twice")
        levels[mechanism] = _level(mechanism, value)
    missing = [m for m in MECHANISMS if m not in levels]
    if missing:
        raise ParseError(f"no level for {missing}")
    if explanation is None:
        raise ParseError("no 'explanation'")
    if max_chars is not None and len(explanation) > max_chars:
        raise ParseError(f"'explanation' is longer than {max_chars} characters")
    return Judgement({m: levels[m] for m in MECHANISMS}, explanation)


def output_schema(max_chars: int) -> dict[str, Any]:
    """The JSON schema guided decoding follows: four bounded integers and the explanation."""
    return {
        "type": "object",
        "properties": {**{m: {"type": "integer", "enum": list(LEVELS)} for m in MECHANISMS},
                       "explanation": {"type": "string", "minLength": 1, "maxLength": max_chars}},
        "required": [*MECHANISMS, "explanation"],
        "additionalProperties": False,
    }
