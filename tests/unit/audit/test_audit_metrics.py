"""Corpus statistics on a three-session corpus, every value worked out by hand."""
import polars as pl
import pytest
from audit_builders import card, session, write_corpus
from counselsim.audit import metrics
from counselsim.audit.frames import length_expr, load_frames
from counselsim.simpsydial.refinement import length


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("corpus"))
    write_corpus(out, [
        # en, 2 pairs; client lengths 1, 3; counselor 3, 2 (the last needed 3 attempts)
        session("s1", [("client", "Hello"), ("counselor", "Hi there friend"), ("client", "I am sad"),
                       ("counselor", "Take care", 3)]),
        # en, 3 pairs; client 1, 1, 3; counselor 1, 3, 2
        session("s2", [("client", "Hello"), ("counselor", "Hi"), ("client", "ok"),
                       ("counselor", "What happened today?"), ("client", "Nothing much really"),
                       ("counselor", "Goodbye now")], termination="turn_cap"),
        # zh, 2 pairs; client 2, 4 characters; counselor 3, 2 (the last needed 2 attempts)
        session("s3", [("client", "你好"), ("counselor", "你好呀"), ("client", "我很难过"), ("counselor", "再见", 2)],
                role_card=card("zh-card", "zh", "我考试失败以后一直睡不着觉。"), language="zh"),
    ])
    return load_frames(out)


def test_length_counts_like_the_refinement_check():
    texts = ["", "one", "two  words", "tab\tand\nnewline ", " lead", "你好，世界"]
    for language in ("en", "zh"):
        df = pl.DataFrame({"text": texts, "language": [language] * len(texts)})
        got = df.select(length_expr(pl.col("text"), pl.col("language")))["text"].to_list()
        assert got == [length(t, language) for t in texts]


def test_table1(frames):
    t1 = metrics.table1(frames.sessions, frames.turns)
    assert t1.to_dicts() == [
        {"language": "en", "conversations": 2, "avg_turns": 2.5, "client_utterances": 5, "counselor_utterances": 5,
         "avg_client_length": 1.8, "avg_counselor_length": 2.2, "length_unit": "words"},
        {"language": "zh", "conversations": 1, "avg_turns": 2.0, "client_utterances": 2, "counselor_utterances": 2,
         "avg_client_length": 3.0, "avg_counselor_length": 2.5, "length_unit": "characters"},
    ]


def test_turn_pair_distribution(frames):
    pairs = metrics.turn_pairs(frames.sessions, frames.turns)
    assert dict(pairs.select("session_id", "turn_pairs").iter_rows()) == {"s1": 2, "s2": 3, "s3": 2}
    en = metrics.summary(pairs, "turn_pairs", ["language"]).row(0, named=True)
    assert en["n"] == 2 and en["mean"] == 2.5 and en["min"] == 2 and en["max"] == 3
    assert en["std"] == pytest.approx(0.5 ** 0.5)  # sample std of (2, 3)
    assert (en["p25"], en["median"], en["p75"]) == (2.25, 2.5, 2.75)


def test_length_distribution(frames):
    summary = metrics.summary(frames.turns, "length", ["language", "speaker"])
    rows = {(r["language"], r["speaker"]): r for r in summary.to_dicts()}
    assert rows["en", "client"]["n"] == 5 and rows["en", "client"]["median"] == 1  # 1, 1, 1, 3, 3
    assert rows["zh", "counselor"]["mean"] == 2.5 and rows["zh", "counselor"]["max"] == 3


def test_termination(frames):
    assert metrics.termination(frames.sessions).to_dicts() == [
        {"language": "en", "termination_reason": "farewell", "n": 1, "share": 0.5},
        {"language": "en", "termination_reason": "turn_cap", "n": 1, "share": 0.5},
        {"language": "zh", "termination_reason": "farewell", "n": 1, "share": 1.0},
    ]


def test_regeneration(frames):
    rows = {(r["language"], r["speaker"]): r for r in metrics.regeneration(frames.turns).to_dicts()}
    assert rows["en", "counselor"] == {"language": "en", "speaker": "counselor", "turns": 5, "regenerated_turns": 1,
                                       "regenerated_share": 0.2, "extra_generations": 2, "extra_per_turn": 0.4}
    assert rows["en", "client"]["regenerated_turns"] == 0
    assert rows["zh", "counselor"]["regenerated_share"] == 0.5 and rows["zh", "counselor"]["extra_generations"] == 1
    assert metrics.sessions_with_regeneration(frames.turns).to_dicts() == [
        {"language": "en", "sessions": 2, "with_regeneration": 1, "share": 0.5},
        {"language": "zh", "sessions": 1, "with_regeneration": 1, "share": 1.0},
    ]
