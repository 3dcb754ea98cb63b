"""The response check σ: a counselor reply is accepted only when it is short and is plain conversational text.

Rejected: empty, longer than the limit (200 characters in Chinese; an equivalent number of words in English), a
newline, or an enumeration in any form: numbered or lettered items (1. 2. / 1) / (1) / ① / a) b) / 一、二、), a
list opened by "1." or "一、", bullets, ordinal words in sequence (首先…其次, "First… Second…") and labelled steps
("Step 1:"). Numbers in prose are not items: "Is it 3. or 4. that worries you?", ages, times, "2 weeks". The
language-specific words are data (`data/enumerations.yaml`).
"""
from __future__ import annotations

import re
from functools import cache

from counselsim.config import RefinementConfig
from counselsim.resources import read_yaml

_CIRCLED = re.compile(r"[\u2460-\u2473\u2776-\u2793]")  # ① .. ⑳, ❶ .. ❿, ➀ .. ➓
_PARENTHESISED = re.compile(r"[(（](?:\d{1,2}|[一二三四五六七八九十])[)）]")  # (1) （1） （一）
_BULLET = re.compile(r"[•●▪◦■▶➤✔✓]|(?:^|[:：])\s*[-*·]\s")  # bullet signs; a dash item opening the text or a list
# "1." "2)" "3、" as item numbers: not part of a decimal, a time, a date or a larger number.
_NUMBER_ITEM = re.compile(r"(?<![\d.,:/])(\d{1,2})\s?[.．、)）](?!\d)")
_CHINESE_ITEM = re.compile(r"([一二三四五六七八九十])、(?![一二三四五六七八九十])")
_LETTER_ITEM = re.compile(r"(?<![A-Za-z])[(（]?([a-hA-H])[)）]")
_LIST_OPENING = re.compile(r"(?:^|[:：])\s*$")  # what may precede a lone first item
_CHINESE_DIGITS = "一二三四五六七八九十"
_EN_CLAUSE_START = r"(?:^|(?<=[.!?;:,])\s*|(?<=\band)\s+)"
_ROLE_PREFIX = re.compile(r"^\s*(?:counselor|counsellor|therapist|client|xiaotian|咨询师|来访者|小天)\s*[:：]\s*", re.I)


def clean(text: str) -> str:
    """Strip surrounding whitespace, quotes and a speaker label the model may have echoed."""
    text = _ROLE_PREFIX.sub("", text.strip())
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'“”":
        text = text[1:-1].strip()
    return text


def length(text: str, language: str) -> int:
    return len(text) if language == "zh" else len(text.split())


@cache
def _markers(language: str) -> tuple[list[list[re.Pattern[str]]], re.Pattern[str]]:
    spec = read_yaml("enumerations.yaml")[language]
    opening = _EN_CLAUSE_START if language != "zh" else ""
    boundary = r"\b(?![-'])" if language != "zh" else ""
    series = [[re.compile(f"{opening}(?:{m}){boundary}", re.I) for m in s] for s in spec["series"]]
    return series, re.compile("|".join(f"(?:{p})" for p in spec["labelled"]), re.I)


def _sequence(items: list[tuple[int, int]]) -> bool:
    """Items (number, position) hold a 1 followed later by a 2."""
    ones = [pos for number, pos in items if number == 1]
    return bool(ones) and any(number == 2 and pos > ones[0] for number, pos in items)


def _opens_list(items: list[tuple[int, int]], text: str) -> bool:
    """A lone item 1 that opens the text or follows a colon ("可以这样做：1.早点休息")."""
    return any(number == 1 and _LIST_OPENING.search(text[:pos]) for number, pos in items)


def _in_order(series: list[re.Pattern[str]], text: str) -> bool:
    """At least two markers of one ordinal series, in the series' order."""
    found = [m.start() for m in (p.search(text) for p in series) if m]
    return len(found) >= 2 and found == sorted(found)


def enumeration(text: str, language: str) -> bool:
    if _CIRCLED.search(text) or _PARENTHESISED.search(text) or _BULLET.search(text):
        return True
    numbers = [(int(m.group(1)), m.start()) for m in _NUMBER_ITEM.finditer(text)]
    chinese = [(_CHINESE_DIGITS.index(m.group(1)) + 1, m.start()) for m in _CHINESE_ITEM.finditer(text)]
    letters = [(ord(m.group(1).lower()) - ord("a") + 1, m.start()) for m in _LETTER_ITEM.finditer(text)]
    # A lone lettered "a)" is prose more often than a list, so letters need the a) … b) sequence.
    if any(_sequence(items) for items in (numbers, chinese, letters)):
        return True
    if _opens_list(numbers, text) or _opens_list(chinese, text):
        return True
    series, labelled = _markers(language)
    return bool(labelled.search(text)) or any(_in_order(s, text) for s in series)


def rejection_reason(text: str, language: str, limits: RefinementConfig) -> str | None:
    """None when the reply is acceptable, else a short reason."""
    if not text.strip():
        return "empty"
    limit = limits.max_chars_zh if language == "zh" else limits.max_words_en
    if length(text, language) > limit:
        return "too_long"
    if "\n" in text or "\r" in text:
        return "newline"
    if enumeration(text, language):
        return "enumeration"
    return None


def describe(language: str, limits: RefinementConfig) -> str:
    """σ in one sentence, from the same limits and data the check uses (the dataset card quotes it)."""
    examples = read_yaml("enumerations.yaml")[language]["examples"]
    limit = f"{limits.max_chars_zh} characters" if language == "zh" else f"{limits.max_words_en} words"
    return (f"A counselor reply is rejected and regenerated (up to {limits.max_attempts} attempts) when it is empty, "
            f"longer than {limit}, holds a newline, or holds an enumeration: numbered or lettered items "
            f"(1. 2. / 1) / (1) / ① / a) b) / 一、二、), a list opened by 1. or 一、, bullets, ordinal words in "
            f"sequence ({examples['series']}) or a labelled step ({examples['labelled']}); numbers in prose (ages, "
            f"times, \"3. or 4.\") are not enumerations.")
