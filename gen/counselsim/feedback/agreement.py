"""Agreement of the judge with expert ratings of the same items: per mechanism, macro-F1 over the three levels,
accuracy and a confusion matrix (the paper reports macro-F1 of 77-81 for its fine-tuned model and 42-59 for
GPT-4o and Claude-3.5-Sonnet; Li et al. 2026, as summarized in papers/counselor-feedback-on-resistance.txt).

Expert file: JSONL, one object per item: "session_id", "turn" (the counselor reply's index) and the four mechanism
levels (0, 1, 2); other keys (an expert's explanation, a rater id) are ignored. An unparseable judgement of a rated
item counts as a wrong answer (it lowers the recall of the expert's level) and has its own confusion column; it is
not a level, so it is not averaged into the macro-F1. Macro-F1 averages the F1 of the levels that occur among the
expert ratings or the parsed judgements (scikit-learn's convention).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from counselsim.config import format_validation_error
from counselsim.errors import InputError
from counselsim.schemas.feedback import LEVELS, MECHANISMS, item_id

UNPARSEABLE = "unparseable"
Levels = Mapping[str, int | None]


class ExpertRating(BaseModel):
    model_config = ConfigDict(extra="ignore")

    session_id: str = Field(min_length=1)
    turn: int = Field(ge=1)
    respect_for_autonomy: int = Field(ge=0, le=2)
    stance_alignment: int = Field(ge=0, le=2)
    emotional_resonance: int = Field(ge=0, le=2)
    conversational_orientation: int = Field(ge=0, le=2)


def load_expert_ratings(path: str | Path) -> dict[str, dict[str, int]]:
    """item_id -> the expert's four levels; InputError naming the file, line and field of a bad line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: expert ratings file not found")
    ratings: dict[str, dict[str, int]] = {}
    first_line: dict[str, int] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rating = ExpertRating.model_validate(json.loads(line))
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{n}: not a JSON object ({e.msg})") from None
        except ValidationError as e:
            raise InputError(format_validation_error(f"{path}:{n}", e)) from None
        key = item_id(rating.session_id, rating.turn)
        if key in ratings:
            raise InputError(f"{path}:{n}: session '{rating.session_id}' turn {rating.turn} is rated again (first on "
                             f"line {first_line[key]})")
        ratings[key] = {m: getattr(rating, m) for m in MECHANISMS}
        first_line[key] = n
    if not ratings:
        raise InputError(f"{path}: no expert ratings")
    return ratings


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def level_scores(gold: list[int], predicted: list[int | None]) -> dict[str, Any]:
    """Macro-F1, accuracy, per-level precision/recall/F1 and the confusion matrix (rows: expert level, columns:
    judged level, then unparseable)."""
    present = sorted({*gold, *(p for p in predicted if p is not None)})
    per_level = {}
    for level in present:
        tp = sum(g == level and p == level for g, p in zip(gold, predicted))
        precision = _ratio(tp, sum(p == level for p in predicted))
        recall = _ratio(tp, sum(g == level for g in gold))
        per_level[str(level)] = {"precision": precision, "recall": recall,
                                 "f1": _ratio(2 * precision * recall, precision + recall),
                                 "support": sum(g == level for g in gold)}
    columns = [*LEVELS, UNPARSEABLE]
    matrix = [[sum(g == row and (p if p is not None else UNPARSEABLE) == col for g, p in zip(gold, predicted))
               for col in columns] for row in LEVELS]
    return {
        "n": len(gold),
        "macro_f1": _ratio(sum(s["f1"] for s in per_level.values()), len(per_level)) if per_level else None,
        "accuracy": _ratio(sum(g == p for g, p in zip(gold, predicted)), len(gold)) if gold else None,
        "per_level": per_level,
        "confusion": {"rows": "expert level", "columns": [str(c) for c in columns], "levels": list(LEVELS),
                      "matrix": matrix},
    }


def agreement(judged: Iterable[tuple[str, Levels]], experts: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    """`judged`: (item_id, levels) of every feedback record, levels None where unparseable."""
    predictions = {key: levels for key, levels in judged if key in experts}
    keys = sorted(predictions)
    unparseable = sum(predictions[k][MECHANISMS[0]] is None for k in keys)
    return {
        "expert_items": len(experts),
        "compared": len(keys),
        "not_judged": len(experts) - len(keys),  # rated by the experts but absent from the feedback corpus
        "unparseable": unparseable,
        "mechanisms": {m: level_scores([experts[k][m] for k in keys], [predictions[k][m] for k in keys])
                       for m in MECHANISMS},
    }
