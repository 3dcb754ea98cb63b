"""The resistant live client on the real vLLM backend with the embedded SmolLM2-135M: the profile and every client
turn come from guided JSON, the type is one of the seven, the counselor sees the utterance only. A 135M toy says
nothing about the quality of the reasoning; this checks that the path works end to end, and that the labeler is
scored against the types the clients declared."""
from __future__ import annotations

import json

import pytest
from counselsim.engines.roles import RoleCaller
from counselsim.rpc.labeler import Labeler
from counselsim.rpc.rewriter import draft_rows
from counselsim.rpc.selfcheck import self_check
from counselsim.rpc.taxonomy import load_taxonomy
from counselsim.runtime.job import Dropped
from counselsim.schemas.reasoning import COOPERATIVE_REACTIONS, RESISTANT_REACTIONS
from counselsim.simpsydial.session import SessionPlan, simulate
from helpers import card, config
from rpc_builders import rpc_config

pytestmark = pytest.mark.engine


class Recorder:
    def __init__(self, harness) -> None:
        self.harness = harness
        self.calls: list[tuple[str, list]] = []

    async def call(self, role, key, messages, sampling):
        self.calls.append((role, messages))
        return await self.harness.call(role, key, messages, sampling)

    def supports_structured_output(self, role: str) -> bool:
        return self.harness.supports_structured_output(role)


def test_two_resistant_sessions_on_the_embedded_model(vllm_engine):
    # Short fields and budgets: the toy fills whatever room it gets, and two shared cores decode slowly.
    cfg = config(session__client_mode="resistant", session__max_turn_pairs=2, session__min_turn_pairs=0,
                 session__resistant_client={"profile_field_max_chars": 100, "reasoning_max_chars": 100,
                                            "utterance_max_chars_en": 160},
                 roles__client={"model": "m", "max_tokens": 256, "temperature": 0.7},
                 roles__counselor={"model": "m", "max_tokens": 128, "temperature": 0.7},
                 roles__profiler={"model": "m", "max_tokens": 320, "temperature": 0.7})
    recorder = Recorder(vllm_engine)
    sessions, drops = [], []
    for slot in range(2):
        plan = SessionPlan(slot=slot, session_id=f"live-{slot}", card=card(), seed=11 + slot)
        try:
            sessions.append(vllm_engine.run(simulate(plan, cfg, recorder, "run")))
        except Dropped as e:
            drops.append(e.reason)
    assert set(drops) <= {"refinement_exhausted", "client_unparseable", "profile_unparseable"}, drops
    assert sessions, f"both sessions dropped: {drops}"
    for session in sessions:
        assert session.client_profile is not None
        reasoned = [t for t in session.turns[1:] if t.speaker == "client"]
        assert reasoned and session.num_turn_pairs == 2
        for turn in reasoned:
            assert turn.reaction_type in RESISTANT_REACTIONS + COOPERATIVE_REACTIONS
            assert turn.motivation.reaction_decision and turn.text
            assert "{" not in turn.text
        shown = " ".join(m["content"] for role, msgs in recorder.calls if role == "counselor" for m in msgs)
        for turn in reasoned:
            assert turn.motivation.situation_awareness not in shown

    # The labeler scored against the types the live clients declared (the self-check's gold on such corpora).
    rpc = rpc_config(labeler={"reason_max_chars": 120, "shots": 0})
    rpc.roles["labeler"].max_tokens, rpc.roles["labeler"].temperature = 96, 0.0
    calls = RoleCaller(vllm_engine, rpc.roles, "label-live", 5)
    labeler = Labeler(load_taxonomy(), rpc.stages.rpc.labeler)
    rows = []
    for session in sessions:
        session_rows = draft_rows(session)
        vllm_engine.run(labeler.label_session(calls, "en", session_rows))
        rows += session_rows
    declared = [r for r in rows if r["reaction_source"] == "declared"]
    assert len(declared) == sum(t.reaction_type is not None for s in sessions for t in s.turns)
    check = self_check(rows, load_taxonomy())["reaction_label"]["declared"]
    assert check["support"] == len(declared)
    assert sum(check["confusion"][g].get(p, 0) for g in check["confusion"] for p in check["confusion"][g]) == \
        len(declared)
    print(json.dumps({"declared_gold": check["macro"], "confusion": check["confusion"]}))
