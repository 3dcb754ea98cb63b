"""What a role-card pool holds: counts by language, gender, age band, occupation, resistance and topic, and the
chief complaints that repeat exactly or nearly (found by the dedup stage's MinHash)."""
from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

from counselsim.dedup import DedupConfig, near_duplicate_clusters
from counselsim.schemas import Level, RoleCard

AGE_BANDS = ((18, "<18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (60, "45-59"), (None, "60+"))
NO_TOPIC = "(none)"
TEXT_ROWS = 20  # rows per count in the text table; --json has them all


def age_band(age: int) -> str:
    return next(label for upper, label in AGE_BANDS if upper is None or age < upper)


def _counts(values: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0])))


def _same_text(text: str) -> str:
    return " ".join(text.split())


def pool_stats(cards: Sequence[RoleCard], dedup: DedupConfig | None = None) -> dict:
    """JSON-ready statistics. Complaint groups list card ids in pool order."""
    bands = Counter(age_band(c.age) for c in cards)
    levels = Counter(c.resistance.level for c in cards)
    by_text: dict[str, list[str]] = {}
    for c in cards:
        by_text.setdefault(_same_text(c.chief_complaint), []).append(c.id)
    complaint = {c.id: _same_text(c.chief_complaint) for c in cards}
    order = {c.id: i for i, c in enumerate(cards)}
    clusters = near_duplicate_clusters(((c.id, c.chief_complaint) for c in cards), dedup or DedupConfig())
    # A cluster of one repeated text is already an exact duplicate.
    near = [sorted(ids, key=order.__getitem__) for ids in clusters if len({complaint[i] for i in ids}) > 1]
    return {
        "cards": len(cards),
        "language": _counts(c.language for c in cards),
        "gender": _counts(c.gender for c in cards),
        "age_band": {label: bands[label] for _, label in AGE_BANDS},
        "occupation": _counts(c.occupation for c in cards),
        "resistance": {level.value: levels[level] for level in Level},
        "topic": _counts(c.topic or NO_TOPIC for c in cards),
        "duplicate_complaints": [ids for ids in by_text.values() if len(ids) > 1],
        "near_duplicate_complaints": sorted(near, key=lambda ids: order[ids[0]]),
    }


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _fit(text: str, width: int) -> str:
    """`text` on one line, cut and padded to `width` display columns (CJK characters take two)."""
    text = " ".join(text.split())
    while _width(text) > width:
        text = text[:-2] + "…"
    return text + " " * (width - _width(text))


def format_stats(stats: dict) -> str:
    total = stats["cards"]
    lines = [f"{total} role cards"]
    for key, title in (("language", "language"), ("gender", "gender"), ("age_band", "age"),
                       ("occupation", "occupation"), ("resistance", "resistance to counseling"), ("topic", "topic")):
        rows = list(stats[key].items())
        lines += ["", title]
        for value, count in rows[:TEXT_ROWS]:
            lines.append(f"  {_fit(value, 28)} {count:>7}  {100 * count / total:5.1f}%")
        if len(rows) > TEXT_ROWS:
            lines.append(f"  … {len(rows) - TEXT_ROWS} more (--json lists all)")
    for key, title in (("duplicate_complaints", "duplicate chief complaints"),
                       ("near_duplicate_complaints", "near-duplicate chief complaints")):
        groups = stats[key]
        count = f"{len(groups)} group{'s' if len(groups) > 1 else ''}" if groups else "none"
        lines += ["", f"{title}: {count}"]
        lines += [f"  {', '.join(ids)}" for ids in groups]
    return "\n".join(lines)
