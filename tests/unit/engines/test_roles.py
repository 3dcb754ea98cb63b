"""The one role caller: the Sampling every role's calls carry, per-call seeds, the regenerate loop (σ, truncation)
and the parse-and-retry loop (guided vs strict), asserted on what a scripted pool receives."""
from __future__ import annotations

import asyncio
import json

import pyarrow.parquet as pq
import pytest
from audit_builders import session as audit_session
from audit_builders import write_corpus
from counselsim.audit import wai, wai_job
from counselsim.audit.frames import load_frames
from counselsim.cards.builder import BuildSettings, Complaint, build_card
from counselsim.config import RoleConfig, load_config
from counselsim.engines.base import Completion, Sampling
from counselsim.engines.parsing import ParseError, json_object
from counselsim.engines.roles import (
    RETRY_TEMPERATURE,
    Rejected,
    RoleCaller,
    Unparseable,
    sampling_for,
)
from counselsim.rpc.job import transform
from counselsim.rpc.labeler import Labeler
from counselsim.rpc.taxonomy import load_taxonomy
from counselsim.runtime.job import Dropped
from counselsim.schemas.arrow import sessions_to_table
from counselsim.schemas.session import RejectionCount
from counselsim.simpsydial.job import SimPsyDialJob
from counselsim.simpsydial.session import SessionPlan, simulate
from helpers import card, config
from helpers import session as plain_session
from rpc_builders import Scripted, make_session, rpc_config

PENALTY = 1.3


class Recording:
    """A pool that answers from `script(role, messages, sampling, n)` -> text or (text, finish_reason), where n
    counts the calls of that role; every (role, sampling) is recorded."""

    def __init__(self, script, guided: bool = False) -> None:
        self.script = script
        self.guided = guided
        self.calls: list[tuple[str, Sampling]] = []

    def supports_structured_output(self, role: str) -> bool:
        return self.guided

    async def call(self, role, key, messages, sampling):
        n = sum(1 for r, _ in self.calls if r == role)
        self.calls.append((role, sampling))
        out = self.script(role, messages, sampling, n)
        text, finish = out if isinstance(out, tuple) else (out, "stop")
        return Completion(text=text, prompt_tokens=3, completion_tokens=2, finish_reason=finish)

    def roles(self) -> set[str]:
        return {role for role, _ in self.calls}


def dialogue(role, messages, sampling, n):
    assistant_turns = sum(1 for m in messages if m["role"] == "assistant")
    if role == "counselor":
        return "Take care, good bye." if assistant_turns >= 3 else "What happened next?"
    return "It keeps me awake."


def simulate_with(pool, cfg=None):
    plan = SessionPlan(slot=0, session_id="s-0", card=card(), seed=7)
    return asyncio.run(simulate(plan, cfg or config(), pool, "run"))


# --- sampling_for and seeds ---------------------------------------------------------------------------------------

def test_sampling_carries_every_role_field_and_the_overrides():
    role = RoleConfig(model="m", temperature=0.2, top_p=0.5, max_tokens=33, repetition_penalty=PENALTY)
    assert sampling_for(role) == Sampling(temperature=0.2, top_p=0.5, max_tokens=33, repetition_penalty=PENALTY)
    s = sampling_for(role, seed=5, temperature=0.9, choices=("1", "2"))
    assert (s.seed, s.temperature, s.choices, s.repetition_penalty) == (5, 0.9, ("1", "2"), PENALTY)


def test_stop_strings_reach_the_engine_and_end_the_reply_there():
    from counselsim.engines.scripted import ScriptedEngine

    role = RoleConfig(model="m", stop=["\n"])
    assert sampling_for(role).stop == ("\n",)
    engine = ScriptedEngine(script=lambda messages, sampling: "I hear you.\nHere is more.")
    out = asyncio.run(engine.generate([{"role": "user", "content": "hi"}], sampling_for(role)))
    assert (out.text, out.finish_reason) == ("I hear you.", "stop")


def test_seeds_depend_on_the_item_and_call_not_on_the_replica():
    def seeds(key):
        pool = Recording(dialogue)
        caller = RoleCaller(pool, config().roles, key, seed=11)
        asyncio.run(caller.complete("client", [], sampling_for(config().roles["client"],
                                                               seed=caller.call_seed("x", attempt=1))))
        return [s.seed for _, s in pool.calls]

    assert seeds("replica-routing-key-a") == seeds("replica-routing-key-b")


# --- repetition_penalty reaches the engine from every role -------------------------------------------------------

def test_session_client_and_counselor_carry_the_repetition_penalty():
    pool = Recording(dialogue)
    cfg = config(roles={"client": {"model": "m", "repetition_penalty": PENALTY},
                        "counselor": {"model": "m", "repetition_penalty": PENALTY}})
    session = simulate_with(pool, cfg)
    assert pool.roles() == {"client", "counselor"}
    assert all(s.repetition_penalty == PENALTY for _, s in pool.calls)
    assert session.client.repetition_penalty == session.counselor.repetition_penalty == PENALTY


@pytest.mark.parametrize("structured", [True, False])
def test_rpc_roles_carry_the_repetition_penalty(structured):
    cfg = rpc_config()
    for role in cfg.roles.values():
        role.repetition_penalty = PENALTY
    caller = Scripted(structured=structured)
    s = make_session(pairs=6)
    settings = cfg.stages.rpc
    taxonomy = load_taxonomy()
    calls = RoleCaller(caller, cfg.roles, s.session_id, 11)
    asyncio.run(transform(s, calls, cfg, settings, taxonomy, Labeler(taxonomy, settings.labeler), "r", "h"))
    assert {role for role, _, _ in caller.calls} == {"profiler", "rewriter", "counselor", "labeler"}
    assert all(sampling.repetition_penalty == PENALTY for _, _, sampling in caller.calls)


PROFILE = {"gender": "female", "age": 29, "education": "college", "occupation": "nurse", "marital_status": "single",
           "family_relationships": "distant from her father",
           "big_five": {k: {"level": "moderate", "note": "some"} for k in
                        ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")},
           "resistance": {"level": "high", "reasoning": "doubts that talking helps"}, "topic": "burnout"}


def test_role_card_builder_carries_the_repetition_penalty(repo):
    cfg = load_config(repo / "pipelines" / "role_cards.yaml", [f"roles.builder.repetition_penalty={PENALTY}"])
    pool = Recording(lambda role, m, s, n: "not json" if n == 0 else json.dumps(PROFILE))
    complaint = Complaint("c-1", "I work night shifts and I can no longer sleep or feel anything at all.", "f:1")
    assert asyncio.run(build_card(complaint, cfg, pool, BuildSettings(max_attempts=2))).id == "c-1"
    assert len(pool.calls) == 2 and all(s.repetition_penalty == PENALTY for _, s in pool.calls)


def test_wai_judge_carries_the_repetition_penalty(repo, tmp_path):
    write_corpus(str(tmp_path / "c"), [audit_session("a", [("client", "Hello"), ("counselor", "Take care.")])])
    cfg = load_config(repo / "pipelines" / "wai.yaml", [f"roles.judge.repetition_penalty={PENALTY}",
                                                        "stages.wai.rounds=1"])
    pool = Recording(lambda role, m, s, n: "5", guided=True)
    result = asyncio.run(wai_job.score_corpus(load_frames(str(tmp_path / "c")), cfg, pool, tmp_path / "judge"))
    assert len(result.calls) == 12 and not result.unparseable_outputs()
    assert all(s.repetition_penalty == PENALTY and s.choices == wai.CHOICES for _, s in pool.calls)


# --- truncation and the regenerate loop --------------------------------------------------------------------------

def test_truncated_replies_are_regenerated_for_client_and_counselor():
    def script(role, messages, sampling, n):
        # The first attempt at every turn stops at max_tokens, mid-sentence.
        first_attempt = n % 2 == 0
        return ("It feels really", "length") if first_attempt else dialogue(role, messages, sampling, n)

    pool = Recording(script)
    session = simulate_with(pool)
    generated = session.turns[1:]
    assert {t.speaker for t in generated} == {"client", "counselor"}
    assert all(t.finish_reason == "stop" and t.attempts == 2 and t.text != "It feels really" for t in generated)
    assert session.rejections == [RejectionCount(reason="truncated", count=len(generated))]
    assert session.regenerations == len(generated)


def test_a_reply_that_is_only_ever_truncated_drops_the_session():
    pool = Recording(lambda role, m, s, n: ("Good bye.", "length"))
    with pytest.raises(Dropped) as e:
        simulate_with(pool, config(session__refinement__max_attempts=3))
    assert e.value.reason == "refinement_exhausted" and "'truncated': 3" in e.value.detail
    assert len(pool.calls) == 3


def test_reply_counts_rejections_by_reason_and_raises_rejected_when_exhausted():
    outputs = iter([("1. rest 2. walk", "stop"), ("cut off", "length"), ("fine", "stop")])
    pool = Recording(lambda role, m, s, n: next(outputs, ("anything", "stop")))
    caller = RoleCaller(pool, config().roles, "k", 1)
    check = lambda text: "enumeration" if "1." in text else None  # noqa: E731
    reply = asyncio.run(caller.reply("counselor", [], check, 0, max_attempts=3))
    assert (reply.text, reply.attempts, reply.finish_reason) == ("fine", 3, "stop")
    assert reply.rejections == {"enumeration": 1, "truncated": 1} == caller.rejections
    assert (reply.prompt_tokens, reply.completion_tokens) == (9, 6)  # rejected attempts' usage counts
    assert len({s.seed for _, s in pool.calls}) == 3  # a fresh seed per attempt
    assert caller.meter.stage("counselor").outcomes == {"rejected:enumeration": 1, "rejected:truncated": 1}

    with pytest.raises(Rejected) as e:
        asyncio.run(caller.reply("counselor", [], lambda text: "too_long", 1, max_attempts=2))
    assert e.value.reason == "too_long" and e.value.rejections == {"too_long": 2}
    assert caller.rejections == {"enumeration": 1, "truncated": 1, "too_long": 2}


# --- parse and retry ----------------------------------------------------------------------------------------------

def greedy_roles():
    return {"labeler": RoleConfig(model="m", temperature=0.0)}


def test_parse_retries_with_fresh_seeds_and_some_temperature_then_succeeds():
    outputs = iter(["no json here", 'Sure: ```json\n{"a": 1}\n```'])
    pool = Recording(lambda role, m, s, n: next(outputs))
    caller = RoleCaller(pool, greedy_roles(), "k", 1)
    parsed = asyncio.run(caller.parsed("labeler", [], json_object, "label", 4, attempts=3, schema={"type": "object"}))
    assert parsed.value == {"a": 1} and parsed.attempts == 2 and not parsed.guided
    (_, first), (_, second) = pool.calls
    assert first.temperature == 0.0 and second.temperature == RETRY_TEMPERATURE and first.seed != second.seed
    assert first.json_schema is None  # strict parsing: no schema sent to an engine without guided decoding
    assert caller.meter.stage("labeler").failed_parses == 1


def test_unparseable_after_the_bounded_attempts_never_a_guess():
    pool = Recording(lambda role, m, s, n: ("{\"a\": ", "length"))
    caller = RoleCaller(pool, greedy_roles(), "k", 1)
    with pytest.raises(Unparseable) as e:
        asyncio.run(caller.parsed("labeler", [], json_object, attempts=3, stage="label_binary"))
    assert len(pool.calls) == 3 and len(e.value.errors) == 3
    assert e.value.stage == "label_binary" and "finish_reason length" in e.value.error
    assert e.value.text == '{"a": '


def test_guided_calls_carry_the_schema_or_choices():
    pool = Recording(lambda role, m, s, n: '{"a": 1}' if s.json_schema else "5", guided=True)
    caller = RoleCaller(pool, greedy_roles(), "k", 1)
    schema = {"type": "object"}
    assert asyncio.run(caller.parsed("labeler", [], json_object, attempts=1, schema=schema)).guided
    assert asyncio.run(caller.parsed("labeler", [], int, attempts=1, choices=("4", "5"))).value == 5
    (_, with_schema), (_, with_choices) = pool.calls
    assert with_schema.json_schema == schema and with_schema.choices is None
    assert with_choices.choices == ("4", "5") and with_choices.json_schema is None


def test_json_extractor():
    assert json_object('noise {"a": 1} {"b": 2}') == {"a": 1}
    assert json_object("```json\n{\"a\": [1]}\n```") == {"a": [1]}
    with pytest.raises(ParseError):
        json_object("[1, 2]")


# --- rejections reach the manifest ---------------------------------------------------------------------------------

def test_the_job_summary_sums_rejections_over_the_written_sessions(tmp_path):
    first, second = plain_session("a"), plain_session("b", 1)
    first.rejections = [RejectionCount(reason="too_long", count=2), RejectionCount(reason="truncated", count=1)]
    second.rejections = [RejectionCount(reason="truncated", count=3)]
    paths = []
    for s in (first, second):
        paths.append(tmp_path / f"{s.session_id}.parquet")
        pq.write_table(sessions_to_table([s]), paths[-1])
    assert SimPsyDialJob(config()).summary(paths) == {"rejections": {"too_long": 2, "truncated": 4}}
