"""The strict parsers on messy model outputs: formatting is forgiven, content is never guessed."""
from __future__ import annotations

import pytest
from counselsim.engines.parsing import ParseError, json_object
from counselsim.rpc.parsing import normalize, parse_label, string_fields
from counselsim.rpc.profile import parse_profile
from counselsim.rpc.rewriter import parse_rewrite
from counselsim.rpc.settings import InjectionSettings
from counselsim.rpc.taxonomy import load_taxonomy

TAX = load_taxonomy()


@pytest.mark.parametrize("text, expected", [
    ("Behavior: Resistance\nReason: The client rejects the idea.", "resistance"),
    ("**Behavior:** Collaboration\n**Reason:** answers the question", "collaboration"),
    ("behaviour: cooperation.\nreason: engages", "collaboration"),
    ("Behavior: [Resistance]\nReason: pushes back", "resistance"),
    ('{"behavior": "Resistance", "reason": "pushes back"}', "resistance"),
    ('Sure! ```json\n{"behavior": "Collaboration", "reason": "agrees"}\n```', "collaboration"),
    ("Resistance\nThe client dismisses the suggestion.", "resistance"),
    ("Behavior:\nResistance\nReason: dismisses", "resistance"),
    ("行为：阻抗\n理由：来访者拒绝了建议", "resistance"),
    ("  1. Behavior - Resistance (Denying - Blaming)\n2. Reason: blames the husband", None),  # no colon: not a key
    ("Behavior: Resistance (Denying - Blaming)\nReason: blames the husband", "resistance"),
])
def test_binary_labels(text, expected):
    if expected is None:
        with pytest.raises(ParseError):
            parse_label(text, TAX.binary_index)
    else:
        assert parse_label(text, TAX.binary_index).category == expected


@pytest.mark.parametrize("text, expected", [
    ("Behavior: Denying - Blaming\nReason: blames him", "denying.blaming"),
    ("Behavior: denying – blaming.\nReason: blames him", "denying.blaming"),
    ("Behavior: Avoidance - Minimum Talk\nReason: one word", "avoiding.minimum_talk"),  # the paper's Table 9 spelling
    ("Behavior: Minimal Talk\nReason: one word", "avoiding.minimum_talk"),  # Appendix A.2's
    ("Behavior: denying.pessimism\nReason: hopeless", "denying.pessimism"),
    ("Behavior: Pessimistic\nReason: hopeless", "denying.pessimism"),
    ("Behavior: Blaming (Denying)\nReason: x", "denying.blaming"),
    ("**Behavior**: *Ignoring - Sidetracking*\n**Reason**: changes topic", "ignoring.sidetracking"),
    ('{"Behavior": "Arguing - Discounting", "Reason": "questions the counselor"}', "arguing.discounting"),
    ("行为：否认-归咎\n理由：把责任推给丈夫", "denying.blaming"),
    ("行为：否认 - 不愿改变\n理由：不想尝试", "denying.unwillingness"),
    ("Behavior: 回避 - 设限\nReason: refuses the topic", "avoiding.limit_setting"),
])
def test_fine_labels(text, expected):
    assert parse_label(text, TAX.fine_index).category == expected


@pytest.mark.parametrize("text", [
    "",
    "   ",
    "I think the client is resisting.",  # no Behavior line, first line is not a name
    "Behavior: Resistance or Collaboration\nReason: hard to say",
    "Behavior: not resistance\nReason: x",
    "Behavior: Non-resistance\nReason: x",
    "Behavior: Resistance",  # no reason
    "Behavior: Resistance\nReason:",
    "Behavior: Resistance\nBehavior: Collaboration\nReason: both",
    "行为：不合作\n理由：拒绝",
    '{"behavior": "Maybe", "reason": "unsure"}',
])
def test_binary_outputs_that_are_refused(text):
    with pytest.raises(ParseError):
        parse_label(text, TAX.binary_index)


@pytest.mark.parametrize("text", [
    "Behavior: Denying\nReason: a group, not a behaviour",
    "Behavior: Blaming and Excusing\nReason: both",
    "Behavior: Collaboration\nReason: the fine step only knows resistance behaviours",
    "Behavior: Resistance\nReason: x",
    "Behavior: Stonewalling\nReason: not in the taxonomy",
])
def test_fine_outputs_that_are_refused(text):
    with pytest.raises(ParseError):
        parse_label(text, TAX.fine_index)


def test_reason_runs_over_lines_and_repeated_equal_behaviors_are_fine():
    parsed = parse_label("Behavior: Resistance\nReason: first part\nsecond part\nBehavior: resistance", TAX.binary_index)
    assert parsed.reason == "first part second part"


def test_normalize_and_json_helpers():
    assert normalize("  **Denying – Blaming**. ") == "denying blaming"
    assert json_object('noise {"a": 1} {"b": 2}') == {"a": 1}
    assert json_object('{"a": {"b": [1, 2]}}') == {"a": {"b": [1, 2]}}
    with pytest.raises(ParseError):
        json_object('{"a": ')
    assert string_fields({"a": " x \n y ", "z": 1}, ["a"]) == {"a": "x y"}
    with pytest.raises(ParseError, match="'b'"):
        string_fields({"a": "x", "b": ""}, ["a", "b"])
    with pytest.raises(ParseError, match="longer"):
        string_fields({"a": "x" * 20}, ["a"], max_chars=10)


def test_profile_parser():
    good = {k: "text" for k in ("presenting", "predisposing", "precipitating", "perpetuating", "protective")}
    import json

    assert parse_profile("Profile:\n" + json.dumps(good) + "\nDone.", 100).protective == "text"
    with pytest.raises(ParseError, match="protective"):
        parse_profile(json.dumps({**good, "protective": " "}), 100)


def test_rewrite_parser():
    import json

    settings = InjectionSettings(response_max_chars_en=30)
    out = {"profile_reflection": "a", "situation_awareness": "b", "reaction_decision": "c",
           "response": 'Client: "I really do not want to."'}
    motivation, response = parse_rewrite(json.dumps(out), "Okay I will try.", "en", settings)
    assert response == "I really do not want to." and motivation.reaction_decision == "c"
    with pytest.raises(ParseError, match="repeats"):
        parse_rewrite(json.dumps({**out, "response": "okay, I will try"}), "Okay I will try.", "en", settings)
    with pytest.raises(ParseError, match="longer"):
        parse_rewrite(json.dumps({**out, "response": "word " * 9}), "x", "en", settings)  # 44 characters
