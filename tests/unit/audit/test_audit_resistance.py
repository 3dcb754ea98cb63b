"""Resistance measures from the seven reaction types, on hand-built corpora with known answers."""
import json

import polars as pl
import pytest
from audit_builders import card, session, write_corpus
from counselsim.audit.frames import explode_turns, load_frames
from counselsim.audit.report import build_report, write_report
from counselsim.audit.resistance import (
    by_level,
    has_reaction_types,
    session_resistance,
    type_distribution,
)
from counselsim.schemas import Level, Resistance
from counselsim.schemas.arrow import sessions_to_table


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
    table = pl.from_arrow(sessions_to_table(sessions))
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
