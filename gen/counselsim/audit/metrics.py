"""Corpus statistics: SimPsyDial Table 1, distributions of turns and lengths, termination reasons, regeneration.

"Turns per conversation" counts client-counselor exchanges (turn pairs), as the paper's Table 1 does (1,000
dialogues, 12,948 client utterances, 13 turns each): the number of counselor utterances of a session. Lengths
are characters in Chinese and words in English, so every length statistic is given per language.
"""
from __future__ import annotations

import math

import polars as pl
from scipy import stats

_CLIENT = pl.col("speaker") == "client"
_COUNSELOR = pl.col("speaker") == "counselor"


def turn_pairs(sessions: pl.DataFrame, turns: pl.DataFrame) -> pl.DataFrame:
    """session_id, language, turn_pairs; a session without counselor turns has 0."""
    counts = turns.filter(_COUNSELOR).group_by("session_id").agg(turn_pairs=pl.len())
    return (
        sessions.select("session_id", "language")
        .join(counts, on="session_id", how="left")
        .with_columns(pl.col("turn_pairs").fill_null(0))
    )


def table1(sessions: pl.DataFrame, turns: pl.DataFrame) -> pl.DataFrame:
    """One row per language with the statistics of the paper's Table 1."""
    conversations = turn_pairs(sessions, turns).group_by("language").agg(
        conversations=pl.len(), avg_turns=pl.col("turn_pairs").mean()
    )
    utterances = turns.group_by("language").agg(
        client_utterances=_CLIENT.sum(),
        counselor_utterances=_COUNSELOR.sum(),
        avg_client_length=pl.col("length").filter(_CLIENT).mean(),
        avg_counselor_length=pl.col("length").filter(_COUNSELOR).mean(),
    )
    return (
        conversations.join(utterances, on="language", how="left")
        .with_columns(
            pl.col("client_utterances", "counselor_utterances").fill_null(0),
            length_unit=pl.when(pl.col("language") == "zh").then(pl.lit("characters")).otherwise(pl.lit("words")),
        )
        .sort("language")
    )


def summary(df: pl.DataFrame, value: str, by: list[str]) -> pl.DataFrame:
    """n, mean, sample std (ddof=1), min, quartiles (linear interpolation) and max of `value` per group."""
    v = pl.col(value)
    return (
        df.group_by(by)
        .agg(
            n=pl.len(),
            mean=v.mean(),
            std=v.std(),
            min=v.min(),
            p25=v.quantile(0.25, "linear"),
            median=v.median(),
            p75=v.quantile(0.75, "linear"),
            max=v.max(),
        )
        .sort(by)
    )


def termination(sessions: pl.DataFrame) -> pl.DataFrame:
    """language, termination_reason, n, share of the language's sessions."""
    return (
        sessions.group_by("language", "termination_reason")
        .agg(n=pl.len())
        .with_columns(share=pl.col("n") / pl.col("n").sum().over("language"))
        .sort("language", "termination_reason")
    )


def regeneration(turns: pl.DataFrame) -> pl.DataFrame:
    """Per language and speaker: turns, turns that needed more than one generation, and the extra generations.
    A counselor reply is regenerated when it fails the refinement check σ; a client turn only when it is empty."""
    extra = pl.col("attempts") - 1
    return (
        turns.group_by("language", "speaker")
        .agg(
            turns=pl.len(),
            regenerated_turns=(extra > 0).sum(),
            regenerated_share=(extra > 0).mean(),
            extra_generations=extra.sum(),
            extra_per_turn=extra.mean(),
        )
        .sort("language", "speaker")
    )


def sessions_with_regeneration(turns: pl.DataFrame) -> pl.DataFrame:
    """Per language: sessions, and the share of them with at least one regenerated turn."""
    per_session = turns.group_by("language", "session_id").agg(regenerated=(pl.col("attempts") > 1).any())
    return (
        per_session.group_by("language")
        .agg(sessions=pl.len(), with_regeneration=pl.col("regenerated").sum(), share=pl.col("regenerated").mean())
        .sort("language")
    )


def two_samples(corpus: pl.Series, reference: pl.Series) -> dict[str, float | int | None]:
    """n, mean and sample std (ddof=1) of each sample, Welch's two-sided t-test of corpus against reference
    (scipy.stats.ttest_ind, equal_var=False) and Cohen's d with the pooled std, (mean_c - mean_r) / s_pooled.
    t, p and d are None unless both samples have two values (and d unless the pooled std is positive)."""
    a, b = corpus.drop_nulls().cast(pl.Float64), reference.drop_nulls().cast(pl.Float64)
    row: dict[str, float | int | None] = {"corpus_n": a.len(), "corpus_mean": a.mean(), "corpus_std": a.std(),
                                          "reference_n": b.len(), "reference_mean": b.mean(),
                                          "reference_std": b.std(), "t": None, "p": None, "d": None}
    if a.len() < 2 or b.len() < 2:
        return row
    result = stats.ttest_ind(a.to_numpy(), b.to_numpy(), equal_var=False)
    row["t"], row["p"] = float(result.statistic), float(result.pvalue)
    pooled = math.sqrt(((a.len() - 1) * a.var() + (b.len() - 1) * b.var()) / (a.len() + b.len() - 2))
    if pooled > 0:
        row["d"] = (a.mean() - b.mean()) / pooled
    return row
