"""Which counselor replies get feedback: those that directly follow a resistant client turn (the paper rates the
counselor turn right after a resistance utterance its detector found).

A labeled (rpc) corpus says which client turns resist; a plain session corpus, imported real ones included, does
not, so every reply that follows a client turn is a candidate whose client turn the labeler labels first.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Candidate:
    turn: int  # the counselor reply; the client turn is turn - 1
    label: str | None  # fine-grained PsyFIRE id when the corpus gives one
    needs_label: bool  # the client turn is not labeled yet: the labeler decides whether it resists


@dataclass
class SelectionCounts:
    """What selection saw over a corpus, for the run manifest."""

    sessions: int = 0
    replies_after_client: int = 0
    after_resistance: int = 0
    after_collaboration: int = 0
    after_unlabeled: int = 0  # the corpus label of the client turn was unparseable: not rated
    to_label: int = 0  # the labeler decides during the run

    def add(self, other: "SelectionCounts") -> None:
        for name, value in other.__dict__.items():
            setattr(self, name, getattr(self, name) + value)

    def fields(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Selection:
    candidates: list[Candidate] = field(default_factory=list)
    counts: SelectionCounts = field(default_factory=SelectionCounts)


def replies_after_client(rows: Sequence[dict[str, Any]]) -> list[int]:
    """Indices of counselor turns whose previous turn is a client turn."""
    return [i for i in range(1, len(rows))
            if rows[i]["speaker"] == "counselor" and rows[i - 1]["speaker"] == "client"]


def select(rows: Sequence[dict[str, Any]], corpus_labels: bool) -> Selection:
    """The candidates of one session's turns. With `corpus_labels`, only replies after a client turn labeled
    resistance (its fine-grained label may be missing when the labeler could not parse it); without, every reply
    after a client turn, to be labeled."""
    out = Selection()
    out.counts.sessions = 1
    for i in replies_after_client(rows):
        out.counts.replies_after_client += 1
        client = rows[i - 1]
        if not corpus_labels:
            out.counts.to_label += 1
            out.candidates.append(Candidate(i, None, needs_label=True))
        elif client.get("label_binary") == "resistance":
            out.counts.after_resistance += 1
            out.candidates.append(Candidate(i, client.get("label"), needs_label=False))
        elif client.get("label_binary") == "collaboration":
            out.counts.after_collaboration += 1
        else:
            out.counts.after_unlabeled += 1
    return out
