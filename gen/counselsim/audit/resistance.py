"""Resistance as ResistClient measures it, from the seven reaction types on client turns (counselsim.schemas.reasoning),
per resistance level of the role card and over the whole corpus (level "all").

A client turn counts when it carries a reaction type: every reasoned turn of a resistant live client (the
scripted opening has none), and only the injected turns of an rpc record, whose other turns are untyped; `coverage`
says which share of client turns that is, so a figure over a few injected turns is not read as a corpus rate.

  resistant_share      typed client turns of a resistant type (controlling, emotional, defensive, avoidant,
                       compliant) / typed client turns
  ccr                  client cooperation rate: cooperative turns (non_resistant, facilitative) / typed client turns.
                       The taxonomy counts compliant as resistance (superficial compliance; ResistClient reports
                       compliant and defensive as the most frequent *resistance* types), so it is not cooperation here
  ccr_with_compliant   the same with compliant turns counted as cooperative (surface agreement), for readers who
                       count it that way
  mean_turn_pairs      session length in turn pairs (ResistClient: 17.88 turns for its client in full interactions)
  mean_last_resistant_turn   mean turn index of a session's last resistant client turn, over sessions with any: how
                       late the client still resists before it drifts into compliance
"""
from __future__ import annotations

import polars as pl

from counselsim.audit.document import Section, Table, Text
from counselsim.schemas.reasoning import COOPERATIVE_REACTIONS, RESISTANT_REACTIONS
from counselsim.schemas.role_card import Level

LEVELS = [level.value for level in Level]
UNKNOWN_LEVEL = "unknown"  # a partial role card (imported session) has no resistance level
_RESISTANT = pl.col("reaction_type").is_in(RESISTANT_REACTIONS)
_COOPERATIVE = pl.col("reaction_type").is_in(COOPERATIVE_REACTIONS)


def has_reaction_types(turns: pl.DataFrame) -> bool:
    return "reaction_type" in turns.columns and turns["reaction_type"].is_not_null().any()


def _levels(sessions: pl.DataFrame) -> pl.DataFrame:
    level = pl.col("role_card").struct.field("resistance").struct.field("level")
    return sessions.select("session_id", "num_turn_pairs", level.fill_null(UNKNOWN_LEVEL).alias("level"))


def session_resistance(sessions: pl.DataFrame, turns: pl.DataFrame) -> pl.DataFrame:
    """One row per session: its card's resistance level, length, client turns, typed / resistant / cooperative /
    compliant turns, and the index of its last resistant turn (null when it never resists)."""
    client = turns.filter(pl.col("speaker") == "client")
    per_session = client.group_by("session_id").agg(
        client_turns=pl.len(),
        typed=pl.col("reaction_type").is_not_null().sum(),
        resistant=_RESISTANT.sum(),
        cooperative=_COOPERATIVE.sum(),
        compliant=(pl.col("reaction_type") == "compliant").sum(),
        last_resistant_turn=pl.col("index").filter(_RESISTANT).max(),
    )
    return _levels(sessions).join(per_session, on="session_id", how="left").sort("session_id")


def _aggregates() -> dict[str, pl.Expr]:
    typed = pl.col("typed").sum()

    def share(numerator: pl.Expr) -> pl.Expr:
        return pl.when(typed > 0).then(numerator / typed)

    return {
        "sessions": pl.len(),
        "client_turns": pl.col("client_turns").sum(),
        "typed_turns": typed,
        "coverage": pl.when(pl.col("client_turns").sum() > 0).then(typed / pl.col("client_turns").sum()),
        "resistant_share": share(pl.col("resistant").sum()),
        "ccr": share(pl.col("cooperative").sum()),
        "ccr_with_compliant": share(pl.col("cooperative").sum() + pl.col("compliant").sum()),
        "mean_turn_pairs": pl.col("num_turn_pairs").mean(),
        "sessions_resisting": (pl.col("resistant") > 0).sum(),
        "mean_last_resistant_turn": pl.col("last_resistant_turn").mean(),
    }


def by_level(sessions: pl.DataFrame, turns: pl.DataFrame) -> pl.DataFrame:
    """The measures per role-card resistance level (scale order, then "unknown"), then over all sessions."""
    rows = session_resistance(sessions, turns)
    order = {level: i for i, level in enumerate([*LEVELS, UNKNOWN_LEVEL])}
    per_level = (rows.group_by("level").agg(**_aggregates())
                 .sort(pl.col("level").replace_strict(order, return_dtype=pl.Int32)))
    overall = rows.select(pl.lit("all", pl.String).alias("level"), **_aggregates())
    return pl.concat([per_level, overall])


def type_distribution(turns: pl.DataFrame) -> pl.DataFrame:
    """Typed client turns by reaction type, with their share, in taxonomy order."""
    order = {t: i for i, t in enumerate(RESISTANT_REACTIONS + COOPERATIVE_REACTIONS)}
    typed = turns.filter(pl.col("speaker") == "client", pl.col("reaction_type").is_not_null())
    return (typed.group_by("reaction_type").agg(n=pl.len())
            .with_columns(share=pl.col("n") / pl.col("n").sum())
            .sort(pl.col("reaction_type").replace_strict(order, return_dtype=pl.Int32)))


def resistance_section(sessions: pl.DataFrame, turns: pl.DataFrame) -> Section:
    return Section("Resistance by reaction type (ResistClient)", [
        Text("Over client turns that carry a reaction type (coverage: their share of client turns; an rpc record "
             "types only its injected turns). CCR = non_resistant + facilitative turns / typed turns; compliant "
             "counts as resistance (superficial compliance), ccr_with_compliant counts it as cooperation. "
             "mean_last_resistant_turn: the turn index of a session's last resistant client turn, over the "
             "sessions that resist at all."),
        Table(by_level(sessions, turns), "Resistance by role-card resistance level"),
        Table(type_distribution(turns), "Client turns by reaction type"),
    ])
