"""Coherence after the episode (scripted engine): the original next client turn rejoined when the rewriter judges it
still follows, else every later turn regenerated (client role, counselor through σ, an early closing ending the
session), "session_end" when nothing original follows; the regeneration counts; declared reaction types kept; the
regenerated turns sampled as the input corpus was generated."""
from __future__ import annotations

import asyncio

import pytest
from counselsim.corpus.writer import write_corpus
from counselsim.rpc.job import build_job
from counselsim.runtime.job import Dropped
from counselsim.runtime.runner import run_items
from counselsim.runtime.staging import Staging
from counselsim.schemas.arrow import SESSION_SCHEMA, sessions_to_table
from counselsim.schemas.rpc import Motivation
from counselsim.simpsydial.agents import client_system_prompt, counselor_system_prompt
from rpc_builders import Scripted, is_rejoin, make_session, rpc_config, transform_one

NEW_REPLY = "What makes it hard to try something different?"  # the scripted counselor
NEW_CLIENT = "Maybe, I have not really thought about it."  # the scripted client


def rejoin_calls(caller: Scripted) -> list[list]:
    return [m for r, m, _ in caller.calls if r == "rewriter" and is_rejoin(m)]


def calls_of(caller: Scripted, role: str) -> list[list]:
    return [m for r, m, _ in caller.calls if r == role]


def test_the_original_next_client_turn_is_kept_when_it_still_follows():
    original = make_session()
    caller = Scripted()  # planner: turns 2, 4, 6; the rejoin check says it follows
    record = transform_one(original, caller)
    episode = record.episode
    assert episode.turn_indices == [2, 4, 6] and episode.continuation == "rejoined"
    assert (episode.counselor_regenerated, episode.client_regenerated) == (3, 0)
    (messages,) = rejoin_calls(caller)
    user = messages[1]["content"]
    assert original.turns[8].text in user and NEW_REPLY in user  # the original turn 8 after the new reply 7
    assert original.turns[7].text not in user
    assert [t.text for t in record.turns[8:]] == [t.text for t in original.turns[8:]]
    assert not calls_of(caller, "client")


@pytest.mark.parametrize("mode, follows", [("check", False), ("check", None), ("regenerate", True)])
def test_every_later_turn_is_regenerated_when_the_original_does_not_follow(mode, follows):
    original = make_session(pairs=6, termination="farewell")
    caller = Scripted(follows=follows)
    record = transform_one(original, caller, rpc_config(injection={"continuation": mode}))
    episode = record.episode
    assert episode.continuation == "regenerated" and record.episode_decision == "injected"
    assert len(rejoin_calls(caller)) == (0 if mode == "regenerate" else 3 if follows is None else 1)
    assert len(record.turns) == len(original.turns)  # the scripted counselor never closes: the original length
    for t in record.turns[7:]:
        assert t.regenerated and t.original_text == original.turns[t.index].text
        assert t.text == (NEW_CLIENT if t.speaker == "client" else NEW_REPLY)
        assert not t.injected and t.reaction_type is None
    # 3 replies after the episode's turns, then 9 and 11; client turns 8 and 10.
    assert (episode.counselor_regenerated, episode.client_regenerated) == (5, 2)
    # Client turns by the client role under the SimPsyDial client prompt, counselor turns under the counselor's.
    assert {m[0]["content"] for m in calls_of(caller, "client")} == {
        client_system_prompt(original.role_card, original.num_turn_pairs)}
    assert {m[0]["content"] for m in calls_of(caller, "counselor")} == {counselor_system_prompt("en")}
    # The last reply no longer says goodbye: the session ran to its original length.
    assert record.termination_reason == "turn_cap" and record.num_turn_pairs == 6


def test_a_counselor_closing_in_the_regenerated_continuation_ends_the_session():
    def counselor(messages, sampling):
        turn = len(messages) - 1  # the system prompt, then the turns before this one
        return "Thank you for sharing today. Take care, good bye." if turn == 9 else NEW_REPLY

    record = transform_one(make_session(pairs=6), Scripted(follows=False, counselor=counselor))
    assert [t.index for t in record.turns] == list(range(10))  # 10 and 11 dropped
    assert record.turns[9].regenerated and record.turns[9].text.endswith("good bye.")
    assert record.termination_reason == "farewell" and record.num_turn_pairs == 5
    assert (record.episode.counselor_regenerated, record.episode.client_regenerated) == (4, 1)


def test_a_reply_of_the_episode_may_not_close_while_original_turns_follow():
    replies = iter(["Take care, good bye.", "What stops you from trying it?"])
    record = transform_one(make_session(), Scripted(counselor=lambda m, s: next(replies, NEW_REPLY),
                                                    plan={"start_turn": 2, "num_turns": 1}))
    assert record.turns[3].text == "What stops you from trying it?" and record.turns[3].attempts == 2


def test_session_end_when_nothing_original_follows():
    caller = Scripted(plan={"start_turn": 10, "num_turns": 3})
    record = transform_one(make_session(pairs=6, termination="turn_cap"), caller)
    assert record.episode.turn_indices == [10] and record.episode.continuation == "session_end"
    assert record.turns[11].regenerated and not rejoin_calls(caller)
    # The reply after the last turn may close the session: it is the last turn.
    closing = transform_one(make_session(pairs=6, termination="turn_cap"), Scripted(
        plan={"start_turn": 10, "num_turns": 1}, counselor=lambda m, s: "Take care, good bye."))
    assert closing.turns[11].text == "Take care, good bye." and closing.episode.continuation == "session_end"


def test_the_exchange_before_a_farewell_is_rejoined_or_regenerated_up_to_the_ending():
    record = transform_one(make_session(pairs=6), Scripted(plan={"start_turn": 8, "num_turns": 3}))
    assert record.episode.turn_indices == [8] and record.episode.continuation == "rejoined"
    assert record.turns[11].text == make_session().turns[11].text  # the farewell kept


def test_a_client_reply_that_exhausts_its_attempts_drops_the_session():
    with pytest.raises(Dropped) as e:
        transform_one(make_session(), Scripted(follows=False, client=lambda m, s: "   "))
    assert e.value.reason == "refinement_exhausted" and "client turn 8" in e.value.detail


def test_declared_reaction_types_are_kept_and_reset_where_the_turn_is_regenerated():
    session = make_session(pairs=6, termination="turn_cap")
    motive = Motivation(profile_reflection="a", situation_awareness="b", reaction_decision="c")
    turns = [t.model_copy(update={"reaction_type": "avoidant", "motivation": motive}) if t.index in (2, 8) else t
             for t in session.turns]
    session = session.model_copy(update={"turns": turns})

    kept = transform_one(session, Scripted(plan={"start_turn": 4, "num_turns": 1}))
    assert kept.episode.continuation == "rejoined"
    for i in (2, 8):
        assert (kept.turns[i].reaction_type, kept.turns[i].reaction_source) == ("avoidant", "declared")
        assert kept.turns[i].motivation == motive
    assert kept.turns[4].reaction_source == "injected"

    regenerated = transform_one(session, Scripted(plan={"start_turn": 4, "num_turns": 1}, follows=False))
    assert regenerated.turns[2].reaction_source == "declared"  # before the episode: untouched
    turn = regenerated.turns[8]
    assert turn.regenerated and (turn.reaction_type, turn.reaction_source, turn.motivation) == (None, None, None)


# --- the sampling of regenerated turns ---------------------------------------------------------------------------

def run_job(tmp_path, manifest_fields: dict, follows: bool = False) -> tuple[dict, Scripted]:
    folder = tmp_path / "in"
    write_corpus(str(folder), SESSION_SCHEMA, [sessions_to_table([make_session("s-0")])], manifest_fields,
                 rows_per_shard=2)
    cfg = rpc_config(str(folder), str(tmp_path / "out"))
    job = build_job(cfg)
    job.validate()
    caller = Scripted(follows=follows)
    job.bind(caller, "run-1")
    staging = Staging.for_job(tmp_path / "staging", job, 2)
    stats = asyncio.run(run_items(job, staging, max_in_flight=1, max_attempts_factor=1, show_progress=False))
    assert stats.written == 1
    return job.summary(staging.part_paths()), caller


def test_regenerated_turns_use_the_sampling_the_input_corpus_was_generated_with(tmp_path):
    generated = {"counselor": {"model": "qwen", "temperature": 0.31, "top_p": 0.7, "max_tokens": 77},
                 "client": {"model": "qwen", "temperature": 0.42, "top_p": 0.6, "max_tokens": 55, "stop": ["\n"]}}
    summary, caller = run_job(tmp_path, {"command": "run", "pipeline": "simpsydial", "config": {"roles": generated}})
    for role in ("counselor", "client"):
        samplings = [s for r, _, s in caller.calls if r == role]
        assert samplings
        assert {(s.temperature, s.top_p, s.max_tokens) for s in samplings} == {
            (generated[role]["temperature"], generated[role]["top_p"], generated[role]["max_tokens"])}
    assert {s.stop for r, _, s in caller.calls if r == "client"} == {("\n",)}
    sampling = summary["regeneration_sampling"]
    assert sampling["source"] == "input manifest"
    assert sampling["client"] == {"temperature": 0.42, "top_p": 0.6, "max_tokens": 55, "repetition_penalty": 1.0,
                                  "stop": ["\n"]}
    # The other roles keep this config's sampling.
    assert {s.max_tokens for r, _, s in caller.calls if r == "labeler"} == {256}


def test_without_recorded_roles_the_rpc_config_samples_them(tmp_path):
    summary, caller = run_job(tmp_path, {"command": "import"})
    cfg = rpc_config()
    assert summary["regeneration_sampling"]["source"] == "rpc config"
    for role in ("counselor", "client"):
        assert {(s.temperature, s.max_tokens) for r, _, s in caller.calls if r == role} == {
            (cfg.roles[role].temperature, cfg.roles[role].max_tokens)}
    episodes = summary["episodes"]
    assert episodes["continuation"] == {"regenerated": 1} and episodes["client_regenerated"] == 2
