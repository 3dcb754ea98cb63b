"""The feedback record: its consistency rules, and its Arrow schema against the model."""
from __future__ import annotations

import pyarrow as pa
import pytest
from pydantic import ValidationError

from counselsim.schemas.feedback import FEEDBACK_SCHEMA, MECHANISMS, FeedbackRecord, item_id
from counselsim.schemas.registry import MODELS, SCHEMAS


def record(**kw) -> dict:
    data = {"item_id": item_id("s-1", 3), "session_id": "s-1", "slot": 0, "language": "en", "turn": 3,
            "client_text": "No.", "reply_text": "You are not sure.", "counselor_model": "m",
            "resistance_label": "denying.disagreeing", "resistance_group": "denying", "label_source": "corpus",
            **dict.fromkeys(MECHANISMS, 1), "explanation": "Because.", "judge_status": "ok", "judge_output": None,
            "judge": "m (scripted backend)", "judge_attempts": 1, "prompt_tokens": 10, "completion_tokens": 5,
            "feedback_run_id": "r", "feedback_config_hash": "h"}
    data.update(kw)
    return data


def test_arrow_schema_and_model_name_the_same_fields_and_round_trip():
    assert FEEDBACK_SCHEMA.names == list(FeedbackRecord.model_fields)
    assert SCHEMAS["feedback"] is FEEDBACK_SCHEMA and MODELS["feedback"] is FeedbackRecord
    rows = [FeedbackRecord(**record()).model_dump(),
            FeedbackRecord(**record(**dict.fromkeys(MECHANISMS), explanation=None, judge_status="unparseable",
                                    judge_output="garbage")).model_dump()]
    table = pa.Table.from_pylist(rows, schema=FEEDBACK_SCHEMA)
    assert [FeedbackRecord.model_validate(r) for r in table.to_pylist()] == [FeedbackRecord(**r) for r in rows]


@pytest.mark.parametrize("change, message", [
    ({"item_id": "s-1#3"}, "does not match"),
    ({"resistance_group": "arguing"}, "does not match label"),
    ({"resistance_label": None}, "does not match label"),
    ({"stance_alignment": 3}, "less than or equal to 2"),
    ({"stance_alignment": None}, "all four levels"),
    ({"judge_output": "raw"}, "unparseable items only"),
    ({"judge_status": "unparseable"}, "no levels"),
])
def test_inconsistent_records_are_refused(change, message):
    with pytest.raises(ValidationError, match=message):
        FeedbackRecord(**record(**change))


def test_item_ids_sort_in_turn_order():
    assert sorted([item_id("s", 10), item_id("s", 9)]) == [item_id("s", 9), item_id("s", 10)]
