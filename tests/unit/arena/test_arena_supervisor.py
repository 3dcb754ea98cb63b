import pytest
from counselsim.arena.pairing import pair_for_slot
from counselsim.arena.supervisor import check_prompt, shuffle, supervisor_messages
from counselsim.arena.verdict import VerdictError, parse_json, parse_text
from counselsim.errors import InputError
from counselsim.seeds import derive_seed


def test_pairs_are_balanced_and_stable():
    entrants = ["a", "b", "c", "d"]
    slots = [pair_for_slot(entrants, 7, slot) for slot in range(6 * 10 + 3)]
    counts = {}
    for x, y in slots:
        assert x != y and {x, y} <= set(entrants)
        key = frozenset((x, y))
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 6 and max(counts.values()) - min(counts.values()) <= 1
    firsts = sum(x == "a" for x, y in slots if "a" in (x, y))
    assert 0.25 < firsts / sum("a" in p for p in slots) < 0.75  # orientation is a coin, not the roster order
    assert pair_for_slot(entrants, 7, 41) == slots[41]
    assert [pair_for_slot(entrants, 8, s) for s in range(6)] != slots[:6]
    with pytest.raises(ValueError):
        pair_for_slot(["a"], 0, 0)


def test_shuffle_is_recorded_and_undone():
    replies = {"good": "How did that feel?", "bad": "Just relax."}
    shown_first = set()
    for turn in range(40):
        presentation = shuffle(("good", "bad"), derive_seed(3, "shuffle", turn))
        shown_first.add(presentation.shown[0])
        text = supervisor_messages("en", 2, [("client", "Hello"), ("counselor", "Hi"), ("client", "I am sad")],
                                   replies, presentation)[0]["content"]
        a_line = next(line for line in text.splitlines() if line.startswith("A. "))
        assert a_line == "A. " + replies[presentation.entrant_of("A")]
        for entrant in replies:
            assert presentation.entrant_of(presentation.position_of(entrant)) == entrant
        assert "Client: I am sad" in text and "{" not in text
    assert shown_first == {"good", "bad"}


def test_chinese_prompt_one_renders():
    presentation = shuffle(("x", "y"), 1)
    text = supervisor_messages("zh", 1, [("client", "你好")], {"x": "你好，想聊些什么？", "y": "嗯。"}, presentation)
    content = text[0]["content"]
    assert "自主性" in content and "来访者：你好" in content and "B. " in content


def test_missing_prompt_is_an_input_error():
    check_prompt("en", 1)
    with pytest.raises(InputError, match="must be one of"):
        check_prompt("en", 3)
    with pytest.raises(InputError, match="prompts/fr/arena_select_1.txt"):
        check_prompt("fr", 1)


@pytest.mark.parametrize("text, language, label, reason", [
    ("- Basis for selection: B asks an open question.\n- Final choice: B", "en", "B", "B asks an open question."),
    ("- Basis for Selection: empathy matters most.\n- Final Choice: **A**", "en", "A", "empathy matters most."),
    ("Final choice: X (where X belongs to [A, B])\nBasis for selection: warmer.\nFinal choice: A.", "en", "A",
     "warmer."),
    ("- 选择的依据：B更有共情。\n- 最后的选择：B", "zh", "B", "B更有共情。"),
    ("选择的依据：A更合适\n最后的选择：A（其中X属于[A, B]）", "zh", "A", "A更合适"),
])
def test_verdicts_that_parse(text, language, label, reason):
    verdict = parse_text(text, language)
    assert (verdict.label, verdict.reason) == (label, reason)


@pytest.mark.parametrize("text", [
    "Both are fine, I pick A.",  # no marker
    "Final choice: A or B",  # both options
    "Final choice: A\nOn reflection... Final choice: B",  # conflicting
    "Final choice: C",
    "Final choice: Always the first",
])
def test_verdicts_that_do_not_parse(text):
    with pytest.raises(VerdictError):
        parse_text(text, "en")


def test_guided_json_verdicts():
    assert parse_json('{"reason": " warmer ", "choice": "B"}').label == "B"
    for bad in ['{"choice": "C", "reason": ""}', '{"choice": "A"}', "A", '["A"]']:
        with pytest.raises(VerdictError):
            parse_json(bad)
