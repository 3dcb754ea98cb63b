"""Imported corpora through the rpc pipeline: `counselsim import`, then `counselsim run pipelines/rpc.yaml --input`
on the scripted engine (orchestration only: every stage, the runner, staging, the corpus writer and the card run
for real). Checks how a partial role card is shown to the profiler, the planner and the rewriter, the plain-rate
target for an unknown resistance level, the prompts of regenerated turns, the kept ending, and the card's
provenance."""
from __future__ import annotations

import json
import re
import shutil

import polars as pl
import pytest
from counselsim.cli import main
from counselsim.commands.verify import verify
from counselsim.engines import scripted
from counselsim.rpc.continuation import regenerate_client
from counselsim.rpc.planner import eligible_turns, target_text
from counselsim.rpc.rewriter import draft_rows
from counselsim.rpc.settings import InjectionSettings
from counselsim.schemas import Session, Turn
from counselsim.schemas.imported import PartialRoleCard, SessionSource
from counselsim.schemas.role_card import Level
from counselsim.simpsydial.agents import (
    counselor_system_prompt,
    render_role_card,
    resistance_text,
)
from helpers import REPO, SAMPLE, card

SYSTEM_PROMPT = "You are Sam, a warm counselor. Answer in one sentence."
EN_CHATS = [
    {"messages": [{"role": "system", "content": SYSTEM_PROMPT},
                  {"role": "user", "content": "Hi."}, {"role": "assistant", "content": "Hello, what brings you here?"},
                  {"role": "user", "content": "I keep fighting with my brother."},
                  {"role": "assistant", "content": "What happens when you fight?"},
                  {"role": "user", "content": "He says I never listen."},
                  {"role": "assistant", "content": "How do you feel when he says that?"},
                  {"role": "user", "content": "Tired, mostly."},
                  {"role": "assistant", "content": "What would you like to be different between you two?"},
                  {"role": "user", "content": "I want us to talk calmly."},
                  {"role": "assistant", "content": "Thank you for sharing today. Take care, good bye."}]},
]
ZH_REPLY = "那你怎么看待这件事？"
EN_REPLY = "What makes it hard to try something different?"


class RPCScript:
    """The scripted engine's replies for the rpc roles, told apart by their system prompts; every call is kept."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list]] = []

    def __call__(self, messages, sampling) -> str:
        system, user = messages[0]["content"], messages[-1]["content"]
        zh = re.search(r"[\u4e00-\u9fff]", system) is not None
        if len(messages) > 2:  # the stages send [system, user]; counselor and client see the dialogue as a chat
            counselor = system == counselor_system_prompt("zh" if zh else "en")
            role = "counselor" if counselor else "client"
            text = (ZH_REPLY if zh else EN_REPLY) if counselor else ("我也说不清。" if zh else "I am not sure.")
        elif "presenting" in system:
            role, text = "profiler", json.dumps({k: "x" * 12 for k in ("presenting", "predisposing", "precipitating",
                                                                        "perpetuating", "protective")})
        elif "start_turn" in system:
            first = int(re.findall(r"#(\d+)", user.rsplit("\n", 1)[-1])[0])
            role, text = "planner", json.dumps({"reason": "advice", "inject": True, "reaction_type": "defensive",
                                                "start_turn": first, "num_turns": 2})
        elif '"follows"' in system:
            role, text = "rejoin", json.dumps({"reason": "it still answers", "follows": True})
        elif "profile_reflection" in system:
            role = "rewriter"
            response = "我觉得说这些没什么用。" if zh else f"I don't think talking changes anything ({len(self.calls)})."
            text = json.dumps({"profile_reflection": "p", "situation_awareness": "s", "reaction_decision": "r",
                               "response": response}, ensure_ascii=False)
        elif "七种来访者反应类型" in system or "seven client reaction types" in system:
            role = "labeler"
            resistant = "没什么用" in user or "don't think" in user
            text = json.dumps({"reaction": "defensive" if resistant else "non_resistant", "reason": "r"})
        elif "行为" in system or "Behavior" in system:
            role = "labeler"
            binary = ("合作" in system.split("输出格式")[-1]) if zh else "Collaboration" in system
            resistant = "没什么用" in user or "don't think" in user
            behavior = (("阻抗" if resistant else "合作") if zh else ("Resistance" if resistant else "Collaboration")) \
                if binary else ("否认 - 归咎" if zh else "Denying - Disagreeing")
            text = json.dumps({"behavior": behavior, "reason": "r"}, ensure_ascii=False)
        else:
            raise AssertionError(f"an unexpected call: {system[:80]!r}")
        self.calls.append((role, messages))
        return text

    def of(self, role: str) -> list[list]:
        return [m for r, m in self.calls if r == role]


@pytest.fixture
def script(monkeypatch) -> RPCScript:
    s = RPCScript()
    monkeypatch.setattr(scripted, "default_script", s)
    return s


def import_ia(tmp_path, numbers=(0, 2)) -> str:
    """Two release dialogues, copied beside the release's complaints list, imported with their complaints."""
    src = tmp_path / "release"
    src.mkdir()
    for n in numbers:
        shutil.copy(SAMPLE / "dialogues" / f"{n}.json", src / f"{n}.json")
    out = tmp_path / "ia"
    assert main(["import", "--format", "interactive-agents", str(src), "--out", str(out),
                 "--complaints", str(SAMPLE / "chief_complaints.json")]) == 0
    return str(out)


def import_chats(tmp_path) -> str:
    src = tmp_path / "chats.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in EN_CHATS))
    out = tmp_path / "chats"
    assert main(["import", "--format", "messages", str(src), "--out", str(out)]) == 0
    return str(out)


def run_rpc(source: str, out, *extra: str) -> int:
    return main(["run", str(REPO / "pipelines" / "rpc.yaml"), "--input", source, "--out", str(out),
                 "--set", "models.default.backend=scripted", "--set", "models.default.path=scripted",
                 "--set", "run.executor=local", "--set", "run.progress=false",
                 "--set", "stages.rpc.injection.rate=1.0", *extra])


def records(out) -> list[dict]:
    return pl.read_parquet(f"{out}/data/*.parquet").sort("slot").to_dicts()


def test_rpc_on_an_imported_release_corpus(tmp_path, script):
    source = import_ia(tmp_path)
    out = tmp_path / "rpc"
    assert run_rpc(source, out) == 0
    assert verify(str(out)) == []
    rows = records(out)
    assert [r["session_id"] for r in rows] == ["ia-0", "ia-2"]
    complaints = json.loads((SAMPLE / "chief_complaints.json").read_text(encoding="utf-8"))
    for row, n in zip(rows, (0, 2)):
        assert row["origin"] == "imported" and row["source"]["file"] == f"{n}.json"
        # The scripted planner places an episode in every session; the original continuation rejoins.
        assert row["episode"] is not None and row["episode"]["turn_indices"]
        assert row["episode"]["continuation"] == "rejoined" and row["episode_decision"] == "injected"
        for turn in row["turns"]:
            if turn["speaker"] == "client":
                assert turn["label_status"] == "ok" and turn["label"]
        assert {t["index"] for t in row["turns"] if t["regenerated"]} == {i + 1 for i in row["episode"]["turn_indices"]}

    # The profiler and the rewriter see the complaint-only card, never empty profile fields; the planner is told
    # the resistance level is unknown.
    profile_users = [m[1]["content"] for m in script.of("profiler")]
    assert any(complaints[0].strip()[:30] in u for u in profile_users)
    for user in profile_users + [m[1]["content"] for m in script.of("rewriter")]:
        assert "仅知道来访者的主诉" in user and "性别" not in user and "大五人格" not in user
    assert all(resistance_text(PartialRoleCard(id="x", language="zh")) in m[1]["content"]
               and "抗拒程度未知" in m[1]["content"] for m in script.of("planner"))
    # Regenerated replies are made under the configured counselor prompt.
    assert {m[0]["content"] for m in script.of("counselor")} == {counselor_system_prompt("zh")}

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["episodes"]["by_level"] == {"unknown": {"sessions": 2, "episodes": 2, "share": 1.0,
                                                            "target": 1.0}}
    assert manifest["regeneration_sampling"]["source"] == "rpc config"  # an import records no sampling
    assert manifest["input_corpus"]["command"] == "import"
    assert manifest["input_corpus"]["import"]["format"] == "interactive-agents"
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "imported by `counselsim import --format interactive-agents`" in readme
    assert str(tmp_path / "release") in readme and "plain rate" in readme


def test_rpc_on_imported_chats_without_complaints_uses_the_configured_counselor_prompt(tmp_path, script):
    source = import_chats(tmp_path)
    out = tmp_path / "rpc"
    assert run_rpc(source, out) == 0
    assert verify(str(out)) == []
    (row,) = records(out)
    assert row["source"]["counselor_prompt"] == SYSTEM_PROMPT  # kept for reference, unchanged
    assert row["episode"] is not None
    for user in [m[1]["content"] for m in script.of("profiler") + script.of("rewriter")]:
        assert "Nothing is known about the client beyond the dialogue" in user and "Gender" not in user
    systems = {m[0]["content"] for m in script.of("counselor")}
    assert systems == {counselor_system_prompt("en")} and SYSTEM_PROMPT not in systems
    # The imported session ends with a farewell (by g): its last exchange is kept.
    last = len(row["turns"]) - 1
    assert last - 1 not in row["episode"]["turn_indices"] and not row["turns"][last]["regenerated"]
    assert "messages" in (out / "README.md").read_text(encoding="utf-8")


def test_rpc_over_a_deduplicated_import_still_names_the_source(tmp_path, script):
    deduped = tmp_path / "deduped"
    assert main(["dedup", "--input", import_chats(tmp_path), "--out", str(deduped)]) == 0
    out = tmp_path / "rpc"
    assert run_rpc(str(deduped), out) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["input_corpus"]["command"] == "dedup"
    assert manifest["input_corpus"]["import"]["format"] == "messages"
    assert "imported by `counselsim import --format messages`" in (out / "README.md").read_text(encoding="utf-8")


# --- the rules, on single sessions ---------------------------------------------------------------------------------

def imported_session(session_id: str, texts: list[str], complaint: str | None = None,
                     language: str = "en") -> Session:
    turns = [Turn(index=i, speaker="client" if i % 2 == 0 else "counselor", text=t, attempts=1, prompt_tokens=0,
                  completion_tokens=0, latency_s=0.0, finish_reason="imported") for i, t in enumerate(texts)]
    c = PartialRoleCard(id=f"card-{session_id}", language=language, chief_complaint=complaint)
    return Session(session_id=session_id, run_id="import", slot=0, role_card_id=c.id, language=language,
                   role_card=c, client=None, counselor=None, seed=None, turns=turns, termination_reason=None,
                   num_turn_pairs=len(texts) // 2, regenerations=0, rejections=[], prompt_tokens=0,
                   completion_tokens=0, started_at=None, finished_at=None, duration_s=None, config_hash="h",
                   package_version="0", origin="imported",
                   source=SessionSource(format="messages", file="x.jsonl", index=0))


def test_an_unknown_resistance_level_has_the_plain_rate_as_its_target():
    settings = InjectionSettings(rate=0.3, level_weights={lvl.value: 3.0 for lvl in Level})
    assert settings.target(None) == 0.3 and settings.target(Level.low) == pytest.approx(0.9)
    texts = ["Hi", "Hello?", "I am low.", "Since when?", "A month.", "Take care, good bye."]
    assert "about 30%" in target_text(imported_session("s", texts), settings) and "unknown" in \
        target_text(imported_session("s", texts), settings)
    # A full card: the weight of its level applies (capped at 100%).
    full = imported_session("f", texts).model_copy(update={"role_card": card(resistance={"level": "low",
                                                                                            "reasoning": "r"})})
    assert "about 90%" in target_text(full, settings)
    assert "about 100%" in target_text(full, InjectionSettings(rate=0.5, level_weights={lvl.value: 3.0
                                                                                         for lvl in Level}))


@pytest.mark.parametrize("complaint", [None, "I keep fighting with my brother."])
def test_a_client_turn_of_an_imported_session_is_regenerated_under_its_partial_card(complaint):
    import asyncio

    from counselsim.config import RefinementConfig
    from counselsim.engines.roles import RoleCaller
    from rpc_builders import Scripted, rpc_config

    texts = ["Hi", "Hello?", "I am low.", "Since when?", "A month.", "Take care, good bye."]
    session = imported_session("c", texts, complaint)
    rows = draft_rows(session)
    caller = Scripted()
    calls = RoleCaller(caller, rpc_config().roles, "c", 1)
    asyncio.run(regenerate_client(calls, session, rows, 4, RefinementConfig()))
    (system,) = {m[0]["content"] for r, m, _ in caller.calls if r == "client"}
    assert render_role_card(session.role_card) in system and "{" not in system
    assert rows[4]["regenerated"] and rows[4]["original_text"] == "A month."


def test_an_imported_session_keeps_its_farewell_ending():
    texts = ["Hi", "Hello?", "I am low.", "Since when?", "A month.", "What helps?", "Walks.", "Take care, good bye."]
    assert eligible_turns(imported_session("a", texts)) == [2, 4]  # 6 answers the farewell: left alone
    open_end = texts[:-1] + ["What else happens on your walks?"]
    assert eligible_turns(imported_session("b", open_end)) == [2, 4, 6]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_partial_card_renders_its_complaint_or_says_nothing_is_known(language):
    complaint = "I cannot stop worrying about my job." if language == "en" else "我总是担心工作。"
    with_complaint = render_role_card(PartialRoleCard(id="a", language=language, chief_complaint=complaint))
    assert with_complaint.endswith(complaint) and "{" not in with_complaint
    bare = render_role_card(PartialRoleCard(id="b", language=language))
    assert bare and "{" not in bare and complaint not in bare
    full = card(language=language)
    assert resistance_text(full) in render_role_card(full)  # one wording of the resistance for every prompt
