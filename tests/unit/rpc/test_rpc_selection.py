"""Selecting input sessions balanced across role-card topics (stages.rpc.selection): deterministic by the run seed,
at most per_topic per topic, topics interleaved up to max_sessions, the same plan on a resume, the topic recorded
and the counts in the manifest summary."""
from __future__ import annotations

import asyncio

import pyarrow.parquet as pq
from counselsim.cards.stats import NO_TOPIC
from counselsim.corpus.writer import write_corpus
from counselsim.rpc.job import build_job
from counselsim.rpc.selection import select
from counselsim.rpc.settings import SelectionSettings
from counselsim.runtime.runner import run_items
from counselsim.runtime.staging import Staging
from counselsim.schemas.arrow import SESSION_SCHEMA, sessions_to_table
from rpc_builders import Scripted, make_session, rpc_config

ENTRIES = ([(f"a-{k}", "anxiety") for k in range(5)] + [(f"f-{k}", "family") for k in range(2)]
           + [(f"n-{k}", NO_TOPIC) for k in range(3)])


def test_per_topic_caps_every_topic_and_the_choice_is_seeded():
    settings = SelectionSettings(per_topic=2)
    chosen = select(ENTRIES, settings, seed=0)
    assert chosen.selected_topics == {NO_TOPIC: 2, "anxiety": 2, "family": 2}
    assert chosen.input_topics == {NO_TOPIC: 3, "anxiety": 5, "family": 2}
    # The same corpus and seed choose the same, whatever order the input is read in.
    assert select(list(reversed(ENTRIES)), settings, seed=0).keys == chosen.keys
    # The seed decides which ones within a topic.
    picks = {frozenset(k for k in select(ENTRIES, settings, seed=s).keys if k.startswith("a-")) for s in range(8)}
    assert len(picks) > 1


def test_topics_are_interleaved_up_to_max_sessions():
    chosen = select(ENTRIES, SelectionSettings(max_sessions=5), seed=3)
    topics = [k[0] for k in chosen.keys]
    assert topics == ["n", "a", "f", "n", "a"]  # round-robin over the sorted topics
    assert chosen.selected_topics == {NO_TOPIC: 2, "anxiety": 2, "family": 1}
    both = select(ENTRIES, SelectionSettings(per_topic=1, max_sessions=10), seed=3)
    assert len(both.keys) == 3 and both.selected_topics == {NO_TOPIC: 1, "anxiety": 1, "family": 1}


def test_no_selection_takes_everything():
    chosen = select(ENTRIES, SelectionSettings(), seed=0)
    assert sorted(chosen.keys) == sorted(k for k, _ in ENTRIES) and not SelectionSettings().active


def corpus(tmp_path) -> str:
    topics = ["anxiety", "anxiety", "anxiety", "family", None, "family", "anxiety"]
    sessions = [make_session(f"s-{k}", slot=k, topic=t) for k, t in enumerate(topics)]
    folder = tmp_path / "in"
    write_corpus(str(folder), SESSION_SCHEMA, [sessions_to_table(sessions)], {"command": "test"}, rows_per_shard=3)
    return str(folder)


def job_for(source: str, out: str, **selection):
    job = build_job(rpc_config(source, out, selection=selection))
    job.validate()
    return job


def test_the_job_plans_the_selection_records_the_topic_and_reports_the_counts(tmp_path):
    source = corpus(tmp_path)
    job = job_for(source, str(tmp_path / "out"), per_topic=1, max_sessions=2)
    keys = [w.key for w in job.plan()]
    assert len(keys) == 2
    assert keys == [w.key for w in job_for(source, str(tmp_path / "out"), per_topic=1, max_sessions=2).plan()]
    slots = [int(k.split("-")[1]) for k in keys]
    assert slots == sorted(slots)  # in input order

    job.bind(Scripted(), "run-1")
    staging = Staging.for_job(tmp_path / "staging", job, 2)
    stats = asyncio.run(run_items(job, staging, max_in_flight=2, max_attempts_factor=1, show_progress=False))
    assert stats.written == 2
    summary = job.summary(staging.part_paths())
    selection = summary["selection"]
    assert selection["input_topics"] == {NO_TOPIC: 1, "anxiety": 4, "family": 2}
    assert selection["selected_topics"] == {NO_TOPIC: 1, "anxiety": 1}  # the first two topics in order
    assert (selection["input_sessions"], selection["selected_sessions"]) == (7, 2)
    topics = sorted(t for p in staging.part_paths() for t in pq.read_table(p, columns=["topic"])["topic"].to_pylist())
    assert topics == sorted([NO_TOPIC, "anxiety"])

    # A resumed job plans the same items, so nothing new runs.
    again = job_for(source, str(tmp_path / "out"), per_topic=1, max_sessions=2)
    again.bind(Scripted(), "run-1")
    stats = asyncio.run(run_items(again, staging, max_in_flight=2, max_attempts_factor=1, show_progress=False))
    assert (stats.resumed, stats.attempted) == (2, 2)


def test_without_selection_every_session_runs_and_no_topic_is_recorded(tmp_path):
    job = job_for(corpus(tmp_path), str(tmp_path / "out"))
    job.bind(Scripted(), "run-1")
    staging = Staging.for_job(tmp_path / "staging", job, 2)
    assert asyncio.run(run_items(job, staging, 3, 1, show_progress=False)).written == 7
    summary = job.summary(staging.part_paths())
    assert summary["selection"]["selected_sessions"] == 7
    assert summary["selection"]["selected_topics"] == summary["selection"]["input_topics"]
    assert {t for p in staging.part_paths() for t in pq.read_table(p, columns=["topic"])["topic"].to_pylist()} == {None}
