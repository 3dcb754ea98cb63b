"""Agreement with expert ratings: macro-F1 (checked against scikit-learn), accuracy, confusion matrices, and the
expert file's validation."""
from __future__ import annotations

import json

import pytest
from sklearn.metrics import confusion_matrix, f1_score

from counselsim.errors import InputError
from counselsim.feedback.agreement import agreement, level_scores, load_expert_ratings
from counselsim.schemas.feedback import MECHANISMS, item_id


def test_macro_f1_and_confusion_match_scikit_learn():
    gold = [0, 0, 1, 1, 2, 2, 2, 1]
    pred = [0, 1, 1, 1, 2, 0, 2, 2]
    scores = level_scores(gold, pred)
    assert scores["macro_f1"] == pytest.approx(f1_score(gold, pred, average="macro"))
    assert scores["accuracy"] == pytest.approx(5 / 8)
    matrix = [row[:3] for row in scores["confusion"]["matrix"]]
    assert matrix == confusion_matrix(gold, pred, labels=[0, 1, 2]).tolist()
    assert [row[3] for row in scores["confusion"]["matrix"]] == [0, 0, 0]


def test_unparseable_judgements_count_as_wrong_but_are_no_level():
    gold = [0, 1, 2, 2]
    pred = [0, 1, None, 2]
    scores = level_scores(gold, pred)
    as_wrong = [0, 1, -1, 2]
    assert scores["macro_f1"] == pytest.approx(f1_score(gold, as_wrong, labels=[0, 1, 2], average="macro"))
    assert scores["per_level"]["2"]["recall"] == 0.5
    assert scores["confusion"]["columns"] == ["0", "1", "2", "unparseable"]
    assert scores["confusion"]["matrix"][2] == [0, 0, 1, 1]


def test_a_level_nobody_used_is_left_out_of_the_average():
    scores = level_scores([2, 2, 1], [2, 2, 1])
    assert set(scores["per_level"]) == {"1", "2"} and scores["macro_f1"] == 1.0


def test_agreement_compares_the_items_both_sides_have():
    levels = dict.fromkeys(MECHANISMS, 2)
    experts = {item_id("s-1", 3): levels, item_id("s-1", 5): dict.fromkeys(MECHANISMS, 0),
               item_id("s-2", 1): levels}
    judged = [(item_id("s-1", 3), levels), (item_id("s-1", 5), dict.fromkeys(MECHANISMS)),
              (item_id("s-9", 1), levels)]
    result = agreement(judged, experts)
    assert (result["expert_items"], result["compared"], result["not_judged"], result["unparseable"]) == (3, 2, 1, 1)
    autonomy = result["mechanisms"]["respect_for_autonomy"]
    assert autonomy["n"] == 2 and autonomy["accuracy"] == 0.5
    assert autonomy["confusion"]["matrix"] == [[0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 1, 0]]


def _line(**kw) -> str:
    data = {"session_id": "s-1", "turn": 3, **dict.fromkeys(MECHANISMS, 1), **kw}
    return json.dumps(data)


def test_the_expert_file_is_read_by_item(tmp_path):
    path = tmp_path / "experts.jsonl"
    path.write_text(_line(explanation="ignored") + "\n\n" + _line(turn=5, stance_alignment=2) + "\n")
    ratings = load_expert_ratings(path)
    assert ratings[item_id("s-1", 5)]["stance_alignment"] == 2 and len(ratings) == 2


@pytest.mark.parametrize("lines, message", [
    ([_line(), "{not json"], r"experts.jsonl:2: not a JSON object"),
    ([_line(stance_alignment=3)], r"experts.jsonl:1: field 'stance_alignment'"),
    ([_line(turn=0)], r"experts.jsonl:1: field 'turn'"),
    ([json.dumps({"session_id": "s-1", "turn": 3})], r"experts.jsonl:1: field 'respect_for_autonomy'"),
    ([_line(), _line()], r"experts.jsonl:2: session 's-1' turn 3 is rated again \(first on line 1\)"),
    ([], r"no expert ratings"),
])
def test_a_bad_expert_file_names_file_line_and_field(tmp_path, lines, message):
    path = tmp_path / "experts.jsonl"
    path.write_text("\n".join(lines))
    with pytest.raises(InputError, match=message):
        load_expert_ratings(path)


def test_a_missing_expert_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_expert_ratings(tmp_path / "none.jsonl")
