"""The audit's feedback section: level distributions overall, by resistance group and by counselor model, and
examples of strong and absent handling in the HTML report."""
from __future__ import annotations

import polars as pl
import pyarrow as pa

from counselsim.audit.document import Report, to_html
from counselsim.audit.feedback import examples, feedback_section, level_distribution
from counselsim.schemas.feedback import FEEDBACK_SCHEMA, MECHANISMS, FeedbackRecord, item_id


def rec(session: str, turn: int, level: int | None, model: str, label: str | None = "denying.blaming") -> dict:
    ok = level is not None
    return FeedbackRecord(
        item_id=item_id(session, turn), session_id=session, slot=0, language="en", turn=turn,
        client_text=f"client {session} {turn}", reply_text=f"reply {session} {turn}", counselor_model=model,
        resistance_label=label, resistance_group=label.split(".")[0] if label else None, label_source="corpus",
        **dict.fromkeys(MECHANISMS, level), explanation=f"why {level}" if ok else None,
        judge_status="ok" if ok else "unparseable", judge_output=None if ok else "??", judge="j",
        judge_attempts=1, prompt_tokens=1, completion_tokens=1, feedback_run_id="r",
        feedback_config_hash="h").model_dump()


FRAME = pl.from_arrow(pa.Table.from_pylist([
    rec("a", 1, 2, "big"), rec("a", 3, 2, "big", "arguing.challenging"), rec("b", 1, 0, "small"),
    rec("b", 3, 1, "small", None), rec("b", 5, None, "small"),
], schema=FEEDBACK_SCHEMA))


def test_levels_are_shares_of_judged_replies_per_mechanism():
    overall = level_distribution(FRAME, [])
    assert overall["mechanism"].cast(pl.String).to_list() == list(MECHANISMS)
    row = overall.row(0, named=True)
    assert (row["n"], row["none"], row["weak"], row["strong"], row["mean"]) == (4, 0.25, 0.25, 0.5, 1.25)


def test_levels_by_counselor_model_and_resistance_group():
    by_model = level_distribution(FRAME, ["counselor_model"]).filter(pl.col("mechanism") == "stance_alignment")
    assert dict(zip(by_model["counselor_model"], by_model["mean"])) == {"big": 2.0, "small": 0.5}
    by_group = level_distribution(FRAME, ["resistance_group"]).filter(pl.col("mechanism") == "stance_alignment")
    assert dict(zip(by_group["resistance_group"], by_group["n"])) == {None: 1, "arguing": 1, "denying": 2}


def test_examples_of_strong_and_absent_handling_reach_the_html():
    assert examples(FRAME, strongest=True)["item_id"].to_list() == ["a#00001", "a#00003", "b#00003"]
    assert examples(FRAME, strongest=False, n=1)["item_id"].to_list() == ["b#00001"]
    html = to_html(Report("r", [feedback_section(FRAME)]))
    assert "Strong handling" in html and "Absent handling" in html and "reply b 1" in html
    assert "1 judgements were unparseable" in html
