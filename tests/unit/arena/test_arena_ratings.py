import math

import pytest
from counselsim.arena.ratings import (
    Battle,
    Dialogue,
    battle_count_matrix,
    bootstrap,
    bradley_terry,
    elo,
    position_bias,
    position_wins,
    table4,
    win_share_matrix,
)


def battle(winner, loser, position="A", dialogue="d", turn=1):
    return Battle(a=winner, b=loser, winner=winner, winner_position=position, dialogue=dialogue, turn=turn)


def test_elo_by_hand_when_one_entrant_always_wins():
    # K=4, 1000 each. Battle 1: expected 0.5, so +-2. Battle 2: expected 1/(1+10^(-4/400)) = 0.5057563.
    ratings = elo([battle("x", "y"), battle("x", "y")])
    second = 4 * (1 - 1 / (1 + 10 ** (-4 / 400)))
    assert ratings["x"] == pytest.approx(1002 + second, abs=1e-9)
    assert ratings["y"] == pytest.approx(998 - second, abs=1e-9)
    assert second == pytest.approx(1.976975, abs=1e-6)


def test_elo_depends_on_battle_order():
    forward = elo([battle("x", "y"), battle("y", "x")])
    backward = elo([battle("y", "x"), battle("x", "y")])
    assert forward["x"] < 1000 < backward["x"]  # the later battle weighs more: x lost it in the first log


def test_bradley_terry_two_entrants_by_hand():
    # 3 wins to 1: P(x beats y) = 3/4 at the maximum, a gap of 400 log10(3) = 190.85 rating points around 1000.
    battles = [battle("x", "y")] * 3 + [battle("y", "x")]
    exact = bradley_terry(battles, prior_sd=1e4)
    assert exact["x"] - exact["y"] == pytest.approx(400 * math.log10(3), abs=1e-3)
    assert exact["x"] + exact["y"] == pytest.approx(2000, abs=1e-6)
    assert bradley_terry(battles)["x"] - bradley_terry(battles)["y"] == pytest.approx(190.85, abs=2)


def test_bradley_terry_meets_the_score_equations():
    # At the maximum of the likelihood each entrant's expected wins equal its observed wins.
    battles = ([battle("x", "y")] * 5 + [battle("y", "x")] * 2 + [battle("y", "z")] * 4 + [battle("z", "y")] * 3
               + [battle("x", "z")] * 2 + [battle("z", "x")] * 2)
    ratings = bradley_terry(battles, prior_sd=1e4)
    strength = {k: (v - 1000) * math.log(10) / 400 for k, v in ratings.items()}
    for name in strength:
        observed = sum(b.winner == name for b in battles)
        expected = sum(1 / (1 + math.exp(strength[b.loser if b.winner == name else b.winner] - strength[name]))
                       for b in battles if name in (b.a, b.b))
        assert expected == pytest.approx(observed, abs=1e-4)


def test_bradley_terry_ignores_order_and_a_cycle_is_a_tie():
    cycle = [battle("x", "y"), battle("y", "z"), battle("z", "x")]
    ratings = bradley_terry(cycle)
    assert all(v == pytest.approx(1000, abs=1e-6) for v in ratings.values())
    assert bradley_terry(cycle[::-1]) == pytest.approx(ratings)


def test_an_entrant_that_never_loses_ranks_first_with_a_separate_interval():
    battles = [battle("top", other, turn=i) for i, other in enumerate(["mid", "low"] * 10)]
    battles += [battle("mid", "low", turn=100 + i) for i in range(7)] + [battle("low", "mid", turn=200 + i)
                                                                         for i in range(3)]
    ratings = bradley_terry(battles)
    assert all(math.isfinite(v) for v in ratings.values())
    assert max(ratings, key=ratings.get) == "top"
    intervals = bootstrap(battles, bradley_terry, rounds=200, seed=1)
    assert intervals["top"].low > max(intervals["mid"].high, intervals["low"].high)
    assert intervals["mid"].low <= ratings["mid"] <= intervals["mid"].high
    assert bootstrap(battles, bradley_terry, rounds=200, seed=1) == intervals  # seeded


def test_elo_bootstrap_interval_holds_the_rating_range():
    battles = [battle("x", "y")] * 6 + [battle("y", "x")] * 4
    intervals = bootstrap(battles, elo, rounds=300, seed=0)
    assert intervals["x"].low < intervals["x"].high
    assert intervals["x"].low + intervals["y"].high == pytest.approx(2000, abs=0.5)  # zero-sum, up to interpolation


def test_matrices_position_bias_and_table4():
    battles = [battle("x", "y", "A"), battle("x", "y", "B"), battle("y", "x", "A"), battle("x", "z", "A")]
    names = ["x", "y", "z"]
    assert battle_count_matrix(battles, names).tolist() == [[0, 3, 1], [3, 0, 0], [1, 0, 0]]
    share = win_share_matrix(battles, names)
    assert share[0, 1] == pytest.approx(2 / 3) and share[1, 0] == pytest.approx(1 / 3) and math.isnan(share[1, 2])
    bias = position_bias(battles)
    assert (bias.battles, bias.first_wins, bias.first_share) == (4, 3, 0.75)
    assert bias.p_value == pytest.approx(0.625)  # two-sided binomial, 3 of 4
    t4 = table4([Dialogue(("x", "y"), 4, 3), Dialogue(("x", "z"), 2, 1)], battles, names)
    assert (t4.dialogues, t4.utterances, t4.turns_per_dialogue) == (2, 10, 2.0)
    assert [(u.entrant, u.total, u.occurrences, u.average) for u in t4.upvotes] == [
        ("x", 3, 2, 1.5), ("y", 1, 1, 1.0), ("z", 0, 1, 0.0)]


def test_win_rate_by_position_per_entrant_by_hand():
    # The loser sat in the other position: x was shown as A in battles 1 and 4, y in battles 2 and 3.
    battles = [battle("x", "y", "A"), battle("x", "y", "B"), battle("y", "x", "A"), battle("x", "z", "A")]
    rows = {p.entrant: p for p in position_wins(battles, ["x", "y", "z"])}
    assert (rows["x"].shown_first, rows["x"].won_first, rows["x"].shown_second, rows["x"].won_second) == (2, 2, 2, 1)
    assert (rows["y"].shown_first, rows["y"].won_first, rows["y"].shown_second, rows["y"].won_second) == (2, 1, 1, 0)
    assert (rows["z"].shown_first, rows["z"].won_first, rows["z"].shown_second, rows["z"].won_second) == (0, 0, 1, 0)
