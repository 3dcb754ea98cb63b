"""WAI-O-S scoring by an LLM judge: the data files (12 items in three factors, paper Figure 10; the prompt of
Figure 11), the scoring arithmetic on a scripted judge, the report section and `counselsim audit --wai`, and one
scoring on the real engine."""
import asyncio
import json
import re
from collections import Counter, defaultdict

import polars as pl
import pytest
from audit_builders import session, write_corpus
from counselsim.audit import wai
from counselsim.audit.wai_job import score_corpus
from counselsim.audit.frames import load_frames
from counselsim.audit.report import build_report, write_report
from counselsim.config import load_config
from counselsim.engines.base import Completion, EngineError
from counselsim.errors import InputError
from counselsim.resources import prompt, read_yaml


def test_wai_items():
    spec = read_yaml("wai_items.yaml")
    items = spec["items"]
    assert [i["id"] for i in items] == list(range(1, 13))
    assert Counter(i["factor"] for i in items) == {"goal": 4, "task": 4, "bond": 4}
    assert {i["id"] for i in items if i["factor"] == "goal"} == {4, 6, 10, 11}
    assert {i["id"] for i in items if i["factor"] == "bond"} == {3, 5, 7, 9}
    assert {i["id"] for i in items if i["reverse"]} == {4, 10}
    assert spec["scale"] == {"min": 1, "max": 7}
    assert all(i["guideline"].strip() for i in items)


def test_wai_prompt_fills():
    text = prompt("en", "wai", conversation="CONV", questionnaire="ITEM", guidelines="GUIDE")
    assert "CONV\nEnd of the conversation" in text and "**ITEM**" in text and "GUIDE" in text
    assert text.endswith("Your score is")


ITEMS = {item.text: item.id for item in wai.load_items()}
DEFAULT = "5"


class ScriptedJudge:
    """A judge pool: for (session, item) it hands out the scripted outputs, one per call (the rounds of a pair differ
    only by seed, so which round gets which output does not matter to the means); "ERROR" raises an engine error."""

    def __init__(self, script: dict[tuple[str, int], list[str]], guided: bool = False) -> None:
        self.script = {key: list(outputs) for key, outputs in script.items()}
        self.guided = guided
        self.samplings: dict[tuple[str, int], list] = defaultdict(list)
        self.prompts: dict[str, str] = {}
        self.in_flight = self.peak = 0

    def supports_structured_output(self, role: str) -> bool:
        assert role == "judge"
        return self.guided

    async def call(self, role, key, messages, sampling):
        text = messages[0]["content"]
        item = ITEMS[re.search(r"Questionnaire: \*\*(.*)\*\*", text).group(1)]
        self.samplings[key, item].append(sampling)
        self.prompts[key] = text
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0)
            outputs = self.script.get((key, item))
            output = outputs.pop() if outputs else DEFAULT
        finally:
            self.in_flight -= 1
        if output == "ERROR":
            raise EngineError("retries exhausted: garbage output")
        return Completion(text=output, prompt_tokens=1, completion_tokens=1)


def judge_config(repo, *overrides: str):
    return load_config(repo / "pipelines" / "wai.yaml", list(overrides))


@pytest.fixture()
def frames(tmp_path):
    en = session("a", [("client", "Hello"), ("counselor", "Hi, what brings you here?"),
                       ("client", "I cannot sleep."), ("counselor", "Take care.")])
    zh = session("b", [("client", "你好"), ("counselor", "你好，说说吧"), ("client", "我睡不着"), ("counselor", "再见")],
                 language="zh")
    write_corpus(str(tmp_path / "corpus"), [en, zh])
    return load_frames(str(tmp_path / "corpus"))


SCRIPT = {
    ("a", 1): ["5", "6", "7"],  # task: 6
    ("a", 4): ["2", "3", "Score: 7"],  # goal, reverse: 6, 5, 1 -> 4
    ("a", 10): ["1", "1", "1"],  # goal, reverse: 7
    ("a", 6): ["7", "I cannot tell", "7"],  # goal: 7, one unparseable round left out
    ("a", 11): ["4", "4", "4"],  # goal: 4
    ("b", 3): ["8", "10", "none"],  # bond: no parsed round, so b has no bond score
    ("b", 5): ["ERROR", "3", "4"],  # bond: 3.5, one failed call
}


def test_parse_score_is_strict():
    for text, score in [("5", 5), ("Score: 5.", 5), ("**7**", 7), ("6/7", 6), ("1", 1), (" 3\n", 3),
                        ("WAI4: 2", 2), ("I'd say 4, because", 4)]:
        assert wai.parse_score(text) == score, text
    for text in ["", "five", "0", "8", "10", "-3", "5.5", "5,5", "8, no 5", "Score"]:
        assert wai.parse_score(text) is None, text


def test_conversation_in_the_session_language():
    lines = [("client", "你好"), ("counselor", "说说吧")]
    assert wai.conversation_text(lines, "zh") == "来访者：你好\n咨询师：说说吧"
    assert wai.conversation_text([("client", "Hi")], "en") == "Client: Hi"
    with pytest.raises(InputError, match="language 'fr'"):
        wai.conversation_text(lines, "fr")


def test_scoring_by_hand(repo, frames, tmp_path):
    cfg = judge_config(repo, "stages.wai.concurrency=4")
    judge = ScriptedJudge(SCRIPT)
    result = asyncio.run(score_corpus(frames, cfg, judge, tmp_path / "staging"))

    assert not result.guided and result.settings.rounds == 3 and result.corpus_sessions == 2
    assert len(result.calls) == 2 * 12 * 3
    assert 1 < judge.peak <= 4  # concurrent, and bounded by stages.wai.concurrency
    # Independent rounds: distinct seeds, no guided choice without structured output, the role's max_tokens.
    for samplings in judge.samplings.values():
        assert len({s.seed for s in samplings}) == 3
        assert all(s.choices is None and s.max_tokens == 4 for s in samplings)
    assert "Client: I cannot sleep.\nCounselor: Take care.\nEnd of the conversation" in judge.prompts["a"]
    assert "来访者：我睡不着\n咨询师：再见\nEnd of the conversation" in judge.prompts["b"]

    a, b = result.sessions.sort("session_id").to_dicts()
    assert a["item_1"] == 6 and a["item_4"] == 4 and a["item_10"] == 7 and a["item_6"] == 7 and a["item_11"] == 4
    assert a["goal"] == pytest.approx((4 + 7 + 7 + 4) / 4)
    assert a["task"] == pytest.approx((6 + 5 + 5 + 5) / 4)
    assert a["bond"] == 5
    assert (a["calls"], a["unparseable"], a["failed"]) == (36, 1, 0)
    assert b["item_3"] is None and b["bond"] is None and b["item_5"] == 3.5
    assert b["item_4"] == b["item_10"] == 3  # reverse: 8 - 5
    assert b["goal"] == pytest.approx((3 + 5 + 3 + 5) / 4) and b["task"] == 5
    assert (b["calls"], b["unparseable"], b["failed"]) == (36, 3, 1)

    factors = {row["factor"]: row for row in result.factors.to_dicts()}
    assert factors["goal"]["sessions"] == 2 and factors["goal"]["mean"] == pytest.approx(4.75)
    assert factors["goal"]["std"] == pytest.approx(1.5 / 2 ** 0.5)  # sample std of 5.5 and 4
    assert factors["task"]["mean"] == pytest.approx((5.25 + 5) / 2)
    assert factors["bond"]["sessions"] == 1 and factors["bond"]["mean"] == 5 and factors["bond"]["std"] is None
    items = {row["item"]: row for row in result.items.to_dicts()}
    assert items[3]["sessions"] == 1 and items[3]["unparseable"] == 3
    assert items[4]["reverse"] == "yes" and items[4]["mean"] == pytest.approx((4 + 3) / 2)
    assert items[5]["failed"] == 1
    assert set(result.unparseable_outputs(10)) == {"I cannot tell", "8", "10", "none"}
    assert result.errors() == ["EngineError: retries exhausted: garbage output"]


def test_guided_choice_and_max_sessions(repo, frames, tmp_path):
    cfg = judge_config(repo, "stages.wai.rounds=1", "stages.wai.max_sessions=1")
    judge = ScriptedJudge({}, guided=True)
    result = asyncio.run(score_corpus(frames, cfg, judge, tmp_path / "staging"))
    assert result.sessions["session_id"].to_list() == ["a"] and len(result.calls) == 12
    assert all(s.choices == tuple("1234567") for samplings in judge.samplings.values() for s in samplings)
    # Every output "5": goal holds the reverse items 4 and 10 (8 - 5 = 3), so (3 + 5 + 3 + 5) / 4.
    assert result.factors["factor"].to_list() == ["goal", "task", "bond"]
    assert result.factors["mean"].to_list() == [4, 5, 5]


def test_stage_settings_are_checked(repo, frames):
    with pytest.raises(InputError, match="stages.wai.rounds"):
        judge_config(repo, "stages.wai.rounds=0")
    with pytest.raises(InputError, match="stages.wai.round': unknown key"):
        judge_config(repo, "stages.wai.round=2")
    with pytest.raises(InputError, match=r"needs roles \['judge'\]"):
        judge_config(repo, "roles={}")


def test_report_section(repo, frames, tmp_path):
    result = asyncio.run(score_corpus(frames, judge_config(repo), ScriptedJudge(SCRIPT), tmp_path / "staging"))
    report = build_report(frames, None, None, 0, "corpus", wai=result)
    write_report(report, str(tmp_path / "report"))
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "## Working alliance (WAI-O-S, LLM judge)" in markdown
    assert "Judge: embedded:smollm2 (vllm backend)." in markdown and "mean nothing" in markdown
    assert "2 of 2 sessions judged; 72 judge calls, 4 unparseable, 1 failed" in markdown
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())["Working alliance (WAI-O-S, LLM judge)"]
    assert metrics["WAI-O-S factor scores"][0] == {"factor": "goal", "sessions": 2, "mean": 4.75,
                                                    "std": pytest.approx(1.5 / 2 ** 0.5)}
    assert "## Working alliance" not in _report_markdown(frames, tmp_path / "plain")


def _report_markdown(frames, out):
    write_report(build_report(frames, None, None, 0, "corpus"), str(out))
    return (out / "report.md").read_text(encoding="utf-8")


def test_audit_command_with_a_judge(repo, frames, tmp_path, monkeypatch):
    """`counselsim audit --wai` end to end on the local executor with the scripted engine, which has no guided
    decoding: its outputs are parsed strictly."""
    import argparse

    from counselsim.commands import audit as audit_command
    from counselsim.engines import scripted

    monkeypatch.setattr(scripted, "default_script", lambda messages, sampling: "Score 6 of 7")

    def audit(*extra):
        parser = argparse.ArgumentParser()
        audit_command.register(parser.add_subparsers())
        args = parser.parse_args(["audit", "--input", str(tmp_path / "corpus"), "--out", str(tmp_path / "report"),
                                  "--embedding-model", "none", *extra])
        return args.handler(args)

    local = ["--set", "models.default.backend=scripted", "--set", "models.default.path=scripted",
             "--set", "run.executor=local", "--set", "stages.wai.rounds=2"]
    assert audit("--wai", str(repo / "pipelines" / "wai.yaml"), *local) == 0
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "Judge: scripted (scripted backend)." in markdown and "parsed strictly" in markdown
    assert "2 of 2 sessions judged; 48 judge calls, 0 unparseable, 0 failed" in markdown
    scores = pl.read_parquet(tmp_path / "report" / "wai_sessions.parquet")
    assert scores["task"].to_list() == [6, 6] and scores["goal"].to_list() == [4, 4]  # (2 + 6 + 2 + 6) / 4

    with pytest.raises(InputError, match="needs a config with 'pipeline: wai'"):
        audit("--wai", str(repo / "pipelines" / "role_cards.yaml"))


@pytest.mark.engine
def test_judge_on_the_real_engine(repo, frames, vllm_engine, tmp_path):
    # At most 4 prompts of ~240 tokens in flight: vLLM on CPU kills its engine core when a seeded request's prefill
    # is chunked ("CPU Generator does not use offset"), which happens once a step's batch passes its token budget.
    cfg = judge_config(repo, "stages.wai.rounds=2", "stages.wai.max_sessions=1", "stages.wai.concurrency=4")
    result = vllm_engine.run(score_corpus(frames, cfg, vllm_engine, tmp_path / "staging"))
    assert result.guided and len(result.calls) == 24
    assert all(call.error is None and call.raw in range(1, 8) for call in result.calls), result.calls
    row = result.sessions.row(0, named=True)
    assert all(1 <= row[f"item_{i}"] <= 7 for i in range(1, 13))
    assert all(1 <= row[factor] <= 7 for factor in ("goal", "task", "bond"))
