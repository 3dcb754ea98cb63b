import pytest
from counselsim.config import RefinementConfig
from counselsim.simpsydial.refinement import clean, describe, enumeration, rejection_reason

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


def test_newline_is_rejected():
    assert rejection_reason("Here are some ideas:\nrest more", "en", LIMITS) == "newline"
    assert rejection_reason("好的。\r\n你觉得呢？", "zh", LIMITS) == "newline"


@pytest.mark.parametrize("text,lang", [
    # numbered items, inline or opening a list
    ("1. Rest more 2. Walk daily", "en"),
    ("建议1.早点休息2.多散步", "zh"),
    ("可以这样做：1.早点休息 2.多散步", "zh"),
    ("可以这样做：1.早点休息", "zh"),
    ("Try these: (1) rest (2) walk", "en"),
    ("可以这样做：（1）早点休息", "zh"),
    ("你可以试试①早点休息②多散步", "zh"),
    ("一、早点休息；二、多散步", "zh"),
    # lettered items
    ("You could a) rest more b) walk daily.", "en"),
    ("Try (a) resting and (b) walking.", "en"),
    # bullets
    ("Some options: - rest - walk", "en"),
    ("• rest • walk", "en"),
    # ordinal words in sequence
    ("首先，早点休息；其次，多散步；最后，找朋友聊聊。", "zh"),
    ("你可以试试：首先早点休息，其次多散步。", "zh"),
    ("第一，早点休息。第二，多散步。", "zh"),
    ("一是早点休息，二是多散步。", "zh"),
    ("First, rest more. Second, walk daily. Third, call a friend.", "en"),
    ("First rest more, second walk daily.", "en"),
    ("Firstly, rest. Secondly, walk.", "en"),
    # labelled steps
    ("Step 1: write down the thought.", "en"),
    ("第1步：深呼吸。", "zh"),
    ("第一步：先深呼吸，第二步：写下想法。", "zh"),
])
def test_enumerations_in_any_form_are_rejected(text, lang):
    assert rejection_reason(text, lang, LIMITS) == "enumeration"


@pytest.mark.parametrize("text,lang", [
    ("Is it 3. or 4. that worries you?", "en"),
    ("I slept 1.5 hours last night, you said?", "en"),
    ("It was in 2023, right?", "en"),
    ("You are 25. That is young to carry so much.", "en"),
    ("So for 2 weeks you have not slept well?", "en"),
    ("At 3:30 you woke up again?", "en"),
    ("It was 1 or 2 times a week?", "en"),
    ("First of all, thank you for telling me. Last time you mentioned your sister.", "en"),
    ("Second-guessing yourself is exhausting, isn't it?", "en"),
    ("I hear you, and first, I want you to know this is not your fault.", "en"),
    ("At first it felt fine, and finally you told her?", "en"),
    ("你每天晚上11点才睡，早上6点就起床吗？", "zh"),
    ("首先需要考取教师资格证，接下来是找到学校。", "zh"),  # one ordinal alone is prose (real reply, dialogue 37)
    ("你第一次见到他是什么时候？第二次呢？", "zh"),
    ("愿意尝试就是第一步。", "zh"),
    ("不管最后结果如何，最重要的是你表达了自己。", "zh"),
    ("有过一、两次这样的情况吗？", "zh"),
    ("你刚才说的plan b) 是什么意思？", "zh"),
    ("可以从每天5到10分钟开始，好吗？", "zh"),
])
def test_numbers_and_ordinals_in_prose_are_not_enumerations(text, lang):
    assert not enumeration(text, lang)
    assert rejection_reason(text, lang, LIMITS) is None


def test_empty_is_rejected_and_labels_are_stripped():
    assert rejection_reason("   ", "en", LIMITS) == "empty"
    assert clean("Counselor: How are you?") == "How are you?"
    assert clean("咨询师：你好") == "你好"
    assert clean('"Quoted reply."') == "Quoted reply."


def test_describe_states_the_configured_limits():
    limits = RefinementConfig(max_chars_zh=150, max_words_en=90, max_attempts=3)
    assert "150 characters" in describe("zh", limits) and "首先…其次" in describe("zh", limits)
    assert "90 words" in describe("en", limits) and "Step 1:" in describe("en", limits)
    assert "3 attempts" in describe("en", limits)
