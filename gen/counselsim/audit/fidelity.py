"""Client fidelity (SimPsyDial §4.1): does a simulated client talk like its role card?

For each session, S = u1 ⊕ ... ⊕ ut is the concatenation of all its client utterances (the fixed opening greeting
included) and R the role card as the client model read it (`render_role_card`; for an imported session, the
chief complaint it was given, see `card_text`).

- Vocabulary overlap rate (Eq. 1): |V(S) ∩ V(R)| / |V(R)|.
- Semantic consistency (Eq. 2): the cosine similarity of the embeddings of R and S.

Each is computed for the true mapping (S with its own card) and for a random-mapping control (S with the card of
another session of the same language, paired by a seeded derangement), and the two groups are compared with
Welch's two-sided t-test.
"""
from __future__ import annotations

import re

import numpy as np
import polars as pl
import rjieba
from pydantic import TypeAdapter
from scipy import stats

from counselsim.simpsydial.agents import render_role_card
from counselsim.audit.embeddings import Embedder
from counselsim.schemas import RoleCard
from counselsim.schemas.imported import PartialRoleCard

# Vocabulary V(text): the set of tokens of the lowercased text; no stop-word removal, no stemming.
#   zh: words as rjieba (the Rust port of jieba; default dictionary, precise mode with HMM, jieba.cut's defaults)
#       segments the text; ASCII words inside it come out as words too.
#   en: words of ASCII letters and digits, with inner apostrophes kept ("don't" is one token).
#   Tokens without a letter, digit or Han character (punctuation, spaces) are not words and are left out.
EN_TOKENS = re.compile(r"[a-z0-9]+(?:['’][a-z0-9]+)*")
_WORD = re.compile(r"[^\W_]")  # a letter, a digit or a Han character
TOKENIZATION = ("V is the set of lowercased words: Chinese segmented into words by rjieba (jieba's dictionary and "
                "defaults), English split into words of letters and digits (inner apostrophes kept); "
                "punctuation is left out, there is no stop-word removal or stemming.")


def vocabulary(text: str, language: str) -> set[str]:
    """V(text) as a set of tokens."""
    lower = text.lower()
    if language != "zh":
        return set(EN_TOKENS.findall(lower))
    return {token for token in rjieba.cut(lower) if _WORD.search(token)}


def overlap_rate(client_vocab: set[str], card_vocab: set[str]) -> float | None:
    """Eq. 1; None for a card without tokens."""
    return len(client_vocab & card_vocab) / len(card_vocab) if card_vocab else None


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


CARD = TypeAdapter(RoleCard | PartialRoleCard)


def card_text(card: RoleCard | PartialRoleCard) -> str:
    """R: a full card as the client model read it; a partial (imported) card is its chief complaint, which was the
    client's whole profile in the Interactive Agents release, or nothing."""
    return render_role_card(card) if isinstance(card, RoleCard) else card.chief_complaint or ""


def pairs(sessions: pl.DataFrame, turns: pl.DataFrame, seed: int) -> pl.DataFrame:
    """One row per session: session_id, language, client_text (S), card_text (R) and partner (the row of the
    control's card, or null)."""
    client = (
        turns.filter(pl.col("speaker") == "client")
        .group_by("session_id")
        .agg(client_text=pl.col("text").sort_by("index").str.join("\n"))
    )
    cards = [card_text(CARD.validate_python(card)) for card in sessions["role_card"].to_list()]
    partner = partners(sessions["language"].to_list(), sessions["role_card_id"].to_list(), seed)
    return (
        sessions.select("session_id", "language")
        .with_columns(card_text=pl.Series(cards, dtype=pl.String), partner=pl.Series(partner, dtype=pl.UInt32))
        .join(client, on="session_id", how="left", maintain_order="left")
        .with_columns(pl.col("client_text").fill_null(""))
    )


def vocabulary_overlap(pairs: pl.DataFrame) -> pl.DataFrame:
    """session_id, language, mapped and random overlap rates (random is null where the session has no partner)."""
    languages = pairs["language"].to_list()
    clients = [vocabulary(text, lang) for text, lang in zip(pairs["client_text"], languages)]
    cards = [vocabulary(text, lang) for text, lang in zip(pairs["card_text"], languages)]
    mapped = [overlap_rate(client, card) for client, card in zip(clients, cards)]
    random = [None if j is None else overlap_rate(client, cards[j]) for client, j in zip(clients, pairs["partner"])]
    return pairs.select("session_id", "language").with_columns(
        mapped=pl.Series(mapped, dtype=pl.Float64), random=pl.Series(random, dtype=pl.Float64))


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def semantic_consistency(pairs: pl.DataFrame, embedder: Embedder) -> pl.DataFrame:
    """session_id, language, mapped and random cosine similarities (Eq. 2)."""
    n = pairs.height
    vectors = _unit_rows(embedder.encode(pairs["card_text"].to_list() + pairs["client_text"].to_list()))
    card, client = vectors[:n], vectors[n:]
    has_partner = pairs["partner"].is_not_null().to_numpy()
    partner = pairs["partner"].fill_null(0).to_numpy()
    # A card with no text (an imported session without a chief complaint) says nothing to compare with.
    has_text = (pairs["card_text"].str.strip_chars() != "").to_numpy()
    random = np.where(has_partner & has_text[partner], np.sum(card[partner] * client, axis=1), np.nan)
    mapped = np.where(has_text, np.sum(card * client, axis=1), np.nan)
    return pairs.select("session_id", "language").with_columns(
        mapped=pl.Series(mapped, dtype=pl.Float64).fill_nan(None),
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
