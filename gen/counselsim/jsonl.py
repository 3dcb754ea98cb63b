"""JSON Lines that every JSON reader and every line splitter agree on.

`json.dumps(..., ensure_ascii=False)` leaves U+2028, U+2029 and U+0085 raw; they are valid inside a JSON string,
but `str.splitlines` (and many editors and readers) break lines on them, so one record would read as two broken
ones. Lines are written with those escaped and read by splitting on "\\n" only.
"""
from __future__ import annotations

import json
from typing import Any

_LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\u0085": "\\u0085"}


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key '{key}' given twice")
        self.key = key


def dumps_line(obj: Any) -> str:
    """One JSON Lines record, newline included; readable text (no ASCII escaping) except line separators."""
    text = json.dumps(obj, ensure_ascii=False, default=str)
    for raw, escaped in _LINE_BREAKS.items():
        text = text.replace(raw, escaped)
    return text + "\n"


def split_lines(text: str) -> list[str]:
    """The records of a JSON Lines text: split on "\\n" only (a trailing "\\r" is JSON whitespace)."""
    return text.split("\n")


def loads_strict(line: str) -> Any:
    """json.loads that refuses an object giving one key twice (DuplicateKey), as the YAML loader does."""
    return json.loads(line, object_pairs_hook=_unique)


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out
