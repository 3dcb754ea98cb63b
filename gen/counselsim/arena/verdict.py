"""Reading the supervisor's verdict strictly. What cannot be read as exactly one of A or B is an error the caller
records as unparseable; nothing is guessed.

Free text: the letter after a choice marker ("Final choice:", "最后的选择："). A marker followed by no letter
at all (an echo of the format line, "Final choice: X") is passed over, as is a parenthetical after it; one followed by both letters, or markers
naming different letters, make the output unparseable. Guided output: a JSON object {"reason", "choice"}.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from counselsim.arena.supervisor import LABELS, Label, language_rules
from counselsim.engines.parsing import ParseError, json_object

_LETTER = re.compile(r"(?<![A-Za-z])([AB])(?![A-Za-z])")
# A parenthetical after the letter echoes the format line ("X (where X belongs to [A, B])"): not a choice.
_PARENTHETICAL = re.compile(r"\([^)]*\)?|（[^）]*）?")
_LEAD = re.compile(r"^[\s*_#:：\-—]+")


class VerdictError(ParseError):
    """The output holds no single readable choice (a ParseError, so the role caller retries it)."""


@dataclass(frozen=True)
class Verdict:
    label: Label
    reason: str


def _marker_pattern(markers: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(m) for m in sorted(markers, key=len, reverse=True)), re.IGNORECASE)


def parse_text(text: str, language: str) -> Verdict:
    rules = language_rules(language)
    votes: list[tuple[int, Label]] = []
    for match in _marker_pattern(rules["choice_markers"]).finditer(text):
        line = _PARENTHETICAL.sub(" ", text[match.end():].split("\n", 1)[0])
        letters = _LETTER.findall(line)
        if len(set(letters)) > 1:
            raise VerdictError(f"both options after '{match.group(0)}': {line.strip()!r}")
        if letters:
            votes.append((match.start(), letters[0]))
    if not votes:
        raise VerdictError("no choice marker followed by A or B")
    if len({label for _, label in votes}) > 1:
        raise VerdictError(f"conflicting choices {[label for _, label in votes]}")
    return Verdict(votes[0][1], _reason(text[:votes[0][0]], rules["reason_markers"]))


def _reason(before_choice: str, reason_markers: list[str]) -> str:
    found = list(_marker_pattern(reason_markers).finditer(before_choice))
    body = before_choice[found[-1].end():] if found else before_choice
    return _LEAD.sub("", body.strip()).strip().rstrip("-").strip()


def parse_json(text: str) -> Verdict:
    try:
        data = json_object(text)
    except ParseError as e:
        raise VerdictError(str(e)) from None
    if data.get("choice") not in LABELS or not isinstance(data.get("reason"), str):
        raise VerdictError(f"expected {{\"reason\": text, \"choice\": \"A\" | \"B\"}}, got {text[:80]!r}")
    return Verdict(data["choice"], data["reason"].strip())


def parse_verdict(text: str, language: str, guided: bool) -> Verdict:
    return parse_json(text) if guided else parse_text(text, language)
