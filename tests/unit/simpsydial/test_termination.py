from pathlib import Path

import pytest
import yaml
from counselsim.resources import read_yaml
from counselsim.simpsydial.termination import describe, is_closing

GOLD = yaml.safe_load((Path(__file__).resolve().parents[2] / "data" / "termination_gold.yaml").read_text("utf-8"))


def _cases(kind: str) -> list[tuple[str, str]]:
    return [(language, reply) for language, sets in GOLD.items() for reply in sets[kind]]


def test_gold_set_is_large_enough():
    for language in ("en", "zh"):
        assert len(GOLD[language]["mid_session"]) >= 20
        assert len(GOLD[language]["closings"]) >= 10


@pytest.mark.parametrize("language,reply", _cases("mid_session"))
def test_mid_session_farewell_words_never_stop(language, reply):
    assert not is_closing(reply, language)


@pytest.mark.parametrize("language,reply", _cases("closings"))
def test_gold_closings_end_the_session(language, reply):
    assert is_closing(reply, language)


@pytest.mark.parametrize("reply", [
    # Real closings the earlier last-sentence rule missed (Interactive Agents dialogues): the farewell is followed
    # by an invitation to return, a belief or a wish.
    "不客气，祝你一切顺利！随时联系。",
    "好的，我随时在这里等你。加油！相信你能做到。",
    "祝你好运，希望你们一切都好。如果有任何其他问题或需要支持，随时可以来找我聊聊。",
    "期待再次和你聊聊。",  # the original code's phrase
])
def test_farewell_followed_by_closing_moves_closes(reply):
    assert is_closing(reply, "zh")


@pytest.mark.parametrize("reply,language", [
    ("加油，我们接着聊", "zh"),  # a next step after the encouragement
    ("加油！你觉得接下来可以怎么做？", "zh"),  # a question after it
    ("他说“再见”就走了。", "zh"),  # quoted
    ("你说再见的时候他没有回头。", "zh"),  # reported: the lead is not a closing lead
    ("你可以给自己加油打气。", "zh"),  # the interjection does not end its clause
    ("下一次再遇到这种情况，先深呼吸。", "zh"),  # 下一次 as advice, not a parting
    ("Next time he says that, try to breathe first.", "en"),
    ("She said goodbye and left.", "en"),
    ("Good luck sounds like something people say without listening.", "en"),  # a wish named, not made
    ("Keep it up. Let's look at Tuesday now.", "en"),
])
def test_each_rule_rejects_its_case(reply, language):
    assert not is_closing(reply, language)


@pytest.mark.parametrize("reply,language", [
    ("我们下次再聊。", "zh"), ("下一次见！", "zh"), ("Until next time.", "en"),  # 下一次 / next time as partings
    ("希望明天的尝试顺利加油！", "zh"),  # a wish may lead an interjection
    ("保重自己。", "zh"), ("Take care of yourself.", "en"),  # allowed trailers
    ("Good luck with the interview tomorrow.", "en"), ("期待听到你的进展。", "zh"),  # wishes with an object
    ("祝你一切顺利，找到心灵的平静。", "zh"),  # the rest of a wish's sentence finishes the wish
    ("加油！💪", "zh"),
])
def test_closing_forms(reply, language):
    assert is_closing(reply, language)


def test_empty_and_question_replies_do_not_close():
    assert not is_closing("", "en")
    assert not is_closing("再见？", "zh")
    assert not is_closing("Take care, okay?", "en")


def test_the_papers_phrases_are_all_kept():
    spec = read_yaml("termination.yaml")
    zh = spec["zh"]["interjections"] + spec["zh"]["wishes"]
    for phrase in ["再见", "加油", "保重", "欢迎回来", "一切顺利", "祝你好运", "期待听到", "期待你", "下次见", "期待再次"]:
        assert phrase in zh
    assert any(p.startswith("下一次") for p in zh)
    en = spec["en"]["interjections"] + spec["en"]["wishes"]
    for phrase in ["good bye", "keep it up", "take care", "welcome back", "all the best", "good luck",
                   "looking forward to hearing", "looking forward to see you", "next time", "see you next time"]:
        assert phrase in en


def test_describe_lists_the_data_files_phrases():
    spec = read_yaml("termination.yaml")
    for language in ("en", "zh"):
        text = describe(language)
        assert all(p in text for p in spec[language]["interjections"] + spec[language]["wishes"])
        assert "question" in text and "invitation to return" in text
