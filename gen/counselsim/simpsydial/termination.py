"""The dialogue termination function g: does a counselor reply close the session?

A farewell phrase ends a session only as a closing: it stands in the reply's last sentence, that sentence is
not a question, and little follows the phrase. A plain substring match would end a session on a mid-session
"keep it up, what else helped?" or "加油，我们接着聊".
"""
from __future__ import annotations

import re
from functools import cache

from counselsim.resources import read_yaml

_SENTENCE_END = re.compile(r"(?<=[.!?。！？…])\s*|\n+")
_TRAILING = re.compile(r"[\s.!?。！？…~～,，;；:：'\"“”‘’)）\]】\U0001F300-\U0001FAFF\u2600-\u27BF]+$")
_QUESTION = re.compile(r"[?？]\s*[\"”’)）]*\s*$")


@cache
def _rules(language: str) -> tuple[int, tuple[str, ...]]:
    spec = read_yaml("prompts", "farewells.yaml")[language]
    # Longest first, so "see you next time" is tried before "next time".
    return int(spec["max_tail"]), tuple(sorted((p.lower() for p in spec["phrases"]), key=len, reverse=True))


def last_sentence(text: str) -> str:
    parts = [p for p in _SENTENCE_END.split(text.strip()) if p.strip()]
    return parts[-1].strip() if parts else ""


def _tail_length(tail: str, language: str) -> int:
    if language == "zh":
        return len(re.sub(r"[\s\W_]+", "", tail))
    return len(re.findall(r"[\w']+", tail))


def is_closing(reply: str, language: str) -> bool:
    sentence = last_sentence(reply)
    if not sentence or _QUESTION.search(sentence):
        return False
    body = _TRAILING.sub("", sentence).lower()
    max_tail, phrases = _rules(language)
    for phrase in phrases:
        pattern = re.escape(phrase) if language == "zh" else r"\b" + re.escape(phrase) + r"\b"
        for match in re.finditer(pattern, body):
            if _tail_length(body[match.end():], language) <= max_tail:
                return True
    return False
