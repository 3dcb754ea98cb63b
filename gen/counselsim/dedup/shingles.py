"""Text → character n-gram shingles. Characters, not words: Chinese has no spaces, so a word tokeniser would
turn a whole sentence into one token."""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

TURN_SEPARATOR = "\n"


def session_text(turns: Sequence[dict]) -> str:
    """The text of a session: its turns in order. Speaker labels are left out: every session alternates the
    same two roles, so they would only add shingles that all sessions share."""
    return join_turns(t.get("text") for t in turns)


def join_turns(texts: Iterable[str | None]) -> str:
    return TURN_SEPARATOR.join(t or "" for t in texts)


def normalize(text: str) -> str:
    """NFKC (full-width → half-width forms), case-folded, whitespace runs collapsed to one space."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def shingles(text: str, n: int) -> set[str]:
    """Character n-grams of the normalised text (see `ngrams`)."""
    return ngrams(normalize(text), n)


def ngrams(t: str, n: int) -> set[str]:
    """Character n-grams of an already normalised text. A non-empty text shorter than n is one shingle,
    itself: with no n-grams at all, every short text would get the same (empty) signature and all would
    collide. An empty text has no shingles and so never matches anything."""
    if len(t) <= n:
        return {t} if t else set()
    return {t[i : i + n] for i in range(len(t) - n + 1)}


def jaccard(a: set, b: set) -> float:
    """Exact Jaccard similarity; 0.0 when both sets are empty (empty texts are not duplicates of anything)."""
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)
