"""The resistant live client (session.client_mode: resistant) against a scripted engine: orchestration only."""
import asyncio
import json

import pytest
from counselsim.engines.base import Completion, Sampling
from counselsim.engines.parsing import ParseError
from counselsim.errors import InputError
from counselsim.runtime.job import Dropped
from counselsim.simpsydial.resistant_client import (
    parse_turn,
    reaction_list,
    turn_schema,
)
from counselsim.simpsydial.session import SessionPlan, simulate
from helpers import card, config

PROFILE = {"presenting": "insomnia before exams", "predisposing": "perfectionist upbringing",
           "precipitating": "final exams", "perpetuating": "worry at night", "protective": "close sister"}


def resistant_config(**overrides):
    return config(session__client_mode="resistant", roles__profiler={"model": "m"}, **overrides)


def reasoned(decision, reaction, utterance):
    return json.dumps({"profile_reflection": "I was raised to never fail.",
                       "situation_awareness": f"The counselor {decision}.",
                       "reaction_decision": f"Because the counselor {decision}, I react this way.",
                       "reaction_type": reaction, "utterance": utterance})


def client_reasoning(messages, n):
    """Resists advice, cooperates with questions: the type follows what the counselor just did."""
    last = messages[-1]["content"]
    if "should" in last:
        return reasoned("pushed advice on me", "defensive", "It's not my fault, exams are just brutal.")
    return reasoned("asked a plain question", "non_resistant", f"It happens before every exam, part {n}.")


class Pool:
    def __init__(self, counselor, client=client_reasoning, profiler=lambda m: json.dumps(PROFILE), guided=False):
        self.answers = {"counselor": counselor, "client": client, "profiler": profiler}
        self.guided = guided
        self.calls = []

    def supports_structured_output(self, role):
        return self.guided

    async def call(self, role, key, messages, sampling: Sampling):
        self.calls.append((role, messages, sampling))
        n = sum(1 for m in messages if m["role"] == "assistant")
        answer = self.answers[role]
        text = answer(messages) if role == "profiler" else answer(messages, n)
        return Completion(text=text, prompt_tokens=5, completion_tokens=2)


def counselor(messages, n):
    if n >= 4:
        return "Take care, good bye."
    return "You should sleep earlier." if n % 2 else "When does it happen?"


def run(cfg, pool, seed=7):
    plan = SessionPlan(slot=0, session_id="s-0", card=card(), seed=seed)
    return asyncio.run(simulate(plan, cfg, pool, "run"))


def test_the_reaction_type_follows_the_reasoning_about_the_counselor():
    session = run(resistant_config(), Pool(counselor))
    clients = [t for t in session.turns[1:] if t.speaker == "client"]
    for turn in clients:
        before = session.turns[turn.index - 1].text
        assert turn.reaction_type == ("defensive" if "should" in before else "non_resistant")
        assert turn.motivation.situation_awareness.startswith("The counselor")
    assert {t.reaction_type for t in clients} == {"defensive", "non_resistant"}
    # No draw: other seeds give the same types, since only the model's answer decides them.
    assert [t.reaction_type for t in run(resistant_config(), Pool(counselor), seed=99).turns] == \
        [t.reaction_type for t in session.turns]


def test_only_the_utterance_reaches_the_counselor():
    pool = Pool(counselor)
    session = run(resistant_config(), pool)
    counselor_views = [msgs for role, msgs, _ in pool.calls if role == "counselor"]
    seen = " ".join(m["content"] for msgs in counselor_views for m in msgs)
    assert "It's not my fault, exams are just brutal." in seen
    assert "raised to never fail" not in seen and "reaction_type" not in seen and "{" not in seen
    assert session.turns[2].text == "It happens before every exam, part 1."  # the utterance, not the JSON
    # The client's own history holds its utterances too, not its earlier reasoning.
    last_client_call = [msgs for role, msgs, _ in pool.calls if role == "client"][-1]
    assert all("raised to never fail" not in m["content"] for m in last_client_call[1:])


def test_the_profile_is_built_once_and_shown_to_the_client():
    pool = Pool(counselor)
    session = run(resistant_config(), pool)
    assert [role for role, _, _ in pool.calls].count("profiler") == 1
    assert pool.calls[0][0] == "profiler"
    assert session.client_profile.model_dump() == PROFILE
    system = [msgs for role, msgs, _ in pool.calls if role == "client"][0][0]["content"]
    assert "perfectionist upbringing" in system and "exams" in system and "facilitative" in system
    assert session.turns[0].reaction_type is None  # the scripted opening is not reasoned


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_resistant_prompt_is_the_plain_prompt_plus_profile_and_reasoning(language):
    from counselsim.schemas.reasoning import Profile5P
    from counselsim.simpsydial.agents import client_system_prompt
    from counselsim.simpsydial.resistant_client import system_prompt

    c = card(language=language)
    resistant = system_prompt(c, Profile5P(**PROFILE), 6)
    plain = client_system_prompt(c, 6)
    assert resistant.startswith(plain)  # one file holds the dialogue requirements for both modes
    assert "perfectionist upbringing" in resistant[len(plain):] and "reaction_decision" in resistant[len(plain):]


def test_guided_engines_get_the_schema_with_the_seven_types():
    pool = Pool(counselor, guided=True)
    run(resistant_config(), pool)
    schema = [s for role, _, s in pool.calls if role == "client"][0].json_schema
    assert list(schema["properties"]) == ["profile_reflection", "situation_awareness", "reaction_decision",
                                          "reaction_type", "utterance"]
    assert len(schema["properties"]["reaction_type"]["enum"]) == 7


def test_an_unparseable_client_turn_is_retried_then_drops_the_session():
    tries = {"n": 0}

    def flaky(messages, n):
        tries["n"] += 1
        if tries["n"] == 1:
            return reasoned("asked", "stubborn", "Maybe.")  # names no reaction type: retried
        return client_reasoning(messages, n)

    session = run(resistant_config(), Pool(counselor, client=flaky))
    assert session.turns[2].attempts == 2 and session.turns[2].completion_tokens == 4

    with pytest.raises(Dropped) as e:
        run(resistant_config(session__resistant_client={"attempts": 2}),
            Pool(counselor, client=lambda m, n: "I just feel tired."))
    assert e.value.reason == "client_unparseable" and "client turn 2" in e.value.detail


def test_an_unparseable_profile_drops_the_session():
    with pytest.raises(Dropped) as e:
        run(resistant_config(), Pool(counselor, profiler=lambda m: "no json here"))
    assert e.value.reason == "profile_unparseable"


def test_a_resistant_client_needs_a_profiler_and_plain_needs_none():
    with pytest.raises(InputError, match="profiler"):
        config(session__client_mode="resistant")
    with pytest.raises(InputError, match="profiler"):
        config(roles__profiler={"model": "m"})
    assert config().session.client_mode == "plain"


def test_plain_sessions_carry_no_reasoning():
    session = run(config(), Pool(counselor, client=lambda m, n: f"client turn {n}"))
    assert session.client_profile is None
    assert all(t.reaction_type is None and t.motivation is None for t in session.turns)


def test_parse_turn_accepts_names_and_refuses_missing_parts():
    text = reasoned("asked", "Non-resistant", "\"Sure, it started in May.\"")
    turn = parse_turn(text, 240, 400)
    assert turn.reaction_type == "non_resistant" and turn.utterance == "Sure, it started in May."
    assert parse_turn(reasoned("问", "防御型", "不怪我。"), 240, 400).reaction_type == "defensive"
    with pytest.raises(ParseError, match="reaction_decision"):
        parse_turn(json.dumps({"profile_reflection": "a", "situation_awareness": "b", "reaction_type": "avoidant",
                               "utterance": "x"}), 240, 400)
    with pytest.raises(ParseError, match="utterance"):
        parse_turn(reasoned("asked", "avoidant", "x" * 50), 240, 20)
    assert "- compliant (Compliant): Superficial compliance" in reaction_list("en")
    assert turn_schema(240, 400)["properties"]["utterance"]["maxLength"] == 400
