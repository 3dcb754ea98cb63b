"""The response check σ: a counselor reply is accepted only when it is short and is plain conversational text.

Rejected: longer than the limit (200 characters in Chinese; an equivalent number of words in English), a
newline, or an enumeration (1. / (1) / ① / 一、 / bullets).
"""
from __future__ import annotations

import re

from counselsim.config import RefinementConfig

_ENUMERATION = re.compile(
    r"(?:^|[\s:：;；,，。.!！?？])(?:\(?\d{1,2}[.)．、](?!\d)|（\d{1,2}）|\(\d{1,2}\))"  # 1.  1)  (1)  （1）
    r"|[\u2460-\u2473\u2776-\u277F]"  # ① .. ⑳, ❶ .. ❿
    r"|(?:^|[\s:：;；,，。！？])[一二三四五六七八九十]{1,2}、"  # 一、
    r"|(?:^|[:：])\s*[•●▪◦·\-\*]\s"  # a bullet opening the text or a list after a colon
)
_ROLE_PREFIX = re.compile(r"^\s*(?:counselor|counsellor|therapist|client|xiaotian|咨询师|来访者|小天)\s*[:：]\s*", re.I)


def clean(text: str) -> str:
    """Strip surrounding whitespace, quotes and a speaker label the model may have echoed."""
    text = _ROLE_PREFIX.sub("", text.strip())
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'“”":
        text = text[1:-1].strip()
    return text


def length(text: str, language: str) -> int:
    return len(text) if language == "zh" else len(text.split())


def rejection_reason(text: str, language: str, limits: RefinementConfig) -> str | None:
    """None when the reply is acceptable, else a short reason."""
    if not text.strip():
        return "empty"
    limit = limits.max_chars_zh if language == "zh" else limits.max_words_en
    if length(text, language) > limit:
        return "too_long"
    if "\n" in text or "\r" in text:
        return "newline"
    if _ENUMERATION.search(text):
        return "enumeration"
    return None
