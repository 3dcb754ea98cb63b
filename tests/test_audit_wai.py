"""The WAI-O-S data files the LLM judge will use: 12 items in three factors (paper Figure 10), the prompt of
Figure 11."""
from collections import Counter

from counselsim.resources import prompt, read_yaml


def test_wai_items():
    spec = read_yaml("audit", "wai_items.yaml")
    items = spec["items"]
    assert [i["id"] for i in items] == list(range(1, 13))
    assert Counter(i["factor"] for i in items) == {"goal": 4, "task": 4, "bond": 4}
    assert {i["id"] for i in items if i["factor"] == "goal"} == {4, 6, 10, 11}
    assert {i["id"] for i in items if i["factor"] == "bond"} == {3, 5, 7, 9}
    assert {i["id"] for i in items if i["reverse"]} == {4, 10}
    assert spec["scale"] == {"min": 1, "max": 7}


def test_wai_prompt_fills():
    text = prompt("en", "wai", conversation="CONV", questionnaire="ITEM", guidelines="GUIDE")
    assert "CONV\nEnd of the conversation" in text and "**ITEM**" in text and "GUIDE" in text
    assert text.endswith("Your score is")
