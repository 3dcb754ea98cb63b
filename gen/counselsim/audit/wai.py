"""Working alliance (WAI-O-S) scored by an LLM judge, as in SimPsyDial §4.2.1 (items: paper Figure 10, prompt:
Figure 11, both in data files: wai_items.yaml and prompts/en/wai.txt).

For every session, each of the 12 items and each of `rounds` rounds (distinct seeds), the judge reads the whole
conversation and the item and answers one score from 1 to 7: by guided choice among "1".."7" where the judge's
backend has structured output, otherwise parsed strictly (`parse_score`): an output that does not parse is
recorded as unparseable and left out, never guessed. Items worded against the alliance (4 and 10) score 8 - x.

Per session, an item's score is the mean of its parsed rounds, and a factor's (goal, task, bond) the mean of its
four item scores; a factor with an item that has no parsed round has no score. A call the engine could not serve
(retries exhausted, a conversation beyond the judge's context) is recorded as failed. The calls run as a job
(`audit.wai_job`): at most `concurrency` at once, each staged when done, resumable.
"""
from __future__ import annotations

import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

import polars as pl

from counselsim.audit.frames import CorpusFrames
from counselsim.config import PipelineConfig, WaiSettings
from counselsim.engines.parsing import ParseError
from counselsim.resources import prompt, read_yaml
from counselsim.transcript import transcript

ROLE = "judge"


def spec() -> dict[str, Any]:
    return read_yaml("wai_items.yaml")


def _scale() -> tuple[int, int]:
    scale = spec()["scale"]
    return scale["min"], scale["max"]


CHOICES = tuple(str(i) for i in range(_scale()[0], _scale()[1] + 1))
FACTORS: tuple[str, ...] = tuple(spec()["factors"])


@dataclass(frozen=True)
class Item:
    id: int
    factor: str
    reverse: bool
    text: str
    guideline: str

    def score(self, raw: int) -> int:
        """The judge's score as the alliance reads it: reversed (min + max - x, i.e. 8 - x) for reverse items."""
        low, high = _scale()
        return low + high - raw if self.reverse else raw


def load_items() -> list[Item]:
    return [Item(**item) for item in spec()["items"]]


def judge_name(cfg: PipelineConfig) -> str:
    model = cfg.models[cfg.roles[ROLE].model]
    return f"{model.path} ({model.backend} backend)"


# A standalone number: digits not glued to letters or other digits, with its sign and decimal part.
_NUMBER = re.compile(r"(?<!\w)-?\d+(?:[.,]\d+)*(?!\w)")


def parse_score(text: str) -> int | None:
    """Strict: the first standalone number in the output must be a single digit on the scale ("5", "Score: 5.",
    "**5**", "5/7"); otherwise (no number, "0", "8", "10", "-3", "5.5") the output is unparseable (None), whatever
    follows. Digits glued to letters ("WAI4") are not standalone numbers."""
    match = _NUMBER.search(text)
    if match is None or match.group() not in CHOICES:
        return None
    return int(match.group())


def parse_strict(text: str) -> int:
    """parse_score for the role caller: a score, or ParseError."""
    score = parse_score(text)
    if score is None:
        raise ParseError(f"no score on the {CHOICES[0]}-{CHOICES[-1]} scale")
    return score


def judge_prompt(conversation: str, item: Item) -> str:
    return prompt("en", "wai", conversation=conversation, questionnaire=item.text, guidelines=item.guideline)


@dataclass
class Call:
    """One judge call: its output (None if the call failed), the score parsed from it (None if unparseable or
    failed), and the engine error of a failed call."""

    session_id: str
    item: int
    round: int
    output: str | None
    raw: int | None
    error: str | None = None

    @property
    def unparseable(self) -> bool:
        return self.output is not None and self.raw is None


@dataclass
class WaiResult:
    judge: str
    guided: bool  # guided choice, or strict parsing
    temperature: float
    settings: WaiSettings
    corpus_sessions: int  # sessions in the corpus; `sessions` holds those judged
    sessions: pl.DataFrame  # per session: item_1..item_12, goal, task, bond, calls, unparseable, failed
    items: pl.DataFrame  # per item over sessions
    factors: pl.DataFrame  # per factor over sessions
    calls: list[Call] = field(repr=False, default_factory=list)

    def unparseable_outputs(self, n: int = 5) -> list[str]:
        """Up to n distinct outputs that did not parse, in call order."""
        return _first_distinct((c.output for c in self.calls if c.unparseable), n)

    def errors(self, n: int = 5) -> list[str]:
        """Up to n distinct engine errors of failed calls, in call order."""
        return _first_distinct((c.error for c in self.calls if c.error is not None), n)


def _first_distinct(texts: Iterable[str | None], n: int) -> list[str]:
    seen: dict[str, None] = {}
    for text in texts:
        if len(seen) == n:
            break
        if text is not None:
            seen.setdefault(text, None)
    return list(seen)


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def session_scores(calls: list[Call], sessions: list[tuple[str, str]], items: list[Item]) -> pl.DataFrame:
    """One row per (session_id, language) in `sessions`: each item's mean over its parsed rounds (reversed items
    as 8 - x), each factor's mean of its four items (null unless all have a score), and the counts of calls,
    unparseable outputs and failed calls."""
    by_item: dict[tuple[str, int], list[int]] = defaultdict(list)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"calls": 0, "unparseable": 0, "failed": 0})
    item_of = {item.id: item for item in items}
    for call in calls:
        c = counts[call.session_id]
        c["calls"] += 1
        c["unparseable"] += call.unparseable
        c["failed"] += call.output is None
        if call.raw is not None:
            by_item[call.session_id, call.item].append(item_of[call.item].score(call.raw))
    rows = []
    for session_id, language in sessions:
        means = {item.id: _mean(by_item[session_id, item.id]) for item in items}
        factors = {}
        for factor in FACTORS:
            values = [means[item.id] for item in items if item.factor == factor]
            factors[factor] = None if any(v is None for v in values) else statistics.fmean(values)
        rows.append({"session_id": session_id, "language": language,
                     **{f"item_{i}": v for i, v in means.items()}, **factors, **counts[session_id]})
    schema = {"session_id": pl.String, "language": pl.String, **{f"item_{item.id}": pl.Float64 for item in items},
              **{factor: pl.Float64 for factor in FACTORS}, "calls": pl.Int64, "unparseable": pl.Int64,
              "failed": pl.Int64}
    return pl.DataFrame(rows, schema=schema, orient="row")


def item_summary(scores: pl.DataFrame, calls: list[Call], items: list[Item]) -> pl.DataFrame:
    """Per item: the sessions with a score, the mean and sample std (ddof=1) of their item scores, and the
    unparseable and failed calls."""
    unparseable, failed = defaultdict(int), defaultdict(int)
    for call in calls:
        unparseable[call.item] += call.unparseable
        failed[call.item] += call.output is None
    rows = []
    for item in items:
        column = scores[f"item_{item.id}"]
        rows.append({"item": item.id, "factor": item.factor, "reverse": "yes" if item.reverse else "no",
                     "statement": item.text, "sessions": column.count(), "mean": column.mean(), "std": column.std(),
                     "unparseable": unparseable[item.id], "failed": failed[item.id]})
    return pl.DataFrame(rows, schema={"item": pl.Int64, "factor": pl.String, "reverse": pl.String,
                                      "statement": pl.String, "sessions": pl.Int64, "mean": pl.Float64,
                                      "std": pl.Float64, "unparseable": pl.Int64, "failed": pl.Int64}, orient="row")


def factor_summary(scores: pl.DataFrame) -> pl.DataFrame:
    """Per factor: the sessions with a score, their mean and sample std (ddof=1)."""
    rows = [{"factor": factor, "sessions": scores[factor].count(), "mean": scores[factor].mean(),
             "std": scores[factor].std()} for factor in FACTORS]
    return pl.DataFrame(rows, schema={"factor": pl.String, "sessions": pl.Int64, "mean": pl.Float64,
                                      "std": pl.Float64}, orient="row")


def conversations(frames: CorpusFrames, max_sessions: int | None) -> list[tuple[str, str, str]]:
    """(session_id, language, rendered conversation) of the sessions to judge, in corpus order."""
    sessions = frames.sessions.select("session_id", "language")
    if max_sessions is not None:
        sessions = sessions.head(max_sessions)
    lines = (frames.turns.filter(pl.col("text").is_not_null())
             .group_by("session_id", maintain_order=True).agg(pl.col("speaker"), pl.col("text")))
    by_session = {sid: list(zip(speakers, texts)) for sid, speakers, texts in lines.iter_rows()}
    return [(sid, language, conversation_text(by_session.get(sid, []), language))
            for sid, language in sessions.iter_rows()]


def conversation_text(lines: Iterable[tuple[str, str]], language: str) -> str:
    """The whole conversation as the judge reads it (counselsim.transcript), unclipped."""
    return transcript(((i, speaker, text) for i, (speaker, text) in enumerate(lines)), language)


def summarize(frames: CorpusFrames, cfg: PipelineConfig, sessions: list[tuple[str, str]], calls: list[Call],
              guided: bool) -> WaiResult:
    """The WAI result of the judge `calls` over `sessions` ((session_id, language), in corpus order)."""
    items = load_items()
    scores = session_scores(calls, sessions, items)
    return WaiResult(judge=judge_name(cfg), guided=guided, temperature=cfg.roles[ROLE].temperature,
                     settings=cfg.stages.wai, corpus_sessions=frames.sessions.height, sessions=scores,
                     items=item_summary(scores, calls, items), factors=factor_summary(scores), calls=calls)
