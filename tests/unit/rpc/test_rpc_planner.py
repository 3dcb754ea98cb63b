"""The planner decides whether a session gets an episode, where, and which type (scripted rewriter): it may decline,
it places the episode, the type is its choice and never a draw; what it is shown; the strict parser and the guided
schema; enabled=false; the removed settings; the manifest's report of the achieved share against the target."""
from __future__ import annotations

import json

import pytest
from counselsim.config import load_config
from counselsim.corpus.card import render
from counselsim.engines.meter import StageMeter
from counselsim.engines.parsing import ParseError
from counselsim.errors import InputError
from counselsim.identity import identity_of
from counselsim.rpc.job import episode_report
from counselsim.rpc.planner import (
    parse_plan,
    plan_messages,
    plan_schema,
)
from counselsim.rpc.settings import InjectionSettings
from counselsim.rpc.taxonomy import load_taxonomy
from counselsim.schemas.arrow import RPC_SESSION_SCHEMA
from counselsim.schemas.role_card import Level
from counselsim.schemas.rpc import COOPERATIVE_REACTIONS, RESISTANT_REACTIONS, Profile5P
from counselsim.simpsydial.agents import resistance_text
from rpc_builders import (
    PROFILE,
    Scripted,
    is_plan,
    make_session,
    rpc_config,
    transform_one,
)

TAX = load_taxonomy()
NAMES = TAX.reaction_index


def plan_calls(caller: Scripted) -> list[list]:
    return [m for r, m, _ in caller.calls if r == "rewriter" and is_plan(m)]


def rewrite_calls(caller: Scripted) -> list[list]:
    return [m for r, m, _ in caller.calls if r == "rewriter" and "profile_reflection" in m[0]["content"]]


# --- the decision paths ---------------------------------------------------------------------------------------------

def test_the_planner_may_decline_and_then_nothing_changes():
    meter = StageMeter()
    caller = Scripted(plan={"inject": False, "reason": "She answers openly throughout."})
    original = make_session()
    record = transform_one(original, caller, meter=meter)
    assert record.episode is None and record.episode_decision == "declined"
    assert [t.text for t in record.turns] == [t.text for t in original.turns]
    assert not any(t.injected or t.regenerated for t in record.turns)
    assert len(plan_calls(caller)) == 1 and not rewrite_calls(caller)
    assert not [r for r, _, _ in caller.calls if r in ("counselor", "client")]
    assert meter.stage("plan").outcomes == {"declined": 1}


def test_a_decline_needs_only_its_reason_from_the_strict_parser():
    record = transform_one(make_session(), Scripted(structured=False, rewriter=lambda m, s: json.dumps(
        {"reason": "No pushback fits here.", "inject": False})))
    assert record.episode_decision == "declined"


def test_the_planner_places_the_episode():
    caller = Scripted(plan={"start_turn": 4, "num_turns": 2, "reason": "The advice at #4 meets her fear."})
    record = transform_one(make_session(), caller)
    assert record.episode_decision == "injected"
    assert record.episode.turn_indices == [4, 6]
    assert record.episode.planner_reason == "The advice at #4 meets her fear."
    assert [t.index for t in record.turns if t.injected] == [4, 6]


@pytest.mark.parametrize("reaction", RESISTANT_REACTIONS)
def test_the_reaction_type_is_the_planners_choice(reaction):
    caller = Scripted(plan={"reaction_type": reaction})
    record = transform_one(make_session(), caller)
    assert record.episode.reaction_type == reaction
    injected = [t for t in record.turns if t.injected]
    assert injected and all(t.reaction_type == reaction and t.reaction_source == "injected" for t in injected)
    # The rewrite is asked for the chosen type, with its definition.
    spec = TAX.reaction(reaction)
    assert all(spec.definition.en in m[0]["content"] for m in rewrite_calls(caller))


def test_no_draw_decides_the_type_or_whether():
    """Whatever the session id, run seed or rate, the planner's answer is what happens."""
    for k, rate in enumerate((0.0, 0.3, 1.0)):
        cfg = rpc_config(injection={"rate": rate})
        record = transform_one(make_session(f"s-{k}", level="low"), Scripted(plan={"reaction_type": "emotional"}),
                               cfg)
        assert record.episode.reaction_type == "emotional"
        declined = transform_one(make_session(f"s-{k}", level="high"), Scripted(plan={"inject": False}), cfg)
        assert declined.episode is None


def test_an_unparseable_plan_means_no_episode_after_the_bounded_attempts():
    meter = StageMeter()
    caller = Scripted(structured=False, rewriter=lambda m, s: "Turn 4 looks right to me.")
    record = transform_one(make_session(), caller, rpc_config(injection={"attempts": 2}), meter)
    assert record.episode is None and record.episode_decision == "plan_unparseable"
    assert len(plan_calls(caller)) == 2
    assert meter.stage("plan").outcomes == {"plan_unparseable": 1}


def test_enabled_false_is_a_label_only_pass():
    meter = StageMeter()
    caller = Scripted()
    original = make_session()
    record = transform_one(original, caller, rpc_config(injection={"enabled": False}), meter)
    assert record.episode is None and record.episode_decision == "disabled"
    assert not [r for r, _, _ in caller.calls if r in ("rewriter", "counselor", "client")]
    assert [t.text for t in record.turns] == [t.text for t in original.turns]
    assert all(t.label_status == "ok" for t in record.turns if t.speaker == "client")
    assert "plan" not in meter.summary()


# --- what the planner is shown -------------------------------------------------------------------------------------

def test_the_planner_sees_profile_level_the_five_types_and_the_target():
    caller = Scripted()
    cfg = rpc_config(injection={"rate": 0.5, "level_weights": {"low": 0.4, "moderately_low": 0.7, "moderate": 1.0,
                                                                "moderately_high": 1.3, "high": 1.6}})
    session = make_session(level="high")
    transform_one(session, caller, cfg)
    (messages,) = plan_calls(caller)
    system, user = messages[0]["content"], messages[1]["content"]
    for r in RESISTANT_REACTIONS:
        assert r in system and TAX.reaction(r).definition.en in system
    for r in COOPERATIVE_REACTIONS:
        assert TAX.reaction(r).definition.en not in system
    assert PROFILE["presenting"] in user and resistance_text(session.role_card) in user
    assert "about 80% of sessions with clients at this resistance level" in user  # 0.5 x 1.6
    assert "[#2]" in user and "#2, #4" in user

    low = Scripted()
    transform_one(make_session(level="low"), low, cfg)
    assert "about 20%" in plan_calls(low)[0][1]["content"]


def test_the_chinese_planner_prompt():
    session = make_session(language="zh")
    settings = InjectionSettings(rate=0.25, level_weights={lvl.value: 2.0 for lvl in Level})
    system, user = (m["content"] for m in plan_messages(session, Profile5P(**PROFILE), settings, TAX, 0, 12, [2, 4]))
    assert "控制型" in system and TAX.reaction("avoidant").definition.zh in system and "{" not in system.split("JSON")[0]
    assert "大约50%" in user and "不是配额" in user and "#2, #4" in user


def test_the_target_is_capped_at_one():
    settings = InjectionSettings(rate=0.8, level_weights={lvl.value: 2.0 for lvl in Level})
    assert settings.target(Level.high) == 1.0 and settings.target(None) == 0.8


# --- schema and strict parser --------------------------------------------------------------------------------------

def test_plan_schema_asks_for_every_decision():
    schema = plan_schema([2, 4], 3, 80)
    props = schema["properties"]
    assert list(props) == ["reason", "inject", "reaction_type", "start_turn", "num_turns"] == schema["required"]
    assert props["inject"] == {"type": "boolean"}
    assert props["reaction_type"]["enum"] == list(RESISTANT_REACTIONS)
    assert props["start_turn"]["enum"] == [2, 4] and props["num_turns"]["enum"] == [1, 2, 3]


def test_plan_parser_is_strict():
    plan = parse_plan('{"reason": "r", "inject": true, "reaction_type": "avoidant", "start_turn": 4, "num_turns": 2}',
                      [2, 4], 3, 50, NAMES)
    assert (plan.inject, plan.reaction_type, plan.start, plan.num_turns) == (True, "avoidant", 4, 2)
    # The type's display names are accepted too (the strict parser reads what a model without guidance writes).
    for name in ("Avoidant", "回避型"):
        text = json.dumps({"reason": "r", "inject": True, "reaction_type": name, "start_turn": 2, "num_turns": 1})
        assert parse_plan(text, [2], 3, 50, NAMES).reaction_type == "avoidant"
    declined = parse_plan('{"reason": "no", "inject": false}', [2], 3, 50, NAMES)
    assert (declined.inject, declined.reaction_type, declined.start) == (False, None, None)
    good = {"reason": "r", "inject": True, "reaction_type": "defensive", "start_turn": 4, "num_turns": 1}
    for bad in [{"start_turn": 5}, {"start_turn": "4"}, {"num_turns": 4}, {"inject": "yes"}, {"reason": ""},
                {"reaction_type": "non_resistant"}, {"reaction_type": "angry"}, {"reaction_type": None}]:
        with pytest.raises(ParseError):
            parse_plan(json.dumps({**good, **bad}), [2, 4], 3, 50, NAMES)
    with pytest.raises(ParseError):
        parse_plan('{"reason": "r", "reaction_type": "defensive", "start_turn": 4, "num_turns": 1}', [4], 3, 50, NAMES)


# --- settings ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key, value", [("type_mix", {"defensive": 1}), ("planner_can_decline", True)])
def test_removed_settings_are_rejected_by_name(key, value, repo):
    with pytest.raises(InputError, match=rf"field 'stages.rpc.injection.{key}': unknown key"):
        rpc_config(injection={key: value})
    with pytest.raises(InputError, match=rf"field 'stages.rpc.injection.{key}': unknown key"):
        load_config(repo / "pipelines" / "rpc.yaml", ["run.input=corpus",
                                                       f"stages.rpc.injection.{key}={json.dumps(value)}"])


def test_the_settings_enter_the_resume_identity():
    identity = identity_of(rpc_config().stages.rpc).fields
    for key in ("enabled", "continuation", "rate", "level_weights.high"):
        assert f"injection.{key}" in identity
    assert "selection.per_topic" in identity and "selection.max_sessions" in identity
    assert not any("type_mix" in k or "planner_can_decline" in k for k in identity)


# --- the manifest's report -----------------------------------------------------------------------------------------

def test_episode_report_compares_the_achieved_share_with_the_target():
    def rec(level, decision, reaction=None, continuation=None, counselor=0, client=0):
        episode = None if reaction is None else {"reaction_type": reaction, "continuation": continuation,
                                                 "counselor_regenerated": counselor, "client_regenerated": client}
        card = {"resistance": {"level": level}} if level else {"resistance": None}
        return {"role_card": card, "episode": episode, "episode_decision": decision}

    records = [rec("high", "injected", "defensive", "rejoined", 2), rec("high", "injected", "avoidant", "regenerated",
                                                                        5, 3),
               rec("high", "declined"), rec("low", "declined"), rec("low", "no_eligible_turn"),
               rec(None, "injected", "defensive", "session_end", 1)]
    settings = InjectionSettings(rate=0.5, level_weights={"low": 0.4, "moderately_low": 0.7, "moderate": 1.0,
                                                          "moderately_high": 1.3, "high": 2.5})
    report = episode_report(records, settings)
    assert report["decisions"] == {"declined": 2, "injected": 3, "no_eligible_turn": 1}
    assert report["by_level"] == {
        "low": {"sessions": 2, "episodes": 0, "share": 0.0, "target": 0.2},
        "high": {"sessions": 3, "episodes": 2, "share": 0.6667, "target": 1.0},  # 0.5 x 2.5, capped
        "unknown": {"sessions": 1, "episodes": 1, "share": 1.0, "target": 0.5},
    }
    assert report["share"] == 0.5 and report["target"] == pytest.approx((0.4 + 3 + 0.5) / 6, abs=1e-4)
    assert report["reaction_types"] == {"avoidant": 1, "defensive": 2}
    assert report["continuation"] == {"regenerated": 1, "rejoined": 1, "session_end": 1}
    assert (report["counselor_regenerated"], report["client_regenerated"]) == (8, 3)
    assert report["continuation_mode"] == "check" and report["enabled"] is True


# --- the dataset card --------------------------------------------------------------------------------------------

def card_text(injection: dict, limits: dict | None = None, **manifest) -> str:
    config = {"pipeline": "rpc", "run": {"seed": 0, "input": "outputs/simpsydial"},
              "stages": {"rpc": {"injection": injection, "selection": limits or {}, "labeler": {"shots": 1}}}}
    return render({"record_type": "rpc_session", "pipeline": "rpc", "config": config, **manifest},
                  RPC_SESSION_SCHEMA, "rpc", 0)


def test_the_dataset_card_says_what_the_planner_and_the_continuation_did():
    text = card_text({"rate": 0.5, "max_turns": 3, "continuation": "check"}, {"per_topic": 2, "max_sessions": None},
                     episodes={"share": 0.4, "target": 0.55, "continuation": {"rejoined": 3, "regenerated": 1},
                               "counselor_regenerated": 9, "client_regenerated": 2},
                     regeneration_sampling={"source": "input manifest",
                                            "counselor": {"temperature": 0.7, "top_p": 0.8, "max_tokens": 96},
                                            "client": {"temperature": 0.8, "top_p": 0.9, "max_tokens": 96}},
                     selection={"input_sessions": 40, "selected_sessions": 12, "selected_topics": {"a": 2}})
    assert "decided whether the session gets one resistance episode, where, and of which type" in text
    assert "could always decline" in text and "shown to it as a target, never drawn" in text
    assert "0.40 of sessions got an episode against a target of 0.55" in text
    assert "(continuation `check`)" in text and "kept (`rejoined`)" in text and "3 rejoined, 1 regenerated" in text
    assert "9 counselor and 2 client turns regenerated" in text
    assert "sampled as the input corpus was generated" in text and "client temperature 0.8" in text
    assert "at most 2 per topic" in text and "12 of 40 sessions" in text

    regenerate = card_text({"rate": 0.5, "max_turns": 3, "continuation": "regenerate"})
    assert "(continuation `regenerate`), every later turn was regenerated" in regenerate
    assert "Every input session was transformed." in regenerate

    label_only = card_text({"enabled": False})
    assert "Label-only pass" in label_only and "A planner model" not in label_only
