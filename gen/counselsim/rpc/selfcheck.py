"""The labeler scored against gold it did not produce: the injected turns (gold resistance of a known reaction type)
and, on a live-resistant input corpus, the reaction types its clients declared.

PsyFIRE labels against the injected turns. Binary: an injected client turn is a positive, every other client turn a
negative; the labeler predicts positive when it labels the turn resistance. Per reaction type: an injected turn of
type T is a positive for T; the labeler predicts T when its fine-grained PsyFIRE label has T as primary reaction
type (rpc_reactions.yaml explains the map).

Reaction labels (the labeler's seven types) against
- the declared types (turns with reaction_source "declared": the client's own reaction decision): a multi-class
  score over those turns, per type for all seven, micro and macro, with the confusion counts;
- the injected types: per resistant type over every client turn, as for the PsyFIRE labels.

Unparseable labels count as not predicted (a miss for the gold type, no false positive for any). Clients in the
input also resist on their own, so against the injected gold a resistance label on a turn that was not injected
counts against precision although it may be right: there precision is a lower bound and recall is the cleaner
number. Micro averages pool the counts of the scored types; macro averages are over the types with gold support.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from counselsim.rpc.taxonomy import Taxonomy
from counselsim.schemas.rpc import COOPERATIVE_REACTIONS, RESISTANT_REACTIONS

REACTIONS = RESISTANT_REACTIONS + COOPERATIVE_REACTIONS
UNPARSEABLE = "unparseable"
NOTE = ("gold = injected client turns; other client turns count as negatives, so precision is a lower bound "
        "(input clients may resist on their own); per type, a fine-grained label predicts the reaction type it is "
        "primary for (gen/taxonomies/rpc_reactions.yaml)")
REACTION_NOTE = ("the labeler's seven-type reaction_label; 'declared': gold = the type a resistant live client "
                 "declared, over the declared turns; 'injected': gold = injected turns, other client turns count as "
                 "negatives (precision a lower bound); unparseable labels count as not predicted")


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


def type_scores(gold: Sequence[str | None], predicted: Sequence[str | None], types: Sequence[str]) -> dict[str, Any]:
    """Per type: a unit whose gold is T is a positive for T, one predicted T a prediction of T (None: no gold,
    or no prediction). The per-type scores with support and predictions, their micro and macro averages."""
    per_type = {}
    for name in types:
        g = [x == name for x in gold]
        p = [x == name for x in predicted]
        scores = prf(sum(a and b for a, b in zip(g, p)), sum(b and not a for a, b in zip(g, p)),
                     sum(a and not b for a, b in zip(g, p)))
        per_type[name] = {**scores, "support": sum(g), "predicted": sum(p)}
    present = [s for s in per_type.values() if s["support"]]
    micro = prf(sum(s["tp"] for s in per_type.values()), sum(s["fp"] for s in per_type.values()),
                sum(s["fn"] for s in per_type.values()))
    macro = {k: _mean([s[k] for s in present]) for k in ("precision", "recall", "f1")} if present else \
        {"precision": None, "recall": None, "f1": None}
    return {"per_type": per_type, "micro": micro, "macro": macro}


def confusion(gold: Iterable[str], predicted: Iterable[str | None]) -> dict[str, dict[str, int]]:
    """gold type -> {predicted type or "unparseable": count}."""
    out: dict[str, Counter] = {}
    for g, p in zip(gold, predicted):
        out.setdefault(g, Counter())[p or UNPARSEABLE] += 1
    return {k: dict(sorted(v.items())) for k, v in sorted(out.items())}


def _injected_gold(turn: dict[str, Any]) -> str | None:
    return turn.get("reaction_type") if turn.get("injected") else None


def reaction_check(client: list[dict[str, Any]]) -> dict[str, Any]:
    """The reaction labels of these client turns against the declared and the injected types."""
    status = Counter(t.get("reaction_label_status") for t in client)
    declared = [t for t in client if t.get("reaction_source") == "declared"]
    injected = [t for t in client if t.get("injected")]
    declared_gold = [t["reaction_type"] for t in declared]
    declared_labels = [t.get("reaction_label") for t in declared]
    return {
        "note": REACTION_NOTE,
        "labeled": status.get("ok", 0),
        "unparseable": status.get(UNPARSEABLE, 0),
        "labels": dict(sorted(Counter(t["reaction_label"] for t in client if t.get("reaction_label")).items())),
        "declared": {
            "support": len(declared),
            "unparseable": sum(p is None for p in declared_labels),
            **type_scores(declared_gold, declared_labels, REACTIONS),
            "confusion": confusion(declared_gold, declared_labels),
        },
        "injected": {
            "support": len(injected),
            "unparseable": sum(t.get("reaction_label") is None for t in injected),
            **type_scores([_injected_gold(t) for t in client], [t.get("reaction_label") for t in client],
                          RESISTANT_REACTIONS),
            "confusion": confusion([t["reaction_type"] for t in injected], [t.get("reaction_label") for t in injected]),
        },
    }


def self_check(turns: Iterable[dict[str, Any]], taxonomy: Taxonomy,
               types: Sequence[str] = RESISTANT_REACTIONS) -> dict[str, Any]:
    client = [t for t in turns if t["speaker"] == "client"]
    injected = [t for t in client if t.get("injected")]
    resistance = [t.get("label_binary") == "resistance" for t in client]
    gold = [bool(t.get("injected")) for t in client]

    binary = prf(sum(g and p for g, p in zip(gold, resistance)), sum(p and not g for g, p in zip(gold, resistance)),
                 sum(g and not p for g, p in zip(gold, resistance)))
    binary["support"] = len(injected)

    psyfire = type_scores([_injected_gold(t) for t in client], [taxonomy.reaction_of(t.get("label")) for t in client],
                          types)

    labeled_injected = [t for t in injected if t.get("label")]
    agree = sum(taxonomy.reaction_of(t["label"]) == t["reaction_type"] for t in labeled_injected)
    labels_of_injected = confusion([t["reaction_type"] for t in injected], [t.get("label") for t in injected])

    status = Counter(t.get("label_status") for t in client)
    return {
        "note": NOTE,
        "client_turns": len(client),
        "labeled": status.get("ok", 0),
        "unparseable": status.get(UNPARSEABLE, 0),
        "injected_turns": len(injected),
        "injected_unparseable": sum(t.get("label_status") == UNPARSEABLE for t in injected),
        "binary": binary,
        "per_type": psyfire["per_type"],
        "types_micro": psyfire["micro"],
        "types_macro": psyfire["macro"],
        "type_agreement_on_injected": agree / len(labeled_injected) if labeled_injected else None,
        "labels_of_injected": labels_of_injected,
        "reaction_label": reaction_check(client),
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
