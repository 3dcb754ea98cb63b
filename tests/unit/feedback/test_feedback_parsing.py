"""The judge's answers: strict parsing of the four levels and the explanation, and the guided-decoding schema."""
from __future__ import annotations

import json

import pytest
from counselsim.engines.parsing import ParseError
from counselsim.feedback.mechanisms import build_mechanisms, load_mechanisms
from counselsim.feedback.parsing import KeyIndex, output_schema, parse_judgement
from counselsim.errors import InputError
from counselsim.schemas.feedback import MECHANISMS

KEYS = KeyIndex(load_mechanisms())
GOOD = {"respect_for_autonomy": 2, "stance_alignment": 1, "emotional_resonance": 0, "conversational_orientation": 1,
        "explanation": "The client rejects the advice; the reply insists on it (\"you should\")."}


def test_a_json_object_with_the_four_levels_parses():
    j = parse_judgement(json.dumps(GOOD), KEYS)
    assert j.levels == {"respect_for_autonomy": 2, "stance_alignment": 1, "emotional_resonance": 0,
                        "conversational_orientation": 1}
    assert j.explanation.startswith("The client rejects")


def test_form_is_lenient_fence_prose_display_names_and_digit_strings():
    answer = {"Respect for Autonomy": "2", "Stance Alignment": 1, "情感共鸣": 0, "Conversational-Orientation": 1,
              "解释": "  来访者否认问题，\n 回复没有回应其感受。 "}
    j = parse_judgement("Here is my rating:\n```json\n" + json.dumps(answer, ensure_ascii=False) + "\n```", KEYS)
    assert list(j.levels.values()) == [2, 1, 0, 1]
    assert j.explanation == "来访者否认问题， 回复没有回应其感受。"


@pytest.mark.parametrize("change, message", [
    ({"stance_alignment": 3}, "not a level"),
    ({"stance_alignment": -1}, "not a level"),
    ({"stance_alignment": 1.5}, "not a level"),
    ({"stance_alignment": True}, "not a level"),
    ({"stance_alignment": "strong"}, "not a level"),
    ({"stance_alignment": None}, "not a level"),
    ({"explanation": "  "}, "explanation"),
])
def test_content_is_strict(change, message):
    with pytest.raises(ParseError, match=message):
        parse_judgement(json.dumps({**GOOD, **change}), KEYS)


def test_a_missing_mechanism_or_explanation_is_a_parse_error():
    for key in (*MECHANISMS, "explanation"):
        partial = {k: v for k, v in GOOD.items() if k != key}
        with pytest.raises(ParseError):
            parse_judgement(json.dumps(partial), KEYS)


def test_a_mechanism_given_twice_under_two_spellings_is_refused():
    with pytest.raises(ParseError, match="twice"):
        parse_judgement(json.dumps({**GOOD, "Autonomy": 0}), KEYS)


def test_no_json_and_overlong_explanations_are_parse_errors():
    with pytest.raises(ParseError):
        parse_judgement("Autonomy: 2, Stance: 1", KEYS)
    with pytest.raises(ParseError, match="longer"):
        parse_judgement(json.dumps(GOOD), KEYS, max_chars=10)


def test_the_output_schema_bounds_every_level_and_the_explanation():
    schema = output_schema(300)
    assert schema["required"] == [*MECHANISMS, "explanation"]
    for m in MECHANISMS:
        assert schema["properties"][m] == {"type": "integer", "enum": [0, 1, 2]}
    assert schema["properties"]["explanation"]["maxLength"] == 300
    assert schema["additionalProperties"] is False


def test_the_mechanisms_file_must_name_the_record_fields_in_order():
    spec = load_mechanisms()
    assert [m.id for m in spec.mechanisms] == list(MECHANISMS)
    assert [lvl.names.en for lvl in spec.levels] == ["No Expression", "Weak Expression", "Strong Expression"]
    data = spec.model_dump()
    data["mechanisms"] = data["mechanisms"][:3]
    with pytest.raises(InputError, match="communication_mechanisms.yaml.*mechanisms must be exactly"):
        build_mechanisms(data)
