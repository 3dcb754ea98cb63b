"""The rpc stages on the real vLLM backend with the embedded SmolLM2-135M: structured output (guided JSON) for the
profile, the planner, the rewrite and the labels. A 135M toy says nothing about quality, so these check validity:
parsed records, taxonomy members or recorded `unparseable`, episode constraints."""
from __future__ import annotations

import json

import pytest
from counselsim.engines.roles import RoleCaller
from counselsim.rpc.labeler import Labeler
from counselsim.rpc.profile import build_profile
from counselsim.rpc.rewriter import draft_rows, inject
from counselsim.rpc.settings import budget_warnings
from counselsim.rpc.taxonomy import load_taxonomy
from counselsim.schemas.reasoning import COOPERATIVE_REACTIONS, RESISTANT_REACTIONS
from counselsim.schemas.rpc import Profile5P
from counselsim.simpsydial.refinement import rejection_reason
from rpc_builders import make_session, rpc_config

pytestmark = pytest.mark.engine


class Recorder:
    """The engine harness, recording what each call asked for and got; `structured` can switch guided decoding
    off to exercise the strict parser on the same engine."""

    def __init__(self, harness, structured: bool | None = None) -> None:
        self.harness = harness
        self.structured = structured
        self.calls: list[tuple[str, object, str]] = []

    async def call(self, role, key, messages, sampling):
        out = await self.harness.call(role, key, messages, sampling)
        self.calls.append((role, sampling, out.text))
        return out

    def supports_structured_output(self, role: str) -> bool:
        if self.structured is not None:
            return self.structured
        return self.harness.supports_structured_output(role)


def setup(vllm_engine, structured: bool | None = None, **injection):
    # Short fields and budgets: the toy model fills whatever room it gets, and two shared cores decode slowly.
    cfg = rpc_config(injection={"reasoning_max_chars": 120,
                                "response_max_chars_en": 200, **injection},
                     profile={"field_max_chars": 120}, labeler={"reason_max_chars": 120})
    for role, tokens in (("profiler", 256), ("rewriter", 256), ("labeler", 96), ("counselor", 160), ("client", 160)):
        cfg.roles[role].max_tokens = tokens
    for role in ("counselor", "client"):  # whole replies: the toy ends them at a line break, not at the token limit
        cfg.roles[role].stop = ["\n"]
    cfg.session.refinement.max_attempts = 5
    cfg.roles["labeler"].temperature = 0.0
    settings = cfg.stages.rpc
    assert not budget_warnings(cfg.roles, settings, ["en"])
    recorder = Recorder(vllm_engine, structured)
    return cfg, settings, recorder, RoleCaller(recorder, cfg.roles, "engine-s", 3)


def test_profile_is_built_with_guided_json(vllm_engine):
    assert vllm_engine.supports_structured_output("profiler")
    cfg, settings, recorder, ctx = setup(vllm_engine)
    profile = vllm_engine.run(build_profile(ctx, make_session(pairs=4), settings.profile))
    assert isinstance(profile, Profile5P)
    assert all(0 < len(v) <= settings.profile.field_max_chars for v in profile.model_dump().values())
    assert all(s.json_schema is not None for _, s, _ in recorder.calls)


PROFILE = Profile5P(presenting="Insomnia before exams.", predisposing="Perfectionist upbringing.",
                    precipitating="Midterms.", perpetuating="Studies until late.", protective="A close friend.")


def test_the_planner_decides_on_the_engine(vllm_engine):
    cfg, settings, recorder, ctx = setup(vllm_engine)
    session = make_session(pairs=5, termination="turn_cap")
    injection = vllm_engine.run(inject(ctx, session, PROFILE, settings.injection, load_taxonomy(),
                                       cfg.session.refinement))
    assert ctx.meter.stage("plan").items == 1  # guided JSON: the planner's answer always parses
    assert all(s.json_schema is not None for role, s, _ in recorder.calls if role == "rewriter")
    assert injection.decision in ("injected", "declined", "nothing_rewritten")  # the toy's choice
    if injection.decision == "declined":
        assert injection.episode is None and not any(r["injected"] or r["regenerated"] for r in injection.rows)


class PlannedRecorder(Recorder):
    """The planner's answer fixed (the toy model mostly declines), every other call on the engine: the rewrite,
    the regenerated replies, the rejoin check and a regenerated continuation run for real."""

    def __init__(self, harness, plan: dict) -> None:
        super().__init__(harness)
        self.plan = plan

    async def call(self, role, key, messages, sampling):
        if sampling.json_schema and "start_turn" in sampling.json_schema.get("properties", {}):
            from counselsim.engines.base import Completion

            self.calls.append((role, sampling, "planned"))
            return Completion(text=json.dumps(self.plan), prompt_tokens=1, completion_tokens=1)
        return await super().call(role, key, messages, sampling)


@pytest.mark.parametrize("continuation", ["check", "regenerate"])
def test_rewriting_on_the_engine_keeps_the_episode_constraints(vllm_engine, continuation):
    cfg, settings, _, _ = setup(vllm_engine, continuation=continuation)
    session = make_session(pairs=5, termination="turn_cap")
    plan = {"reason": "The counselor pushes a plan too early.", "inject": True, "reaction_type": "defensive",
            "start_turn": 4, "num_turns": 2}
    recorder = PlannedRecorder(vllm_engine, plan)
    ctx = RoleCaller(recorder, cfg.roles, "engine-s", 3)
    injection = vllm_engine.run(inject(ctx, session, PROFILE, settings.injection, load_taxonomy(),
                                       cfg.session.refinement))
    rows, episode = injection.rows, injection.episode
    assert all(s.json_schema is not None for role, s, _ in recorder.calls if role == "rewriter")
    assert episode is not None, ctx.meter.summary()
    assert episode.reaction_type == "defensive" and episode.planner_reason == plan["reason"]
    assert 1 <= len(episode.turn_indices) <= 2 and episode.turn_indices[0] == 4
    originals = draft_rows(session)
    last = episode.turn_indices[-1]
    replies = {i + 1 for i in episode.turn_indices}  # the counselor reply after each injected turn
    for row, before in zip(rows, originals):
        if row["index"] in episode.turn_indices:
            assert row["injected"] and row["speaker"] == "client" and row["original_text"] == before["text"]
            assert row["reaction_type"] == "defensive" and all(row["motivation"].values())
            follow = rows[row["index"] + 1]
            assert follow["regenerated"] and rejection_reason(follow["text"], "en", cfg.session.refinement) is None
        elif row["index"] > last + 1 and episode.continuation == "regenerated":
            assert row["regenerated"] and row["original_text"] == before["text"] and row["text"]
        elif row["index"] not in replies:
            assert row["text"] == before["text"] and not row["injected"] and not row["regenerated"]
    if continuation == "regenerate":
        assert episode.continuation == "regenerated" and episode.client_regenerated >= 1
    else:
        assert episode.continuation in ("rejoined", "regenerated")
    assert episode.counselor_regenerated == sum(r["regenerated"] for r in rows if r["speaker"] == "counselor")
    assert episode.client_regenerated == sum(r["regenerated"] for r in rows if r["speaker"] == "client")
    print(json.dumps({"continuation": episode.continuation, "counselor_regenerated": episode.counselor_regenerated,
                      "client_regenerated": episode.client_regenerated, "turns": len(rows)}))


@pytest.mark.parametrize("structured", [True, False])
def test_labels_are_taxonomy_members_or_recorded_unparseable(vllm_engine, structured):
    cfg, settings, recorder, ctx = setup(vllm_engine, structured=structured)
    taxonomy = load_taxonomy()
    rows = draft_rows(make_session(pairs=4))
    vllm_engine.run(Labeler(taxonomy, settings.labeler).label_session(ctx, "en", rows))
    clients = [r for r in rows if r["speaker"] == "client"]
    for r in clients:
        assert r["label_status"] in ("ok", "unparseable")
        if r["label_status"] == "ok":
            assert r["label"] in taxonomy.labels and r["label_group"] == taxonomy.labels[r["label"]].group
            assert r["label_rationale"]
        else:
            assert r["label"] is None
    for r in clients:  # the seven-type reaction label, on every client turn beside the PsyFIRE one
        assert r["reaction_label_status"] in ("ok", "unparseable")
        if r["reaction_label_status"] == "ok":
            assert r["reaction_label"] in RESISTANT_REACTIONS + COOPERATIVE_REACTIONS and r["reaction_label_rationale"]
        else:
            assert r["reaction_label"] is None
    assert all((s.json_schema is not None) == structured for _, s, _ in recorder.calls)
    if structured:  # guided decoding: every answer is an enum member with a reason
        assert all(r["label_status"] == "ok" and r["reaction_label_status"] == "ok" for r in clients)
    print(json.dumps({"structured": structured, "labels": [(r["label"], r["reaction_label"]) for r in clients]}))
