"""Client fidelity: vocabulary overlap (Eq. 1), semantic consistency (Eq. 2), the random-mapping control and the
t-test, on hand-built pairs with values worked out by hand."""
import math

import numpy as np
import polars as pl
import pytest
from audit_builders import card, session, write_corpus
from counselsim.audit import fidelity
from counselsim.audit.frames import load_frames
from counselsim.simpsydial.agents import render_role_card
from scipy import stats


def test_vocabulary():
    assert fidelity.vocabulary("I don't feel OK, ok? Feel 2 times", "en") == {"i", "don't", "feel", "ok", "2", "times"}
    # Chinese by words (rjieba), not characters; punctuation is no word.
    assert fidelity.vocabulary("我很难过，真的很难过。OK ok", "zh") == {"我", "很", "难过", "真的", "ok"}
    assert fidelity.vocabulary("我和男友在一起一年多了", "zh") == {"我", "和", "男友", "在", "一起", "一年", "多", "了"}
    assert fidelity.vocabulary("", "en") == set()


# Hand-worked pairs. en1: V(R) = {tired, student, feels, sad}, V(S) ∩ V(R) = {tired, sad} -> 2/4.
# en2: V(R) = {boss, problems, at, work}, ∩ = {boss} -> 1/4. Crossed over, the two share no token -> 0.
# zh: V(R) = {难过, 的, 学生, ok}, V(S) = {我, 很, 难过, ok}, ∩ = {难过, ok} -> 2/4; it has no partner.
PAIRS = pl.DataFrame(
    {
        "session_id": ["en1", "en2", "zh"],
        "language": ["en", "en", "zh"],
        "client_text": ["I feel sad and tired", "My boss yells", "我很难过。OK"],
        "card_text": ["Tired student, feels sad", "Boss problems at work", "难过的学生，ok"],
        "partner": [1, 0, None],
    },
    schema_overrides={"partner": pl.UInt32},
)


def test_vocabulary_overlap():
    scores = fidelity.vocabulary_overlap(PAIRS)
    assert scores.to_dicts() == [
        {"session_id": "en1", "language": "en", "mapped": 0.5, "random": 0.0},
        {"session_id": "en2", "language": "en", "mapped": 0.25, "random": 0.0},
        {"session_id": "zh", "language": "zh", "mapped": 0.5, "random": None},
    ]


def test_overlap_of_an_empty_card_is_null():
    pairs = PAIRS.head(1).with_columns(card_text=pl.lit("..."), partner=pl.lit(None, pl.UInt32))
    assert fidelity.vocabulary_overlap(pairs)["mapped"].to_list() == [None]


class FixedEmbedder:
    name = "fixed"
    vectors = {"Tired student, feels sad": [1, 0], "Boss problems at work": [0, 1], "难过的学生，ok": [2, 0],
               "I feel sad and tired": [1, 1], "My boss yells": [3, 4], "我很难过。OK": [1, 0], "": [0, 0]}

    def encode(self, texts):
        return np.array([self.vectors[t] for t in texts], dtype=float)


def test_semantic_consistency():
    scores = fidelity.semantic_consistency(PAIRS, FixedEmbedder())
    # cos([1,0],[1,1]) = 1/√2; cos([0,1],[3,4]) = 4/5; crossed: cos([0,1],[1,1]) = 1/√2, cos([1,0],[3,4]) = 3/5
    assert scores["mapped"].to_list() == pytest.approx([1 / math.sqrt(2), 0.8, 1.0])
    assert scores["random"].to_list()[:2] == pytest.approx([1 / math.sqrt(2), 0.6])
    assert scores["random"][2] is None


def test_compare_is_welchs_two_sided_t_test():
    scores = pl.DataFrame({"language": ["en"] * 3, "mapped": [0.5, 0.25, 0.75], "random": [0.0, 0.5, None]})
    row = fidelity.compare(scores).row(0, named=True)
    # mapped: mean 0.5, var 0.0625; random: mean 0.25, var 0.125.
    # Welch: se² = 0.0625/3 + 0.125/2 = 1/12, t = 0.25 / √(1/12) = √3/2,
    # df = (1/12)² / ((0.0625/3)²/2 + (0.125/2)²/1) = 32/19.
    assert (row["mapped_n"], row["mapped_mean"], row["mapped_std"]) == (3, 0.5, 0.25)
    assert (row["random_n"], row["random_mean"]) == (2, 0.25)
    assert row["random_std"] == pytest.approx(0.125 ** 0.5)
    assert row["t"] == pytest.approx(math.sqrt(3) / 2)
    assert row["p"] == pytest.approx(2 * stats.t.sf(math.sqrt(3) / 2, 32 / 19))


def test_compare_needs_two_values_per_group():
    row = fidelity.compare(pl.DataFrame({"language": ["zh"], "mapped": [0.5], "random": [None]},
                                        schema_overrides={"random": pl.Float64})).row(0, named=True)
    assert row["mapped_n"] == 1 and row["random_n"] == 0 and row["t"] is None and row["p"] is None


@pytest.mark.parametrize("n", range(2, 12))
def test_derangement_has_no_fixed_point(n):
    for seed in range(20):
        order = fidelity.derangement(n, np.random.default_rng(seed))
        assert sorted(order) == list(range(n))
        assert all(order[i] != i for i in range(n))


def test_partners_stay_within_language_and_skip_shared_cards():
    languages = ["en", "zh", "en", "en", "zh", "de"]
    cards = ["a", "x", "b", "c", "x", "d"]
    got = fidelity.partners(languages, cards, seed=3)
    assert got == fidelity.partners(languages, cards, seed=3)  # seeded
    assert got[1] is None and got[4] is None  # the two zh sessions share their card
    assert got[5] is None  # the only de session
    for i in (0, 2, 3):
        assert got[i] in (0, 2, 3) and got[i] != i


def test_pairs_from_a_corpus(tmp_path):
    cards = [card("c1", complaint="I cannot sleep at night."), card("c2", complaint="My boss yells at me daily.")]
    write_corpus(str(tmp_path), [
        session("s1", [("client", "Hello"), ("counselor", "Hi"), ("client", "I cannot sleep"), ("counselor", "Bye")],
                role_card=cards[0]),
        session("s2", [("client", "Hello"), ("counselor", "Hi"), ("client", "My boss"), ("counselor", "Bye")],
                role_card=cards[1]),
    ])
    frames = load_frames(str(tmp_path))
    pairs = fidelity.pairs(frames.sessions, frames.turns, seed=0)
    assert pairs["client_text"].to_list() == ["Hello\nI cannot sleep", "Hello\nMy boss"]
    assert pairs["card_text"].to_list() == [render_role_card(c) for c in cards]
    assert pairs["partner"].to_list() == [1, 0]


def test_partial_cards_give_their_complaint_or_no_score():
    pairs = PAIRS.with_columns(card_text=pl.Series(["Tired student, feels sad", "", "难过的学生，ok"]))
    assert fidelity.vocabulary_overlap(pairs)["mapped"].to_list() == [0.5, None, 0.5]
    scores = fidelity.semantic_consistency(pairs, FixedEmbedder())
    assert scores["mapped"][1] is None and scores["random"][0] is None  # en1's partner has no card text


def test_default_embedder_runs_offline():
    from counselsim.audit.embeddings import load_embedder

    embedder = load_embedder(device="cpu")
    assert "multilingual-e5-small" in embedder.name
    pairs = PAIRS.with_columns(client_text=pl.col("card_text"))
    scores = fidelity.semantic_consistency(pairs, embedder)
    assert scores["mapped"].to_list() == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)
    assert scores["random"][0] < 0.99
