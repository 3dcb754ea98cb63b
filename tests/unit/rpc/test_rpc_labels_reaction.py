"""The labeler's third step: one of the seven RPC reaction types on every client turn, beside the PsyFIRE label,
against a scripted caller (guided JSON, the strict parser, unparseable outputs, concurrency with the PsyFIRE steps)."""
from __future__ import annotations

import asyncio
import json

import pytest
from counselsim.config.sections import RoleConfig
from counselsim.engines.meter import StageMeter
from counselsim.engines.parsing import ParseError
from counselsim.engines.roles import RoleCaller
from counselsim.resources import read_text
from counselsim.rpc.labeler import Labeler
from counselsim.rpc.parsing import REACTION_KEYS, parse_label
from counselsim.rpc.render import PROMPTS, check_prompts
from counselsim.rpc.settings import LabelerSettings
from counselsim.rpc.taxonomy import load_taxonomy
from counselsim.schemas.rpc import COOPERATIVE_REACTIONS, RESISTANT_REACTIONS, RPCTurn
from rpc_builders import Scripted, make_session

TAX = load_taxonomy()
ROLES = {"labeler": RoleConfig(model="m", max_tokens=256)}
SEVEN = ["Controlling", "Emotional", "Defensive", "Avoidant", "Compliant", "Non-resistant", "Facilitative"]


def is_reaction_step(messages) -> bool:
    return "Reaction Types" in messages[0]["content"] or "反应类型\n" in messages[0]["content"]


def rows_of(session, updates=None):
    """The session's turns as the rewriter hands them to the labeler; `updates[index]` changes a turn."""
    return [{**t.model_dump(), "injected": False, "original_text": None, "regenerated": False,
             "reaction_source": None, **(updates or {}).get(t.index, {})} for t in session.turns]


def label(rows, caller, lang="en", meter=None, **settings):
    labeler = Labeler(TAX, LabelerSettings(**settings))
    calls = RoleCaller(caller, ROLES, "s-1", 5, meter)
    asyncio.run(labeler.label_session(calls, lang, rows))
    return rows


def reaction_calls(caller):
    return [(m, s) for r, m, s in caller.calls if r == "labeler" and is_reaction_step(m)]


# --- the step on every client turn ----------------------------------------------------------------------------

@pytest.mark.parametrize("structured", [True, False])
def test_every_client_turn_gets_a_reaction_label_and_counselor_turns_none(structured):
    meter = StageMeter()
    caller = Scripted(structured=structured)
    session = make_session(pairs=4)
    rows = label(rows_of(session), caller, meter=meter)
    clients = [r for r in rows if r["speaker"] == "client"]
    assert len(clients) == 4
    for r in clients:
        assert (r["reaction_label"], r["reaction_label_status"]) == ("non_resistant", "ok")
        assert r["reaction_label_rationale"] == "The client's words say so."
        assert r["label_status"] == "ok"  # the PsyFIRE steps ran as well
    for r in rows:
        if r["speaker"] == "counselor":
            assert r["reaction_label"] is None and r["reaction_label_status"] is None
            assert r["reaction_label_rationale"] is None and r["label_status"] is None
    # One reaction call per client turn (the opening included), counted under its own stage.
    steps = reaction_calls(caller)
    assert len(steps) == 4
    assert meter.stage("label_reaction").items == 4
    # Guided decoding enumerates the seven names; otherwise the prompt asks for "Reaction:" lines.
    for messages, sampling in steps:
        if structured:
            assert sampling.json_schema["properties"]["reaction"]["enum"] == SEVEN
            assert '"reaction"' in messages[0]["content"]
        else:
            assert sampling.json_schema is None and 'starts with "Reaction:"' in messages[0]["content"]
    for r in rows:
        RPCTurn.model_validate(r)  # the record accepts what the labeler wrote


def test_a_declared_type_is_kept_and_labeled_beside():
    session = make_session(pairs=3)
    caller = Scripted(labeler=lambda m, s: json.dumps(
        {"reaction": "Avoidant", "reason": "short non-answer"} if is_reaction_step(m) else
        {"behavior": "Collaboration", "reason": "answers"}))
    declared = {"reaction_type": "defensive", "reaction_source": "declared",
                "motivation": {"profile_reflection": "a", "situation_awareness": "b", "reaction_decision": "c"}}
    rows = label(rows_of(session, {2: declared}), caller)
    # The declared type is kept; the labeler's label sits beside it.
    assert (rows[2]["reaction_type"], rows[2]["reaction_source"], rows[2]["reaction_label"]) == \
        ("defensive", "declared", "avoidant")
    assert rows[2]["label"] == "collaboration"
    RPCTurn.model_validate(rows[2])


def test_unparseable_reaction_labels_are_recorded_never_guessed():
    meter = StageMeter()
    caller = Scripted(structured=False, labeler=lambda m, s: (
        "Reaction: Defensive or Avoidant\nReason: hard to say" if is_reaction_step(m)
        else "Behavior: Collaboration\nReason: answers"))
    rows = label(rows_of(make_session(pairs=3)), caller, meter=meter, attempts=3)
    clients = [r for r in rows if r["speaker"] == "client"]
    for r in clients:
        assert (r["reaction_label"], r["reaction_label_rationale"], r["reaction_label_status"]) == \
            (None, None, "unparseable")
        assert (r["label"], r["label_status"]) == ("collaboration", "ok")  # the other step is unaffected
        RPCTurn.model_validate(r)
    # Bounded retries: `attempts` calls per client turn, each seeded apart.
    steps = reaction_calls(caller)
    assert len(steps) == 3 * len(clients)
    assert len({s.seed for _, s in steps}) == len(steps)
    assert meter.stage("label_reaction").outcomes == {"unparseable": len(clients)}
    assert meter.stage("label_reaction").items == 0


def test_the_reaction_step_runs_concurrently_with_the_psyfire_steps_of_the_turn():
    """The binary step of a turn answers only once the reaction step of the same turn has been asked: labeling the
    two one after the other would never finish."""
    asked: dict[str, asyncio.Event] = {}

    class Waiting(Scripted):
        async def call(self, role, key, messages, sampling):
            response = messages[1]["content"]
            event = asked.setdefault(response, asyncio.Event())
            if is_reaction_step(messages):
                event.set()
            elif "Collaboration" in messages[0]["content"]:
                await asyncio.wait_for(event.wait(), timeout=5)
            return await super().call(role, key, messages, sampling)

    rows = label(rows_of(make_session(pairs=3)), Waiting())
    assert all(r["reaction_label_status"] == "ok" for r in rows if r["speaker"] == "client")


# --- the prompt ---------------------------------------------------------------------------------------------

def test_the_prompt_shows_the_seven_types_with_examples_in_the_session_language():
    caller = Scripted()
    label(rows_of(make_session(pairs=2)), caller, shots=1)
    system = reaction_calls(caller)[0][0][0]["content"]
    for n, name in enumerate(SEVEN, 1):
        assert f"{n}. {name}: " in system
    assert system.count("\nReaction: ") == 7  # one example per type
    assert "Types 1 to 5 are resistant" in system

    caller = Scripted()
    label(rows_of(make_session(pairs=2)), caller, shots=0)
    assert "Examples:" not in reaction_calls(caller)[0][0][0]["content"]

    caller = Scripted(labeler=lambda m, s: json.dumps({"reaction": "防御型", "reason": "为自己辩解"}, ensure_ascii=False)
                      if is_reaction_step(m) else json.dumps({"behavior": "合作", "reason": "回答"}, ensure_ascii=False))
    rows = label(rows_of(make_session(pairs=2, language="zh")), caller, lang="zh")
    system = reaction_calls(caller)[0][0][0]["content"]
    assert "1. 控制型：" in system and "7. 促进型：" in system and "\n反应：" in system
    assert rows[0]["reaction_label"] == "defensive"


def test_the_reaction_prompts_exist_in_both_languages():
    for name in ("label_reaction", "label_reaction_format_json", "label_reaction_format_lines"):
        assert name in PROMPTS
        for lang in ("en", "zh"):
            assert read_text("prompts", lang, f"{name}.txt").strip()
    check_prompts(["en", "zh"])


# --- the strict parser on reaction answers ------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("Reaction: Defensive\nReason: blames the boss", "defensive"),
    ("**Reaction type:** non-resistant\n**Reason:** answers plainly", "non_resistant"),
    ("Reaction: Non-resistant\nReason: answers", "non_resistant"),
    ("Reaction: non_resistant\nReason: answers", "non_resistant"),
    ("Reaction: Compliant (superficial)\nReason: vague agreement", "compliant"),
    ('{"reaction": "Facilitative", "reason": "proposes a next step"}', "facilitative"),
    ('{"reaction_type": "Avoidant", "reason": "changes the topic"}', "avoidant"),
    ('{"behavior": "Emotional", "reason": "despair"}', "emotional"),  # the behaviour key is accepted too
    ("Behavior: Controlling\nReason: dictates the pace", "controlling"),
    ("反应：回避型\n理由：转移话题", "avoidant"),
    ("反应：回避\n理由：转移话题", "avoidant"),
    ("反应类型：非阻抗型\n理由：直接回答", "non_resistant"),
    ("Facilitative\nThe client proposes their own plan.", "facilitative"),
])
def test_reaction_answers(text, expected):
    assert parse_label(text, TAX.reaction_index, REACTION_KEYS).category == expected


@pytest.mark.parametrize("text", [
    "",
    "Reaction: Defensive or Avoidant\nReason: both",
    "Reaction: not defensive\nReason: x",
    "反应：不是控制型\n理由：x",
    "Reaction: Resistant\nReason: a stance, not a type",
    "Reaction: Collaboration\nReason: a PsyFIRE name",
    "Reaction: Denying - Blaming\nReason: a PsyFIRE behaviour",
    "Reaction: Defensive",  # no reason
    "Reaction: Defensive\nReaction: Avoidant\nReason: both",
    '{"reaction": "Angry", "reason": "x"}',
])
def test_reaction_answers_that_are_refused(text):
    with pytest.raises(ParseError):
        parse_label(text, TAX.reaction_index, REACTION_KEYS)


def test_reaction_choices_cover_the_seven_types_resistant_first():
    assert list(TAX.reaction_choices("en")) == SEVEN
    assert list(TAX.reaction_choices("en").values()) == list(RESISTANT_REACTIONS + COOPERATIVE_REACTIONS)
    assert TAX.reaction_index.categories == set(RESISTANT_REACTIONS + COOPERATIVE_REACTIONS)
    assert len(TAX.reaction_examples("zh", 2)) == 5 * 2 + 2 * 1  # the cooperative types have one example each
