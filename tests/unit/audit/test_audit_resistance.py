"""Resistance measures from the seven reaction types, on hand-built corpora with known answers."""
import json

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from audit_builders import card, labeled_table, session, write_corpus
from counselsim.audit.document import Table
from counselsim.audit.frames import explode_turns, load_frames
from counselsim.audit.report import build_report, write_report
from counselsim.audit.resistance import (
    by_level,
    has_reaction_types,
    pearson,
    resistance_section,
    session_resistance,
    type_distribution,
    wai_correlation,
)
from counselsim.schemas import Level, Resistance
from counselsim.schemas.arrow import sessions_to_table
from scipy import stats


def typed_session(session_id, level, types):
    """Opening, then counselor / client pairs whose client turns carry `types` (None: untyped), then a farewell."""
    turns = [("client", "Hello")]
    for i, _ in enumerate(types):
        turns += [("counselor", f"question {i}"), ("client", f"answer {i}")]
    turns.append(("counselor", "Good bye."))
    c = card(f"card-{session_id}").model_copy(update={"resistance": Resistance(level=level, reasoning="r")})
    s = session(session_id, turns, role_card=c)
    typed = iter(types)
    new_turns = [t.model_copy(update={"reaction_type": next(typed)}) if t.speaker == "client" and t.index > 0 else t
                 for t in s.turns]
    return s.model_copy(update={"turns": new_turns})


def frames(sessions):
    """(sessions, turns) frames of Session records, or of a table of another record type."""
    table = pl.from_arrow(sessions if isinstance(sessions, pa.Table) else sessions_to_table(sessions))
    return table.drop("turns"), explode_turns(table)


SESSIONS = [
    # low: 1 resistant of 4 typed, last resistant turn at index 2
    typed_session("a", Level.low, ["defensive", "non_resistant", "facilitative", "non_resistant"]),
    # high: 3 resistant (one compliant) of 4, last resistant turn at index 6
    typed_session("b", Level.high, ["avoidant", "controlling", "compliant", "non_resistant"]),
    # high: never resists
    typed_session("c", Level.high, ["facilitative", "non_resistant"]),
]


def test_by_level_known_answers():
    table = by_level(*frames(SESSIONS))
    rows = {r["level"]: r for r in table.to_dicts()}
    assert list(table["level"]) == ["low", "high", "all"]
    low, high, every = rows["low"], rows["high"], rows["all"]
    assert low["typed_turns"] == 4 and low["resistant_share"] == pytest.approx(0.25)
    assert low["ccr"] == pytest.approx(0.75) and low["mean_last_resistant_turn"] == 2
    assert high["sessions"] == 2 and high["typed_turns"] == 6
    assert high["resistant_share"] == pytest.approx(3 / 6) and high["ccr"] == pytest.approx(3 / 6)
    assert high["ccr_with_compliant"] == pytest.approx(4 / 6)
    assert high["sessions_resisting"] == 1 and high["mean_last_resistant_turn"] == 6  # session c has none
    assert high["mean_turn_pairs"] == pytest.approx((5 + 3) / 2)
    assert every["typed_turns"] == 10 and every["ccr"] == pytest.approx(6 / 10) and every["coverage"] < 1
    # The opening is a client turn without a type: coverage counts it.
    assert every["client_turns"] == 13 and every["coverage"] == pytest.approx(10 / 13)
    # A live client's types are all declared; a plain session corpus has no PsyFIRE labels.
    assert every["declared_share"] == 1.0 and every["labeled_share"] == every["injected_share"] == 0.0
    assert every["psyfire_ccr"] is None and every["psyfire_labeled_turns"] == 0


def test_untyped_turns_lower_coverage_not_the_rates():
    s = typed_session("d", Level.moderate, ["defensive", None, None])
    row = by_level(*frames([s])).filter(pl.col("level") == "moderate").to_dicts()[0]
    assert row["typed_turns"] == 1 and row["resistant_share"] == 1.0 and row["coverage"] == pytest.approx(1 / 4)


def test_session_rows_and_type_distribution():
    sessions, turns = frames(SESSIONS)
    rows = session_resistance(sessions, turns).to_dicts()
    assert [r["last_resistant_turn"] for r in rows] == [2, 6, None]
    dist = type_distribution(turns)
    assert dist["reaction_type"].to_list() == ["controlling", "defensive", "avoidant", "compliant", "non_resistant",
                                               "facilitative"]
    assert dist["n"].sum() == 10 and dist.filter(pl.col("reaction_type") == "non_resistant")["n"][0] == 4


def test_plain_corpora_have_no_reaction_types():
    _, turns = frames([session("p", [("client", "Hello"), ("counselor", "Hi")])])
    assert not has_reaction_types(turns)
    assert has_reaction_types(frames(SESSIONS)[1])


def test_the_audit_report_has_a_resistance_section(tmp_path):
    write_corpus(str(tmp_path / "corpus"), SESSIONS)
    write_report(build_report(load_frames(str(tmp_path / "corpus")), None, None, 0, "corpus"), str(tmp_path / "r"))
    section = json.loads((tmp_path / "r" / "metrics.json").read_text())["Resistance by reaction type (ResistClient)"]
    overall = section["Resistance by role-card resistance level"][-1]
    assert overall["level"] == "all" and overall["ccr"] == pytest.approx(0.6)
    assert "## Resistance by reaction type" in (tmp_path / "r" / "report.md").read_text()


# --- rpc records: declared / injected types, the labeler's reaction labels and PsyFIRE labels ---------------------

def rpc_session(session_id, level, pairs):
    turns = [("client", "Hello")]
    for i in range(pairs - 1):
        turns += [("counselor", f"question {i}"), ("client", f"answer {i}")]
    turns.append(("counselor", "Good bye."))
    c = card(f"card-{session_id}").model_copy(update={"resistance": Resistance(level=level, reasoning="r")})
    return session(session_id, turns, role_card=c)


def reacted(reaction=None, binary=None, label=None):
    """A client turn's reaction label and PsyFIRE label (None: unparseable)."""
    return {"reaction_label": reaction, "reaction_label_status": "ok" if reaction else "unparseable",
            "label_binary": binary, "label": label, "label_status": "ok" if label else "unparseable"}


COLLAB = ("collaboration", "collaboration")
RPC_LABELS = {
    # a (low): c2 injected defensive (labeled avoidant), c4 compliant, c6 unparseable reaction label
    ("a", 0): reacted("non_resistant", *COLLAB),
    ("a", 2): {**reacted("avoidant", "resistance", "denying.blaming"), "injected": True, "reaction_type": "defensive",
               "reaction_source": "injected"},
    ("a", 4): reacted("compliant", "resistance", "denying.reluctance"),
    ("a", 6): reacted(None, *COLLAB),
    # b (high): two controlling turns, PsyFIRE unparseable on the opening
    ("b", 0): reacted("facilitative"),
    ("b", 2): reacted("controlling", "resistance", "arguing.challenging"),
    ("b", 4): reacted("controlling", "resistance", "arguing.discounting"),
    ("b", 6): reacted("non_resistant", *COLLAB),
    # c (moderate): a declared non_resistant opening (the label says facilitative: the declared type wins)
    ("c", 0): {**reacted("facilitative", *COLLAB), "reaction_type": "non_resistant", "reaction_source": "declared"},
    ("c", 2): reacted("non_resistant", *COLLAB),
}


def rpc_frames():
    sessions = [rpc_session("a", Level.low, 4), rpc_session("b", Level.high, 4), rpc_session("c", Level.moderate, 2)]
    episode = {"turn_indices": [2], "reaction_type": "defensive"}
    return frames(labeled_table(sessions, RPC_LABELS, {"a": episode}))


def test_rpc_ccr_from_the_seven_types_and_from_psyfire_with_source_shares():
    rows = {r["level"]: r for r in by_level(*rpc_frames()).to_dicts()}
    every = rows["all"]
    assert (every["client_turns"], every["typed_turns"]) == (10, 9) and every["coverage"] == pytest.approx(0.9)
    assert every["declared_share"] == pytest.approx(1 / 9) and every["injected_share"] == pytest.approx(1 / 9)
    assert every["labeled_share"] == pytest.approx(7 / 9)
    assert every["resistant_share"] == pytest.approx(4 / 9)  # defensive, compliant, controlling x2
    assert every["ccr"] == pytest.approx(5 / 9) and every["ccr_with_compliant"] == pytest.approx(6 / 9)
    assert every["psyfire_labeled_turns"] == 9 and every["psyfire_ccr"] == pytest.approx(5 / 9)
    low = rows["low"]
    assert (low["typed_turns"], low["ccr"], low["psyfire_ccr"]) == (3, pytest.approx(1 / 3), pytest.approx(2 / 4))
    assert rows["moderate"]["ccr"] == 1.0 and rows["moderate"]["declared_share"] == 0.5


def test_rtf_counts_counselor_turns_followed_by_a_typed_client_turn():
    sessions, turns = rpc_frames()
    per = {r["session_id"]: r for r in session_resistance(sessions, turns).to_dicts()}
    # a: question 0 -> defensive, question 1 -> compliant, question 2 -> untyped (not counted), farewell -> nothing
    assert (per["a"]["counselor_followed"], per["a"]["counselor_triggered"]) == (2, 2)
    assert (per["b"]["counselor_followed"], per["b"]["counselor_triggered"]) == (3, 2)
    assert (per["c"]["counselor_followed"], per["c"]["counselor_triggered"]) == (1, 0)
    rows = {r["level"]: r for r in by_level(sessions, turns).to_dicts()}
    assert rows["all"]["rtf_counselor_turns"] == 6 and rows["all"]["rtf"] == pytest.approx(4 / 6)
    assert rows["high"]["rtf"] == pytest.approx(2 / 3)


def test_prevalence_and_diversity_from_both_taxonomies():
    sessions, turns = rpc_frames()
    per = {r["session_id"]: r for r in session_resistance(sessions, turns).to_dicts()}
    assert [per[s]["resistant_types"] for s in "abc"] == [2, 1, 0]
    assert [per[s]["psyfire_types"] for s in "abc"] == [2, 2, 0]
    assert [per[s]["last_resistant_turn"] for s in "abc"] == [4, 4, None]
    every = by_level(sessions, turns).filter(pl.col("level") == "all").to_dicts()[0]
    assert every["sessions_resisting"] == 2 and every["sessions_resisting_share"] == pytest.approx(2 / 3)
    assert every["mean_resistant_types"] == pytest.approx(1.0)
    assert every["psyfire_sessions_resisting_share"] == pytest.approx(2 / 3)
    assert every["psyfire_resistant_share"] == pytest.approx(4 / 9)
    assert every["mean_psyfire_types"] == pytest.approx(4 / 3)


def test_type_distribution_says_where_each_type_came_from():
    dist = {r["reaction_type"]: r for r in type_distribution(rpc_frames()[1]).to_dicts()}
    assert dist["non_resistant"] == {"reaction_type": "non_resistant", "n": 4, "share": pytest.approx(4 / 9),
                                     "declared": 1, "injected": 0, "labeled": 3}
    assert (dist["defensive"]["injected"], dist["defensive"]["n"]) == (1, 1)
    assert "avoidant" not in dist  # the injected turn's label does not count beside its injected type
    assert sum(r["n"] for r in dist.values()) == 9


def test_rpc_records_have_reaction_types_from_labels_alone():
    sessions = [rpc_session("z", Level.low, 2)]
    _, turns = frames(labeled_table(sessions, {("z", 0): reacted("avoidant")}, {}))
    assert has_reaction_types(turns)


# --- session resistance against WAI -------------------------------------------------------------------------

def wai_corpus():
    types = [["defensive", "non_resistant", "non_resistant", "non_resistant"],
             ["defensive", "avoidant", "non_resistant", "non_resistant"],
             ["defensive", "avoidant", "compliant", "non_resistant"],
             ["controlling", "avoidant", "compliant", "emotional"],
             ["facilitative", "non_resistant", "non_resistant", "non_resistant"]]
    sessions = [typed_session(f"w{k}", Level.moderate, t) for k, t in enumerate(types)]
    wai = pl.DataFrame({"session_id": [f"w{k}" for k in range(5)], "language": ["en"] * 5,
                        "goal": [5.0, 4.5, 4.0, 2.0, 6.0], "task": [4.0, 4.2, 3.0, 3.5, 5.5],
                        "bond": [6.0, 5.0, None, 2.5, 6.5]})
    return frames(sessions), wai


def test_wai_correlation_matches_numpy_and_the_t_test():
    (sessions, turns), wai = wai_corpus()
    table = {(r["measure"], r["dimension"]): r for r in wai_correlation(sessions, turns, wai).to_dicts()}
    share = np.array([0.25, 0.5, 0.75, 1.0, 0.0])
    goal, task = np.array([5.0, 4.5, 4.0, 2.0, 6.0]), np.array([4.0, 4.2, 3.0, 3.5, 5.5])
    bond = np.array([6.0, 5.0, np.nan, 2.5, 6.5])
    scored = ~np.isnan(bond)  # w2 has no bond score, so no overall (the mean of goal, task and bond) either
    for dimension, x, y in (("goal", share, goal), ("task", share, task), ("bond", share[scored], bond[scored]),
                            ("overall", share[scored], ((goal + task + bond) / 3)[scored])):
        row = table["resistant_share", dimension]
        r = np.corrcoef(x, y)[0, 1]
        n = len(x)
        t = r * np.sqrt((n - 2) / (1 - r ** 2))
        assert row["sessions"] == n
        assert row["r"] == pytest.approx(r) and row["p"] == pytest.approx(2 * stats.t.sf(abs(t), n - 2))
    assert table["resistant_share", "goal"]["r"] < 0  # more resistance, weaker alliance, in this toy corpus
    # Live sessions have no PsyFIRE labels: that measure has no pairs.
    assert table["psyfire_resistant_share", "goal"]["sessions"] == 0 and table["psyfire_resistant_share", "goal"]["r"] is None


def test_pearson_is_undefined_on_too_few_or_constant_values():
    assert pearson([0.1, 0.2], [1.0, 2.0]) == (None, None)
    assert pearson([0.5, 0.5, 0.5], [1.0, 2.0, 3.0]) == (None, None)
    r, p = pearson([0.1, 0.2, 0.4], [3.0, 2.0, 1.5])
    assert r == pytest.approx(stats.pearsonr([0.1, 0.2, 0.4], [3.0, 2.0, 1.5]).statistic) and 0 < p < 1


def test_the_section_has_the_wai_table_only_with_scores():
    (sessions, turns), wai = wai_corpus()
    titles = [b.caption for b in resistance_section(sessions, turns).blocks if isinstance(b, Table)]
    assert "Session resistance and working alliance" not in titles
    assert {"Resistance by role-card resistance level", "Where the reaction types come from",
            "Prevalence and diversity of resistance", "Client turns by reaction type"} <= set(titles)
    with_wai = [b.caption for b in resistance_section(sessions, turns, wai).blocks if isinstance(b, Table)]
    assert with_wai[-1] == "Session resistance and working alliance"
