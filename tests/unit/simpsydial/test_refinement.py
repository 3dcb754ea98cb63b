import pytest
from counselsim.config import RefinementConfig
from counselsim.simpsydial.refinement import clean, rejection_reason

LIMITS = RefinementConfig()


def test_accepts_a_short_plain_reply():
    assert rejection_reason("What happened after the argument?", "en", LIMITS) is None
    assert rejection_reason("那次争吵之后发生了什么？", "zh", LIMITS) is None


def test_length_limits_per_language():
    assert rejection_reason("字" * 200, "zh", LIMITS) is None
    assert rejection_reason("字" * 201, "zh", LIMITS) == "too_long"
    assert rejection_reason(" ".join(["word"] * 120), "en", LIMITS) is None
    assert rejection_reason(" ".join(["word"] * 121), "en", LIMITS) == "too_long"
    assert rejection_reason("a b c d", "en", RefinementConfig(max_words_en=3)) == "too_long"


@pytest.mark.parametrize("text,lang", [
    ("Here are some ideas:\nrest more", "en"),
    ("1. Rest more 2. Walk daily", "en"),
    ("Try these: (1) rest (2) walk", "en"),
    ("Some options: - rest - walk", "en"),
    ("你可以试试①早点休息②多散步", "zh"),
    ("一、早点休息；二、多散步", "zh"),
    ("可以这样做：1.早点休息 2.多散步", "zh"),
    ("可以这样做：（1）早点休息", "zh"),
])
def test_rejects_newlines_and_enumerations(text, lang):
    assert rejection_reason(text, lang, LIMITS) in {"newline", "enumeration"}


@pytest.mark.parametrize("text", ["I slept 1.5 hours last night, you said?", "It was in 2023, right?"])
def test_numbers_are_not_enumerations(text):
    assert rejection_reason(text, "en", LIMITS) is None


def test_empty_is_rejected_and_labels_are_stripped():
    assert rejection_reason("   ", "en", LIMITS) == "empty"
    assert clean("Counselor: How are you?") == "How are you?"
    assert clean("咨询师：你好") == "你好"
    assert clean('"Quoted reply."') == "Quoted reply."
