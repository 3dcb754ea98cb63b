"""Reading a value out of a model's free text: the one JSON extractor every structured-output caller uses.

A parser raises ParseError with a message saying what is missing; the role caller (engines/roles.py) retries on it
and reports Unparseable when the attempts are spent, never a guess.
"""
from __future__ import annotations

import json
import re
from typing import Any


class ParseError(ValueError):
    """The output does not hold what was asked for; the message says what is missing."""


_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


def json_object(text: str) -> dict[str, Any]:
    """The first JSON object in `text` (inside a code fence or after some prose), or ParseError."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        start = candidate.find("{")
        while start != -1:
            try:
                value, _ = decoder.raw_decode(candidate, start)
            except json.JSONDecodeError:
                start = candidate.find("{", start + 1)
                continue
            if isinstance(value, dict):
                return value
            start = candidate.find("{", start + 1)
    raise ParseError("no JSON object found")
