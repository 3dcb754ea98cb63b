"""The session loop (Algorithm 1) against a scripted engine: orchestration logic only."""
import asyncio

import pytest
from counselsim.engines.base import Completion, ContextOverflowError, Sampling
from counselsim.runtime.job import Dropped
from counselsim.simpsydial.session import SessionPlan, simulate
from helpers import card, config


class Pool:
    """The engine pool's surface, answering from a function of the call."""

    def __init__(self, call):
        self.call = call

    def supports_structured_output(self, role):
        return False


def scripted(counselor, client=lambda msgs, n: f"client turn {n}"):
    calls = []

    async def call(role, key, messages, sampling: Sampling):
        calls.append((role, messages, sampling))
        n = sum(1 for m in messages if m["role"] == "assistant")
        text = counselor(messages, n) if role == "counselor" else client(messages, n)
        return Completion(text=text, prompt_tokens=5, completion_tokens=2)

    return Pool(call), calls


def run(cfg, call, seed=7, c=None):
    plan = SessionPlan(slot=0, session_id="s-0", card=c or card(), seed=seed)
    return asyncio.run(simulate(plan, cfg, call, "run"))


def test_client_opens_and_farewell_ends_the_session():
    call, calls = scripted(lambda m, n: "Take care, good bye." if n == 4 else f"What happened then, part {n}?")
    s = run(config(), call)
    assert s.turns[0].speaker == "client" and s.turns[0].text == "Hello"
    assert [t.speaker for t in s.turns] == ["client", "counselor"] * 5
    assert s.termination_reason == "farewell" and s.num_turn_pairs == 5
    assert s.turns[-1].text == "Take care, good bye."


def test_mid_session_encouragement_does_not_end_it():
    call, _ = scripted(lambda m, n: "Keep it up! What else helped?" if n < 6 else "Good bye.")
    s = run(config(), call)
    assert s.num_turn_pairs == 7 and s.termination_reason == "farewell"


def test_turn_cap():
    call, _ = scripted(lambda m, n: f"Tell me more, part {n}?")
    s = run(config(session__max_turn_pairs=6), call)
    assert s.termination_reason == "turn_cap" and s.num_turn_pairs == 6 and s.turns[-1].speaker == "counselor"


def test_short_sessions_are_dropped():
    call, _ = scripted(lambda m, n: "Good bye.")
    with pytest.raises(Dropped) as e:
        run(config(session__min_turn_pairs=3), call)
    assert e.value.reason == "too_short"


def test_rejected_counselor_replies_are_regenerated_and_counted():
    rejected = {"n": 0}

    def counselor(m, n):
        if n == 1 and rejected["n"] < 2:
            rejected["n"] += 1
            return "Here are steps:\n1. rest\n2. walk"
        return "Good bye." if n >= 4 else "How did that feel?"

    call, _ = scripted(counselor)
    s = run(config(), call)
    second_reply = s.turns[3]
    assert second_reply.speaker == "counselor" and second_reply.attempts == 3
    assert second_reply.completion_tokens == 6  # usage of rejected attempts counts too
    assert s.regenerations == 2


def test_exhausted_regeneration_drops_the_session():
    call, _ = scripted(lambda m, n: "1. rest 2. walk")
    with pytest.raises(Dropped) as e:
        run(config(session__refinement__max_attempts=2), call)
    assert e.value.reason == "refinement_exhausted"


def test_each_model_sees_the_other_party_as_user():
    call, calls = scripted(lambda m, n: "Good bye." if n >= 3 else "And then?")
    run(config(), call)
    role, messages, _ = calls[1]  # the client's first generated turn
    assert role == "client"
    assert [m["role"] for m in messages] == ["system", "assistant", "user"]
    assert "30" in messages[0]["content"] and "exams" in messages[0]["content"]  # the role card is in the prompt
    role, messages, _ = calls[2]
    assert role == "counselor"
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "Xiaotian" in messages[0]["content"]


def test_chinese_sessions_use_chinese_prompts_and_opening():
    call, calls = scripted(lambda m, n: "再见！" if n >= 3 else "然后呢？", lambda m, n: "我睡不着。")
    s = run(config(), call, c=card(language="zh", complaint="我最近总是失眠，考试前一晚整夜睡不着，很焦虑。"))
    assert s.turns[0].text == "你好"
    assert "小天" in calls[0][1][0]["content"]


def test_seeds_differ_per_session_and_turn():
    call, calls = scripted(lambda m, n: "Good bye." if n >= 3 else "And then?")
    run(config(), call, seed=1)
    first = [c[2].seed for c in calls]
    calls.clear()
    run(config(), call, seed=2)
    second = [c[2].seed for c in calls]
    assert len(set(first)) == len(first)
    assert first != second


def test_context_overflow_propagates_to_the_runner():
    async def call(role, key, messages, sampling):
        raise ContextOverflowError("prompt of 9000 tokens")

    with pytest.raises(ContextOverflowError):  # the runner counts it as the drop "context_overflow"
        run(config(), Pool(call))
