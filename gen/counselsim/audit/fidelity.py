"""Client fidelity (SimPsyDial §4.1): does a simulated client talk like its role card?

For each session, S = u1 ⊕ ... ⊕ ut is the concatenation of all its client utterances (the fixed opening greeting
included) and R the role card as the client model read it (`render_role_card`).

- Vocabulary overlap rate (Eq. 1): |V(S) ∩ V(R)| / |V(R)|.
- Semantic consistency (Eq. 2): the cosine similarity of the embeddings of R and S.

Each is computed for the true mapping (S with its own card) and for a random-mapping control (S with the card of
another session of the same language, paired by a seeded derangement), and the two groups are compared with
Welch's two-sided t-test.
"""
from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

from counselsim.simpsydial.agents import render_role_card
from counselsim.audit.embeddings import Embedder
from counselsim.schemas import RoleCard

# Vocabulary V(text), on the lowercased text; no stop-word removal, no stemming.
#   zh: every CJK character (Unicode script Han) is a token, and so is every run of ASCII letters and digits.
#   en: words of ASCII letters and digits, with inner apostrophes kept ("don't" is one token).
ZH_TOKENS = r"\p{Han}|[a-z0-9]+"
EN_TOKENS = r"[a-z0-9]+(?:['’][a-z0-9]+)*"


def vocabulary(text: pl.Expr, language: pl.Expr) -> pl.Expr:
    """The set of tokens of each text, as a list without duplicates."""
    lower = text.str.to_lowercase()
    tokens = (pl.when(language == "zh").then(lower.str.extract_all(ZH_TOKENS))
              .otherwise(lower.str.extract_all(EN_TOKENS)))
    return tokens.list.unique()


def overlap_rate(client_vocab: pl.Expr, card_vocab: pl.Expr) -> pl.Expr:
    """Eq. 1; null for a card without tokens."""
    size = card_vocab.list.len()
    return pl.when(size > 0).then(client_vocab.list.set_intersection(card_vocab).list.len() / size)


def derangement(n: int, rng: np.random.Generator) -> list[int]:
    """A random permutation of range(n) without fixed points, by Sattolo's algorithm (a single random cycle)."""
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(rng.integers(0, i))
        order[i], order[j] = order[j], order[i]
    return order


def partners(languages: list[str], card_ids: list[str], seed: int) -> list[int | None]:
    """For each session, the row of the session whose card it is paired with in the random-mapping control.

    Sessions are deranged within their language, so the control never pairs a Chinese client with an English
    card. A pairing that lands on the same role card (sessions sharing a card) is no control and is left out
    (None), as is the only session of a language."""
    rng = np.random.default_rng(seed)
    out: list[int | None] = [None] * len(languages)
    for language in sorted(set(languages)):
        rows = [i for i, lang in enumerate(languages) if lang == language]
        if len(rows) < 2:
            continue
        for i, j in zip(rows, (rows[k] for k in derangement(len(rows), rng)), strict=True):
            out[i] = j if card_ids[j] != card_ids[i] else None
    return out


def pairs(sessions: pl.DataFrame, turns: pl.DataFrame, seed: int) -> pl.DataFrame:
    """One row per session: session_id, language, client_text (S), card_text (R) and partner (the row of the
    control's card, or null)."""
    client = (
        turns.filter(pl.col("speaker") == "client")
        .group_by("session_id")
        .agg(client_text=pl.col("text").sort_by("index").str.join("\n"))
    )
    cards = [render_role_card(RoleCard.model_validate(card)) for card in sessions["role_card"].to_list()]
    partner = partners(sessions["language"].to_list(), sessions["role_card_id"].to_list(), seed)
    return (
        sessions.select("session_id", "language")
        .with_columns(card_text=pl.Series(cards, dtype=pl.String), partner=pl.Series(partner, dtype=pl.UInt32))
        .join(client, on="session_id", how="left", maintain_order="left")
        .with_columns(pl.col("client_text").fill_null(""))
    )


def vocabulary_overlap(pairs: pl.DataFrame) -> pl.DataFrame:
    """session_id, language, mapped and random overlap rates (random is null where the session has no partner)."""
    lang = pl.col("language")
    client = vocabulary(pl.col("client_text"), lang)
    return pairs.with_columns(random_card_text=pl.col("card_text").gather(pl.col("partner"))).select(
        "session_id",
        "language",
        mapped=overlap_rate(client, vocabulary(pl.col("card_text"), lang)),
        random=overlap_rate(client, vocabulary(pl.col("random_card_text"), lang)),
    )


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def semantic_consistency(pairs: pl.DataFrame, embedder: Embedder) -> pl.DataFrame:
    """session_id, language, mapped and random cosine similarities (Eq. 2)."""
    n = pairs.height
    vectors = _unit_rows(embedder.encode(pairs["card_text"].to_list() + pairs["client_text"].to_list()))
    card, client = vectors[:n], vectors[n:]
    has_partner = pairs["partner"].is_not_null().to_numpy()
    partner = pairs["partner"].fill_null(0).to_numpy()
    random = np.where(has_partner, np.sum(card[partner] * client, axis=1), np.nan)
    return pairs.select("session_id", "language").with_columns(
        mapped=pl.Series(np.sum(card * client, axis=1), dtype=pl.Float64),
        random=pl.Series(random, dtype=pl.Float64).fill_nan(None),
    )


def compare(scores: pl.DataFrame) -> pl.DataFrame:
    """Per language: n, mean and sample std (ddof=1) of the mapped and the random group, and Welch's two-sided
    t-test of mapped against random (scipy.stats.ttest_ind, equal_var=False). t and p are null when a group
    has fewer than two values."""
    rows = []
    for (language,), group in scores.group_by("language", maintain_order=True):
        mapped, random = group["mapped"].drop_nulls(), group["random"].drop_nulls()
        t = p = None
        if mapped.len() >= 2 and random.len() >= 2:
            result = stats.ttest_ind(mapped.to_numpy(), random.to_numpy(), equal_var=False)
            t, p = float(result.statistic), float(result.pvalue)
        rows.append({
            "language": language,
            "mapped_n": mapped.len(), "mapped_mean": mapped.mean(), "mapped_std": mapped.std(),
            "random_n": random.len(), "random_mean": random.mean(), "random_std": random.std(),
            "t": t, "p": p,
        })
    schema = {"language": pl.String, "mapped_n": pl.Int64, "mapped_mean": pl.Float64, "mapped_std": pl.Float64,
              "random_n": pl.Int64, "random_mean": pl.Float64, "random_std": pl.Float64, "t": pl.Float64,
              "p": pl.Float64}
    return pl.DataFrame(rows, schema=schema).sort("language")
