"""The labeler scored on the injected turns, which are gold resistance of a known reaction type.

Binary: an injected client turn is a positive, every other client turn a negative; the labeler predicts positive
when it labels the turn resistance. Per reaction type: an injected turn of type T is a positive for T; the labeler
predicts T when its fine-grained PsyFIRE label has T as primary reaction type (rpc_reactions.yaml explains the map).
Unparseable turns count as not predicted. Clients in the input also resist on their own, so a resistance label on
a turn that was not injected counts against precision although it may be right: precision is a lower bound and
recall is the cleaner number.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from counselsim.rpc.taxonomy import Taxonomy
from counselsim.schemas.rpc import RESISTANT_REACTIONS

NOTE = ("gold = injected client turns; other client turns count as negatives, so precision is a lower bound "
        "(input clients may resist on their own); per type, a fine-grained label predicts the reaction type it is "
        "primary for (gen/taxonomies/rpc_reactions.yaml)")


def prf(tp: int, fp: int, fn: int) -> dict[str, Any]:
    """Precision, recall, F1 and the counts; a ratio with nothing to divide by is None."""
    return {
        "tp": tp, "fp": fp, "fn": fn,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None,
    }


def _mean(values: list[float | None]) -> float | None:
    values = [v or 0.0 for v in values]
    return sum(values) / len(values) if values else None


def self_check(turns: Iterable[dict[str, Any]], taxonomy: Taxonomy,
               types: Sequence[str] = RESISTANT_REACTIONS) -> dict[str, Any]:
    client = [t for t in turns if t["speaker"] == "client"]
    injected = [t for t in client if t.get("injected")]
    resistance = [t.get("label_binary") == "resistance" for t in client]
    gold = [bool(t.get("injected")) for t in client]

    binary = prf(sum(g and p for g, p in zip(gold, resistance)), sum(p and not g for g, p in zip(gold, resistance)),
                 sum(g and not p for g, p in zip(gold, resistance)))
    binary["support"] = len(injected)

    per_type = {}
    predicted = [taxonomy.reaction_of(t.get("label")) for t in client]
    for name in types:
        g = [bool(t.get("injected")) and t.get("reaction_type") == name for t in client]
        p = [x == name for x in predicted]
        scores = prf(sum(a and b for a, b in zip(g, p)), sum(b and not a for a, b in zip(g, p)),
                     sum(a and not b for a, b in zip(g, p)))
        per_type[name] = {**scores, "support": sum(g), "predicted": sum(p)}
    present = [s for s in per_type.values() if s["support"]]
    micro = prf(sum(s["tp"] for s in per_type.values()), sum(s["fp"] for s in per_type.values()),
                sum(s["fn"] for s in per_type.values()))
    macro = {k: _mean([s[k] for s in present]) for k in ("precision", "recall", "f1")} if present else \
        {"precision": None, "recall": None, "f1": None}

    labeled_injected = [t for t in injected if t.get("label")]
    agree = sum(taxonomy.reaction_of(t["label"]) == t["reaction_type"] for t in labeled_injected)
    labels_of_injected: dict[str, Counter] = {}
    for t in injected:
        labels_of_injected.setdefault(t["reaction_type"], Counter())[t.get("label") or "unparseable"] += 1

    status = Counter(t.get("label_status") for t in client)
    return {
        "note": NOTE,
        "client_turns": len(client),
        "labeled": status.get("ok", 0),
        "unparseable": status.get("unparseable", 0),
        "injected_turns": len(injected),
        "injected_unparseable": sum(t.get("label_status") == "unparseable" for t in injected),
        "binary": binary,
        "per_type": per_type,
        "types_micro": micro,
        "types_macro": macro,
        "type_agreement_on_injected": agree / len(labeled_injected) if labeled_injected else None,
        "labels_of_injected": {k: dict(sorted(v.items())) for k, v in sorted(labels_of_injected.items())},
    }


def episode_summary(sessions: Iterable[dict[str, Any]]) -> dict[str, Any]:
    episodes = [s["episode"] for s in sessions]
    with_episode = [e for e in episodes if e]
    return {
        "sessions": len(episodes),
        "with_episode": len(with_episode),
        "episode_turns": dict(sorted(Counter(len(e["turn_indices"]) for e in with_episode).items())),
        "reaction_types": dict(sorted(Counter(e["reaction_type"] for e in with_episode).items())),
    }


def corpus_self_check(part_paths: Sequence[str | Path], taxonomy: Taxonomy) -> dict[str, Any]:
    """The self-check over the records of a run (its staged part files)."""
    sessions: list[dict[str, Any]] = []
    for path in part_paths:
        sessions += pq.read_table(path, columns=["session_id", "turns", "episode"]).to_pylist()
    report = self_check((t for s in sessions for t in s["turns"]), taxonomy)
    report["episodes"] = episode_summary(sessions)
    return report
