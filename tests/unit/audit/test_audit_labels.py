"""Label metrics on hand-built turn and session frames, values worked out by hand."""
import polars as pl
import pytest
from counselsim.audit import labels

# Session a (zh): client 0 unlabeled opening, counselor 1, client 2 injected defensive -> denying.blaming
# (resistance), counselor 3, client 4 collaboration. Session b (en): client 0 unparseable, counselor 1, client 2
# injected avoidant -> avoiding.minimizing (resistance), counselor 3 closes. Session c (en): client 0 unlabeled,
# counselor 1, client 2 injected controlling -> collaboration (the labeler missed it), counselor 3, client 4
# organic resistance.
TURNS = pl.DataFrame(
    {
        "session_id": ["a"] * 5 + ["b"] * 4 + ["c"] * 5,
        "language": ["zh"] * 5 + ["en"] * 9,
        "index": [0, 1, 2, 3, 4, 0, 1, 2, 3, 0, 1, 2, 3, 4],
        "speaker": ["client", "counselor"] * 2 + ["client"] + ["client", "counselor"] * 2 + ["client", "counselor"] * 2
        + ["client"],
        "label_binary": [None, None, "resistance", None, "collaboration", None, None, "resistance", None,
                         None, None, "collaboration", None, "resistance"],
        "label": [None, None, "denying.blaming", None, "collaboration", None, None, "avoiding.minimizing", None,
                  None, None, "collaboration", None, "arguing.challenging"],
        "label_group": [None, None, "denying", None, "collaboration", None, None, "avoiding", None,
                        None, None, "collaboration", None, "arguing"],
        "label_status": [None, None, "ok", None, "ok", "unparseable", None, "ok", None, None, None, "ok", None, "ok"],
        "injected": [False, False, True, False, False, False, False, True, False, False, False, True, False, False],
        "reaction_type": [None, None, "defensive", None, None, None, None, "avoidant", None,
                          None, None, "controlling", None, None],
    }
)
SESSIONS = pl.DataFrame(
    {
        "session_id": ["a", "b", "c"],
        "language": ["zh", "en", "en"],
        "episode": [{"turn_indices": [2, 4], "reaction_type": "defensive"}, None,
                    {"turn_indices": [2], "reaction_type": "controlling"}],
    }
)


def test_is_labeled():
    assert labels.is_labeled(TURNS)
    assert not labels.is_labeled(TURNS.drop("injected"))


def test_behaviour_distribution():
    groups = labels.behaviour_distribution(TURNS, ["label_group"])
    assert dict(groups.select("label_group", "n").iter_rows()) == {
        "arguing": 1, "avoiding": 1, "collaboration": 2, "denying": 1}
    assert groups["share"].sum() == pytest.approx(1.0)
    fine = labels.behaviour_distribution(TURNS, ["label_group", "label"])
    assert fine.filter(pl.col("label") == "denying.blaming")["share"].item() == pytest.approx(1 / 5)


def test_cooperation_rate():
    assert labels.cooperation_rate(TURNS).to_dicts() == [
        {"language": "en", "client_turns": 5, "unparseable": 1, "labeled": 3, "collaboration": 1, "rate": 1 / 3},
        {"language": "zh", "client_turns": 3, "unparseable": 0, "labeled": 2, "collaboration": 1, "rate": 0.5},
        {"language": "all", "client_turns": 8, "unparseable": 1, "labeled": 5, "collaboration": 2, "rate": 0.4},
    ]


def test_resistance_trigger_rate():
    # Counselor turns followed by a labeled client turn: a1 (-> resistance), a3 (-> collaboration), b1 (-> resistance),
    # c1 (-> collaboration), c3 (-> resistance). b3 closes its session.
    assert labels.resistance_trigger_rate(TURNS).to_dicts() == [
        {"language": "en", "counselor_turns": 3, "followed_by_resistance": 2, "rate": 2 / 3},
        {"language": "zh", "counselor_turns": 2, "followed_by_resistance": 1, "rate": 0.5},
        {"language": "all", "counselor_turns": 5, "followed_by_resistance": 3, "rate": 0.6},
    ]


def test_injected_agreement():
    rows = {r["language"]: r for r in labels.injected_agreement(TURNS).to_dicts()}
    assert rows["all"] == {"language": "all", "injected": 3, "injected_labeled": 3, "injected_resistance": 2,
                           "recall": 2 / 3, "other_labeled": 2, "other_resistance_share": 0.5}
    assert rows["en"]["recall"] == 0.5 and rows["en"]["other_resistance_share"] == 1.0
    assert rows["zh"]["recall"] == 1.0 and rows["zh"]["other_resistance_share"] == 0.0


def test_injected_confusion():
    assert labels.injected_confusion(TURNS).to_dicts() == [
        {"reaction_type": "avoidant", "avoiding.minimizing": 1, "collaboration": 0, "denying.blaming": 0},
        {"reaction_type": "controlling", "avoiding.minimizing": 0, "collaboration": 1, "denying.blaming": 0},
        {"reaction_type": "defensive", "avoiding.minimizing": 0, "collaboration": 0, "denying.blaming": 1},
    ]


def test_rates_are_null_without_labels():
    unlabeled = TURNS.with_columns(label_binary=pl.lit(None, pl.String))
    assert labels.cooperation_rate(unlabeled)["rate"].to_list() == [None, None, None]
    assert labels.injected_agreement(unlabeled)["recall"].to_list() == [None, None, None]
    assert labels.injected_confusion(unlabeled).columns == ["reaction_type"]


def test_episodes():
    assert labels.episode_stats(SESSIONS).to_dicts() == [
        {"language": "en", "sessions": 2, "with_episode": 1, "share": 0.5, "mean_length": 1.0, "max_length": 1},
        {"language": "zh", "sessions": 1, "with_episode": 1, "share": 1.0, "mean_length": 2.0, "max_length": 2},
        {"language": "all", "sessions": 3, "with_episode": 2, "share": 2 / 3, "mean_length": 1.5, "max_length": 2},
    ]
    assert labels.episode_reaction_types(SESSIONS).to_dicts() == [
        {"reaction_type": "controlling", "n": 1, "share": 0.5},
        {"reaction_type": "defensive", "n": 1, "share": 0.5},
    ]
