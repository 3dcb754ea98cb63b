"""Resistance as ResistClient measures it, from the seven reaction types on client turns (counselsim.schemas.reasoning),
with RECAP's prevalence and diversity (§6) and its correlation with working alliance (Table 13), per resistance
level of the role card and over the whole corpus (level "all").

A client turn's reaction type is its declared or injected `reaction_type` when it has one (a resistant live client
declares one per reasoned turn; an rpc record keeps those and sets one on its injected turns), else the labeler's
`reaction_label` (rpc records label every client turn). `coverage` is the share of client turns with a type,
`declared_share` / `injected_share` / `labeled_share` the shares of typed turns from each source, so a figure over a
few injected turns is not read as a corpus rate.

  resistant_share      typed client turns of a resistant type (controlling, emotional, defensive, avoidant,
                       compliant) / typed client turns: the share of client utterances that resist
  ccr                  client cooperation rate, the headline: cooperative turns (non_resistant, facilitative) / typed
                       client turns. ResistClient counts compliant among the resistance types (superficial
                       compliance; compliant and defensive are its most frequent *resistance* types), so it is not
                       cooperation here
  ccr_with_compliant   the same with compliant turns counted as cooperative (surface agreement)
  psyfire_ccr          PsyFIRE CCR: collaboration-labeled client turns / PsyFIRE-labeled client turns (rpc records)
  rtf                  resistance trigger frequency (ResistClient reports 39-52% for counselor models without defining
                       it; our reading): counselor turns whose next turn is a client turn of a resistant type /
                       counselor turns followed by a typed client turn
  mean_turn_pairs      session length in turn pairs (ResistClient: 17.88 turns for its client in full interactions)
  mean_last_resistant_turn   mean turn index of a session's last resistant client turn, over sessions with any: how
                       late the client still resists before it drifts into compliance
  sessions_resisting_share   sessions with a resistant turn / sessions with a typed turn (RECAP: over 90%)
  mean_resistant_types mean number of distinct resistant types per session with a typed turn
  psyfire_*            the same prevalence and diversity from the PsyFIRE labels: sessions with a resistance label /
                       labeled sessions, resistance-labeled / labeled client turns (RECAP: about 17%), distinct
                       fine-grained behaviours per labeled session (RECAP: more than two)

WAI correlation (RECAP Table 13): per session, its resistant share (seven types; PsyFIRE resistance share beside it)
against its WAI-O-S factor scores (goal, task, bond; overall = the mean of the three), Pearson r and its two-sided
p (scipy.stats.pearsonr) over the sessions with both. Here WAI is an LLM judge's observer rating, not the
client-rated alliance RECAP used.
"""
from __future__ import annotations

import polars as pl
from scipy import stats

from counselsim.audit.document import Section, Table, Text
from counselsim.schemas.reasoning import COOPERATIVE_REACTIONS, RESISTANT_REACTIONS
from counselsim.schemas.role_card import UNKNOWN_LEVEL, Level

LEVELS = [level.value for level in Level]
SOURCES = ("declared", "injected", "labeled")
WAI_DIMENSIONS = ("goal", "task", "bond", "overall")
_RESISTANT = pl.col("reaction").is_in(RESISTANT_REACTIONS)
_COOPERATIVE = pl.col("reaction").is_in(COOPERATIVE_REACTIONS)
_PSYFIRE_RESISTANT = pl.col("label_binary") == "resistance"


def _column(turns: pl.DataFrame, name: str, dtype: type[pl.DataType] = pl.String) -> pl.Expr:
    """A turn column, or nulls where the record type has none (plain sessions have no labels)."""
    return pl.col(name) if name in turns.columns else pl.lit(None, dtype)


def has_reaction_types(turns: pl.DataFrame) -> bool:
    return any(c in turns.columns and turns[c].is_not_null().any() for c in ("reaction_type", "reaction_label"))


def typed_turns(turns: pl.DataFrame) -> pl.DataFrame:
    """Every turn with its `reaction` (the declared or injected reaction_type, else the reaction_label) and the
    `source` of it, and its PsyFIRE `label_binary` / `label` (null where the record has none)."""
    declared = _column(turns, "reaction_type")
    labeled = _column(turns, "reaction_label")
    injected = _column(turns, "injected", pl.Boolean).fill_null(False)
    return turns.with_columns(
        reaction=pl.coalesce(declared, labeled),
        source=pl.when(declared.is_not_null()).then(pl.when(injected).then(pl.lit("injected"))
                                                    .otherwise(pl.lit("declared")))
        .when(labeled.is_not_null()).then(pl.lit("labeled")),
        label_binary=_column(turns, "label_binary"),
        label=_column(turns, "label"),
    )


def _levels(sessions: pl.DataFrame) -> pl.DataFrame:
    level = pl.col("role_card").struct.field("resistance").struct.field("level")
    return sessions.select("session_id", "num_turn_pairs", level.fill_null(UNKNOWN_LEVEL).alias("level"))


def _triggers(turns: pl.DataFrame) -> pl.DataFrame:
    """Per session: counselor turns followed by a typed client turn, and those whose next client turn resists."""
    following = turns.sort("session_id", "index").with_columns(
        next_speaker=pl.col("speaker").shift(-1).over("session_id"),
        next_reaction=pl.col("reaction").shift(-1).over("session_id"),
    ).filter(pl.col("speaker") == "counselor", pl.col("next_speaker") == "client",
             pl.col("next_reaction").is_not_null())
    return following.group_by("session_id").agg(
        counselor_followed=pl.len(),
        counselor_triggered=pl.col("next_reaction").is_in(RESISTANT_REACTIONS).sum(),
    )


def session_resistance(sessions: pl.DataFrame, turns: pl.DataFrame) -> pl.DataFrame:
    """One row per session: its card's resistance level, length, client turns, typed turns by source, resistant /
    cooperative / compliant turns, the index of its last resistant turn (null when it never resists), its distinct
    resistant types, its PsyFIRE-labeled / resistance-labeled turns and distinct behaviours, and the counselor
    turns followed by a typed client turn and by a resistant one."""
    typed = typed_turns(turns)
    client = typed.filter(pl.col("speaker") == "client")
    per_session = client.group_by("session_id").agg(
        client_turns=pl.len(),
        typed=pl.col("reaction").is_not_null().sum(),
        **{source: (pl.col("source") == source).sum() for source in SOURCES},
        resistant=_RESISTANT.sum(),
        cooperative=_COOPERATIVE.sum(),
        compliant=(pl.col("reaction") == "compliant").sum(),
        last_resistant_turn=pl.col("index").filter(_RESISTANT).max(),
        resistant_types=pl.col("reaction").filter(_RESISTANT).n_unique(),
        psyfire_labeled=pl.col("label_binary").is_not_null().sum(),
        psyfire_resistant=_PSYFIRE_RESISTANT.sum(),
        psyfire_types=pl.col("label").filter(_PSYFIRE_RESISTANT & pl.col("label").is_not_null()).n_unique(),
    )
    rows = (_levels(sessions).join(per_session, on="session_id", how="left")
            .join(_triggers(typed), on="session_id", how="left"))
    counts = [c for c in rows.columns if c not in ("session_id", "num_turn_pairs", "level", "last_resistant_turn")]
    return rows.with_columns(pl.col(counts).fill_null(0)).sort("session_id")


def _aggregates() -> dict[str, pl.Expr]:
    typed = pl.col("typed").sum()
    psyfire = pl.col("psyfire_labeled").sum()

    def share(numerator: pl.Expr, denominator: pl.Expr = typed) -> pl.Expr:
        return pl.when(denominator > 0).then(numerator / denominator)

    typed_sessions = pl.col("typed") > 0
    psyfire_sessions = pl.col("psyfire_labeled") > 0
    return {
        "sessions": pl.len(),
        "client_turns": pl.col("client_turns").sum(),
        "typed_turns": typed,
        "coverage": share(typed, pl.col("client_turns").sum()),
        **{f"{source}_share": share(pl.col(source).sum()) for source in SOURCES},
        "resistant_share": share(pl.col("resistant").sum()),
        "ccr": share(pl.col("cooperative").sum()),
        "ccr_with_compliant": share(pl.col("cooperative").sum() + pl.col("compliant").sum()),
        "psyfire_labeled_turns": psyfire,
        "psyfire_ccr": share(psyfire - pl.col("psyfire_resistant").sum(), psyfire),
        "rtf_counselor_turns": pl.col("counselor_followed").sum(),
        "rtf": share(pl.col("counselor_triggered").sum(), pl.col("counselor_followed").sum()),
        "mean_turn_pairs": pl.col("num_turn_pairs").mean(),
        "sessions_resisting": (pl.col("resistant") > 0).sum(),
        "sessions_resisting_share": share((pl.col("resistant") > 0).sum(), typed_sessions.sum()),
        "mean_last_resistant_turn": pl.col("last_resistant_turn").mean(),
        "mean_resistant_types": pl.col("resistant_types").filter(typed_sessions).mean(),
        "psyfire_sessions_resisting_share": share((pl.col("psyfire_resistant") > 0).sum(), psyfire_sessions.sum()),
        "psyfire_resistant_share": share(pl.col("psyfire_resistant").sum(), psyfire),
        "mean_psyfire_types": pl.col("psyfire_types").filter(psyfire_sessions).mean(),
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
    """Typed client turns by reaction type, with their share and the turns from each source, in taxonomy order."""
    order = {t: i for i, t in enumerate(RESISTANT_REACTIONS + COOPERATIVE_REACTIONS)}
    typed = typed_turns(turns).filter(pl.col("speaker") == "client", pl.col("reaction").is_not_null())
    return (typed.group_by("reaction").agg(n=pl.len(), **{s: (pl.col("source") == s).sum() for s in SOURCES})
            .with_columns(share=pl.col("n") / pl.col("n").sum())
            .select("reaction", "n", "share", *SOURCES)
            .rename({"reaction": "reaction_type"})
            .sort(pl.col("reaction_type").replace_strict(order, return_dtype=pl.Int32)))


def pearson(x: list[float], y: list[float]) -> tuple[float | None, float | None]:
    """Pearson r and its two-sided p; None where it is undefined (fewer than 3 pairs, or a constant side)."""
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None, None
    result = stats.pearsonr(x, y)
    return float(result.statistic), float(result.pvalue)


def wai_correlation(sessions: pl.DataFrame, turns: pl.DataFrame, wai: pl.DataFrame) -> pl.DataFrame:
    """Per resistance measure and WAI dimension: the sessions with both, Pearson r and p. `wai` is one row per
    judged session with its goal, task and bond scores (counselsim.audit.wai.WaiResult.sessions)."""
    rows = session_resistance(sessions, turns).select(
        "session_id",
        resistant_share=pl.when(pl.col("typed") > 0).then(pl.col("resistant") / pl.col("typed")),
        psyfire_resistant_share=pl.when(pl.col("psyfire_labeled") > 0)
        .then(pl.col("psyfire_resistant") / pl.col("psyfire_labeled")),
    )
    scores = wai.select("session_id", "goal", "task", "bond").with_columns(
        overall=pl.when(pl.all_horizontal(pl.col("goal", "task", "bond").is_not_null()))
        .then(pl.mean_horizontal("goal", "task", "bond")))
    joined = rows.join(scores, on="session_id", how="inner")
    out = []
    for measure in ("resistant_share", "psyfire_resistant_share"):
        for dimension in WAI_DIMENSIONS:
            pairs = joined.select(measure, dimension).drop_nulls()
            r, p = pearson(pairs[measure].to_list(), pairs[dimension].to_list())
            out.append({"measure": measure, "dimension": dimension, "sessions": pairs.height, "r": r, "p": p})
    return pl.DataFrame(out, schema={"measure": pl.String, "dimension": pl.String, "sessions": pl.Int64,
                                     "r": pl.Float64, "p": pl.Float64}, orient="row")


_MEASURES = ["level", "sessions", "typed_turns", "resistant_share", "ccr", "ccr_with_compliant", "psyfire_ccr",
             "rtf", "rtf_counselor_turns", "mean_turn_pairs", "sessions_resisting", "mean_last_resistant_turn"]
_SOURCES = ["level", "client_turns", "typed_turns", "coverage", *(f"{s}_share" for s in SOURCES),
            "psyfire_labeled_turns"]
_PREVALENCE = ["level", "sessions", "sessions_resisting_share", "resistant_share", "mean_resistant_types",
               "psyfire_sessions_resisting_share", "psyfire_resistant_share", "mean_psyfire_types"]


def resistance_section(sessions: pl.DataFrame, turns: pl.DataFrame, wai: pl.DataFrame | None = None) -> Section:
    """The section; `wai` (per-session WAI scores) adds the correlation table."""
    table = by_level(sessions, turns)
    blocks = [
        Text("A client turn's reaction type is its declared or injected reaction_type, else the labeler's "
             "reaction_label; coverage is the share of client turns with a type, the source shares say where the "
             "types came from. CCR = non_resistant + facilitative turns / typed turns: compliant counts as "
             "resistance (superficial compliance, as ResistClient counts it), ccr_with_compliant counts it as "
             "cooperation; psyfire_ccr = collaboration-labeled / PsyFIRE-labeled client turns. RTF (our reading, "
             "ResistClient does not define it) = counselor turns whose next client turn resists / counselor turns "
             "followed by a typed client turn. mean_last_resistant_turn: the turn index of a session's last "
             "resistant client turn, over the sessions that resist at all."),
        Table(table.select(_MEASURES), "Resistance by role-card resistance level"),
        Table(table.select(_SOURCES), "Where the reaction types come from"),
        Text("Prevalence and diversity (RECAP §6): sessions_resisting_share = sessions with a resistant turn / "
             "sessions with a typed turn; resistant_share = resistant / typed client turns; mean_resistant_types "
             "= distinct resistant types per session with a typed turn; the psyfire_ columns are the same from the "
             "PsyFIRE labels (distinct fine-grained behaviours per labeled session)."),
        Table(table.select(_PREVALENCE), "Prevalence and diversity of resistance"),
        Table(type_distribution(turns), "Client turns by reaction type"),
    ]
    if wai is not None:
        blocks += [
            Text("Session resistance against working alliance (RECAP Table 13): Pearson r and two-sided p "
                 "(scipy.stats.pearsonr) between a session's resistant share (seven types; PsyFIRE resistance "
                 "share beside it) and its WAI-O-S factor scores, overall = the mean of goal, task and bond, over "
                 "the sessions with both; null with fewer than 3 sessions or a constant side. The scores are an "
                 "LLM judge's observer ratings, not the client-rated alliance RECAP used."),
            Table(wai_correlation(sessions, turns, wai), "Session resistance and working alliance"),
        ]
    return Section("Resistance by reaction type (ResistClient)", blocks)
