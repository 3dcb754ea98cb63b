"""Metrics of labeled corpora (client turns labeled resistance / collaboration, some rewritten to resist).

A client turn is labeled when its `label_binary` is set; a label the labeler could not parse leaves it unset
(`label_status` "unparseable"). Rates are given per language and for the whole corpus (language "all").
"""
from __future__ import annotations

import polars as pl

LABEL_COLUMNS = ("label_binary", "label", "label_group", "label_status", "injected", "reaction_type")

_LABELED = pl.col("label_binary").is_not_null()
_RESISTANCE = pl.col("label_binary") == "resistance"
_INJECTED = pl.col("injected").fill_null(False)


def _ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """numerator / denominator, null rather than NaN when there is nothing to divide by."""
    return pl.when(denominator > 0).then(numerator / denominator)


def is_labeled(turns: pl.DataFrame) -> bool:
    return all(column in turns.columns for column in LABEL_COLUMNS)


def _client(turns: pl.DataFrame) -> pl.DataFrame:
    return turns.filter(pl.col("speaker") == "client")


def by_language(df: pl.DataFrame, **aggregates: pl.Expr) -> pl.DataFrame:
    """The aggregates per language, then over all rows as language "all"."""
    per_language = df.group_by("language").agg(**aggregates).sort("language")
    overall = df.select(pl.lit("all", pl.String).alias("language"), **aggregates)
    return pl.concat([per_language, overall])


def behaviour_distribution(turns: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Labeled client turns counted by the `by` columns (label_group, label), with their share."""
    return (
        _client(turns)
        .filter(_LABELED)
        .group_by(by)
        .agg(n=pl.len())
        .with_columns(share=pl.col("n") / pl.col("n").sum())
        .sort(by)
    )


def cooperation_rate(turns: pl.DataFrame) -> pl.DataFrame:
    """Client cooperation rate: collaboration-labeled client turns / labeled client turns."""
    collaboration = pl.col("label_binary") == "collaboration"
    return by_language(
        _client(turns),
        client_turns=pl.len(),
        unparseable=(pl.col("label_status") == "unparseable").sum(),
        labeled=_LABELED.sum(),
        collaboration=collaboration.sum(),
        rate=_ratio(collaboration.sum(), _LABELED.sum()),
    )


def resistance_trigger_rate(turns: pl.DataFrame) -> pl.DataFrame:
    """The share of counselor turns whose next turn is a client turn labeled resistance. Only counselor turns
    followed by a labeled client turn count; a session's closing reply is followed by nothing."""
    following = turns.sort("session_id", "index").with_columns(
        next_speaker=pl.col("speaker").shift(-1).over("session_id"),
        next_label=pl.col("label_binary").shift(-1).over("session_id"),
    )
    counted = following.filter(
        pl.col("speaker") == "counselor", pl.col("next_speaker") == "client", pl.col("next_label").is_not_null()
    )
    followed_by_resistance = pl.col("next_label") == "resistance"
    return by_language(
        counted,
        counselor_turns=pl.len(),
        followed_by_resistance=followed_by_resistance.sum(),
        rate=followed_by_resistance.mean(),
    )


def _episodes(sessions: pl.DataFrame) -> pl.DataFrame:
    episode = pl.col("episode")
    return sessions.select(
        "language",
        has_episode=episode.is_not_null(),
        length=episode.struct.field("turn_indices").list.len(),
        reaction_type=episode.struct.field("reaction_type"),
    )


def episode_stats(sessions: pl.DataFrame) -> pl.DataFrame:
    """Sessions, those with a resistance episode, and the episode length in turns."""
    return by_language(
        _episodes(sessions),
        sessions=pl.len(),
        with_episode=pl.col("has_episode").sum(),
        share=pl.col("has_episode").mean(),
        mean_length=pl.col("length").mean(),
        max_length=pl.col("length").max(),
    )


def episode_reaction_types(sessions: pl.DataFrame) -> pl.DataFrame:
    """Episodes counted by their reaction type."""
    return (
        _episodes(sessions)
        .filter(pl.col("has_episode"))
        .group_by("reaction_type")
        .agg(n=pl.len())
        .with_columns(share=pl.col("n") / pl.col("n").sum())
        .sort("reaction_type")
    )


def injected_agreement(turns: pl.DataFrame) -> pl.DataFrame:
    """How often the labeler calls an injected (rewritten to resist) client turn resistance: the binary recall
    over injected turns with a label. The share of resistance among the other labeled client turns is context,
    not an error rate: clients also resist on their own."""
    labeled_injected = _INJECTED & _LABELED
    labeled_other = ~_INJECTED & _LABELED
    return by_language(
        _client(turns),
        injected=_INJECTED.sum(),
        injected_labeled=labeled_injected.sum(),
        injected_resistance=(labeled_injected & _RESISTANCE).sum(),
        recall=_ratio((labeled_injected & _RESISTANCE).sum(), labeled_injected.sum()),
        other_labeled=labeled_other.sum(),
        other_resistance_share=_ratio((labeled_other & _RESISTANCE).sum(), labeled_other.sum()),
    )


def injected_confusion(turns: pl.DataFrame) -> pl.DataFrame:
    """Labeled injected turns: one row per injected reaction type, one column per fine-grained label."""
    counts = (
        _client(turns)
        .filter(_INJECTED & _LABELED)
        .group_by("reaction_type", "label")
        .agg(n=pl.len())
        .sort("label")
    )
    if counts.is_empty():
        return pl.DataFrame(schema={"reaction_type": pl.String})
    return counts.pivot(on="label", index="reaction_type", values="n").fill_null(0).sort("reaction_type")
