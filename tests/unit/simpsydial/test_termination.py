import pytest
from counselsim.simpsydial.termination import is_closing


@pytest.mark.parametrize("reply", [
    "Good bye.",
    "Take care, and see you next time!",
    "I hope the talk with your mom goes well. Good luck!",
    "Thank you for sharing today. Take care of yourself.",
    "Looking forward to hearing from you.",
    "You did a lot of work today. Keep it up!",
])
def test_english_closings_end_the_session(reply):
    assert is_closing(reply, "en")


@pytest.mark.parametrize("reply", [
    "Keep it up! What else helped you this week?",
    "Keep it up, and tell me more about how the conversation with your mother went last night",
    "Good luck with the exam tomorrow, how are you feeling about it?",
    "Next time this happens, what could you try first?",
    "Welcome back! How have you been since our last talk?",
    "It sounds like you want to take care of everyone except yourself, and that leaves you exhausted most days.",
    "",
])
def test_english_mid_session_phrases_do_not(reply):
    assert not is_closing(reply, "en")


@pytest.mark.parametrize("reply", [
    "好的，今天就到这里，再见！",
    "期待下次见到你，保重。",
    "你今天很勇敢，继续加油！",
    "祝你一切顺利。",
    "我们下次见。",
])
def test_chinese_closings_end_the_session(reply):
    assert is_closing(reply, "zh")


@pytest.mark.parametrize("reply", [
    "加油！你觉得接下来可以怎么做？",
    "你已经做得很好了，继续加油，我们接着聊聊你和妈妈之间最近发生的事情吧。",
    "下一次再遇到这种情况，你会怎么做？",
    "再见到他的时候你是什么感受？",
    "听起来你一直在照顾别人，却很少保重自己，这让你非常疲惫。",
])
def test_chinese_mid_session_phrases_do_not(reply):
    assert not is_closing(reply, "zh")


def test_plain_substring_match_would_have_ended_these():
    # The original release's check (`phrase in reply`) ends all of these sessions.
    for reply, lang in [("加油！你觉得接下来可以怎么做？", "zh"), ("Keep it up! What else helped?", "en")]:
        assert any(p in reply.lower() for p in ["加油", "keep it up"])
        assert not is_closing(reply, lang)
