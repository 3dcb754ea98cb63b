"""The rpc stages orchestrated against a scripted async caller: episode constraints, σ on regenerated counselor
replies, structured output vs the strict parser, unparseable labels, the job through the runner and staging."""
from __future__ import annotations

import asyncio
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from counselsim.config import PipelineConfig
from counselsim.corpus.shards import CorpusWriter
from counselsim.corpus.writer import write_corpus
from counselsim.engines.meter import StageMeter
from counselsim.engines.roles import RoleCaller
from counselsim.errors import InputError
from counselsim.rpc.job import build_job, transform
from counselsim.rpc.labeler import Labeler
from counselsim.rpc.planner import eligible_turns, episode_window
from counselsim.rpc.settings import budget_warnings
from counselsim.rpc.taxonomy import load_taxonomy
from counselsim.runtime.job import Dropped
from counselsim.runtime.runner import run_items
from counselsim.runtime.staging import Staging
from counselsim.schemas import Session
from counselsim.schemas.arrow import (
    RPC_SESSION_SCHEMA,
    SESSION_SCHEMA,
    sessions_to_table,
)
from counselsim.schemas.rpc import MAX_EPISODE_TURNS, RPCSession
from rpc_builders import CLIENT, PROFILE, Scripted, make_session, rpc_config


def run(coro):
    return asyncio.run(coro)


def transform_one(session: Session, caller: Scripted, cfg: PipelineConfig | None = None,
                  meter: StageMeter | None = None) -> RPCSession:
    cfg = cfg or rpc_config()
    settings = cfg.stages.rpc
    taxonomy = load_taxonomy()
    calls = RoleCaller(caller, cfg.roles, session.session_id, 11, meter)
    return run(transform(session, calls, cfg, settings, taxonomy, Labeler(taxonomy, settings.labeler), "rpc-run",
                         "hash"))


# --- episode constraints ------------------------------------------------------------------------------------------

def test_one_episode_of_at_most_three_consecutive_client_turns():
    record = transform_one(make_session(pairs=6), Scripted())
    episode = record.episode
    assert episode is not None and 1 <= len(episode.turn_indices) <= MAX_EPISODE_TURNS == 3
    injected = [t for t in record.turns if t.injected]
    assert [t.index for t in injected] == episode.turn_indices
    assert all(t.speaker == "client" for t in injected)
    assert [b - a for a, b in zip(episode.turn_indices, episode.turn_indices[1:])] == [2] * (len(injected) - 1)
    original = make_session(pairs=6)
    for t in injected:
        assert t.original_text == original.turns[t.index].text != t.text
        assert t.reaction_type == episode.reaction_type
        assert t.motivation is not None and t.motivation.profile_reflection == "She fears failing."


def test_counselor_reply_after_each_changed_turn_is_regenerated_and_nothing_else_changes():
    original = make_session(pairs=6)
    record = transform_one(original, Scripted())
    changed = set(record.episode.turn_indices)
    regenerated = {t.index for t in record.turns if t.regenerated}
    assert regenerated == {i + 1 for i in changed}
    for t in record.turns:
        if t.index in regenerated:
            assert t.speaker == "counselor" and t.original_text == original.turns[t.index].text
            assert t.text == "What makes it hard to try something different?"
        elif t.index not in changed:
            assert t.text == original.turns[t.index].text and t.original_text is None


def test_regenerated_counselor_replies_pass_the_sigma_check():
    replies = iter(["1. Try this. 2. Try that.", "Why not?\nReally?", "What would be different if you tried it once?"])
    record = transform_one(make_session(), Scripted(counselor=lambda m, s: next(replies, "How does that sound?")),
                           rpc_config(injection={"max_turns": 1}))
    (reply,) = [t for t in record.turns if t.regenerated]
    assert reply.attempts == 3 and reply.text == "What would be different if you tried it once?"


def test_a_regenerated_reply_that_never_passes_sigma_drops_the_session():
    with pytest.raises(Dropped) as e:
        transform_one(make_session(), Scripted(counselor=lambda m, s: "word " * 500))
    assert e.value.reason == "refinement_exhausted"


def test_early_farewell_in_a_regenerated_reply_is_rejected():
    replies = iter(["Take care, good bye.", "What stops you from trying it?"])
    record = transform_one(make_session(), Scripted(counselor=lambda m, s: next(replies, "And then?")),
                           rpc_config(injection={"max_turns": 1}))
    (reply,) = [t for t in record.turns if t.regenerated]
    assert reply.text == "What stops you from trying it?" and reply.attempts == 2


def test_max_turns_setting_caps_the_episode():
    record = transform_one(make_session(), Scripted(), rpc_config(injection={"max_turns": 2}))
    assert len(record.episode.turn_indices) == 2


def test_the_episode_is_shortened_where_the_session_ends():
    # Planner asks for 3 turns from the last eligible turn: only one fits.
    def planner(messages, sampling):
        if "start_turn" in messages[0]["content"]:
            return json.dumps({"reason": "late", "inject": True, "reaction_type": "avoidant", "start_turn": 8,
                               "num_turns": 3})
        return Scripted().rewriter(messages, sampling)

    record = transform_one(make_session(pairs=6), Scripted(rewriter=planner))
    assert record.episode.turn_indices == [8]


def test_eligible_turns_keep_the_opening_and_the_closing_exchange():
    s = make_session(pairs=6, termination="farewell")
    assert eligible_turns(s) == [2, 4, 6, 8]  # not 0 (opening), not 10 (answered by the farewell)
    s = make_session(pairs=6, termination="turn_cap")
    assert eligible_turns(s) == [2, 4, 6, 8, 10]
    assert episode_window(s, eligible_turns(s), 6, 3) == [6, 8, 10]


def test_no_episode_when_disabled_or_declined_or_too_short():
    meter = StageMeter()
    record = transform_one(make_session(), Scripted(), rpc_config(injection={"enabled": False}), meter)
    assert record.episode is None and not any(t.injected or t.regenerated for t in record.turns)
    assert record.episode_decision == "disabled"
    assert all(t.label_status == "ok" for t in record.turns if t.speaker == "client")

    decline = Scripted(rewriter=lambda m, s: json.dumps({"reason": "no", "inject": False}))
    record = transform_one(make_session(), decline, meter=meter)
    assert record.episode is None and record.episode_decision == "declined"

    record = transform_one(make_session(pairs=2), Scripted(), meter=meter)
    assert record.episode is None and record.episode_decision == "no_eligible_turn"
    assert meter.stage("plan").outcomes == {"declined": 1, "no_eligible_turn": 1}


def test_a_live_resistant_session_keeps_its_profile_and_declared_types():
    from counselsim.schemas.reasoning import Motivation, Profile5P

    own = Profile5P(presenting="own", predisposing="own", precipitating="own", perpetuating="own", protective="own")
    session = make_session()
    turns = [t.model_copy(update={"reaction_type": "avoidant",
                                  "motivation": Motivation(profile_reflection="a", situation_awareness="b",
                                                           reaction_decision="c")})
             if t.speaker == "client" and t.index > 0 else t for t in session.turns]
    session = session.model_copy(update={"client_profile": own, "turns": turns})
    caller = Scripted()
    record = transform_one(session, caller, rpc_config(injection={"enabled": False}))
    assert record.profile_5p == own and "profiler" not in [role for role, _, _ in caller.calls]
    declared = [t for t in record.turns if t.reaction_source == "declared"]
    assert [t.index for t in declared] == [t.index for t in turns if t.reaction_type]
    assert all(t.reaction_type == "avoidant" and t.reaction_label_status == "ok" for t in declared)


def test_a_rewrite_that_cannot_be_parsed_ends_the_episode_where_it_is():
    base = Scripted()

    def rewriter(messages, sampling):
        if "start_turn" in messages[0]["content"] or '"follows"' in messages[0]["content"] or base.rewrites == 0:
            return base.rewriter(messages, sampling)  # the planner, the rejoin check, the first rewrite
        return "I am not sure what you want from me."

    record = transform_one(make_session(), Scripted(rewriter=rewriter))
    assert len(record.episode.turn_indices) == 1
    assert [t.index for t in record.turns if t.regenerated] == [record.episode.turn_indices[0] + 1]


def test_a_rewrite_identical_to_the_original_is_not_accepted():
    def rewriter(messages, sampling):
        if "start_turn" in messages[0]["content"]:
            return json.dumps({"reason": "r", "inject": True, "reaction_type": "defensive", "start_turn": 2,
                               "num_turns": 1})
        return json.dumps({"profile_reflection": "a", "situation_awareness": "b", "reaction_decision": "c",
                           "response": CLIENT[1]})

    record = transform_one(make_session(), Scripted(rewriter=rewriter))
    assert record.episode is None and record.episode_decision == "nothing_rewritten"


# --- structured output and parsing ---------------------------------------------------------------------------------

@pytest.mark.parametrize("structured", [True, False])
def test_guided_decoding_when_the_backend_has_it_and_the_strict_parser_otherwise(structured):
    caller = Scripted(structured=structured)
    record = transform_one(make_session(), caller)
    for role in ("profiler", "rewriter", "labeler"):
        samplings = [s for r, _, s in caller.calls if r == role]
        assert samplings and all((s.json_schema is not None) == structured for s in samplings)
    assert all(s.json_schema is None for r, _, s in caller.calls if r == "counselor")
    assert record.profile_5p.presenting == PROFILE["presenting"]
    assert record.episode is not None
    labels = {t.index: t.label for t in record.turns if t.speaker == "client"}
    for i in record.episode.turn_indices:
        assert labels[i] == "denying.disagreeing"
    assert labels[0] == "collaboration"
    # The prompt asks for JSON under guided decoding and for RECAP's two lines otherwise.
    label_system = next(m[0]["content"] for r, m, _ in caller.calls if r == "labeler")
    assert ('"behavior"' in label_system) == structured and ('starts with "Behavior:"' in label_system) != structured


def test_label_schema_enumerates_taxonomy_names():
    caller = Scripted()
    transform_one(make_session(), caller)
    schemas = [s.json_schema for r, _, s in caller.calls if r == "labeler"]
    enums = {tuple(s["properties"]["behavior"]["enum"]) for s in schemas if "behavior" in s["properties"]}
    assert ("Resistance", "Collaboration") in enums
    fine = next(e for e in enums if len(e) == 13)
    assert "Avoiding - Minimum Talk" in fine and "Denying - Blaming" in fine


def test_unparseable_labels_are_recorded_never_guessed():
    meter = StageMeter()
    caller = Scripted(structured=False, labeler=lambda m, s: "I think the client is kind of resistant or maybe not.")
    record = transform_one(make_session(), caller, rpc_config(injection={"enabled": False}), meter)
    clients = [t for t in record.turns if t.speaker == "client"]
    assert all(t.label_status == "unparseable" and t.label is None and t.label_binary is None for t in clients)
    # Bounded retries: `attempts` calls per client turn and labeling step (PsyFIRE binary, reaction type), no more.
    assert sum(1 for r, _, _ in caller.calls if r == "labeler") == 2 * 2 * len(clients)
    assert meter.stage("label_binary").outcomes == {"unparseable": len(clients)}


def test_a_fine_step_that_fails_keeps_the_binary_label():
    def labeler(messages, sampling):
        if "Collaboration" in messages[0]["content"]:
            return "Behavior: Resistance\nReason: pushes back"
        return "Behavior: Denying\nReason: it is some kind of denying"  # a group, not a behaviour

    record = transform_one(make_session(), Scripted(structured=False, labeler=labeler),
                           rpc_config(injection={"enabled": False}))
    for t in record.turns:
        if t.speaker == "client":
            assert (t.label_binary, t.label, t.label_group, t.label_status) == ("resistance", None, None, "unparseable")
            assert t.label_rationale == "pushes back"


def test_a_greedy_role_is_retried_with_some_temperature():
    answers = iter(["nonsense", json.dumps(PROFILE)])
    caller = Scripted(profiler=lambda m, s: next(answers))
    cfg = rpc_config(injection={"enabled": False})
    cfg.roles["profiler"].temperature = 0.0
    transform_one(make_session(), caller, cfg)
    temps = [s.temperature for r, _, s in caller.calls if r == "profiler"]
    seeds = [s.seed for r, _, s in caller.calls if r == "profiler"]
    assert temps[0] == 0.0 and temps[1] > 0 and seeds[0] != seeds[1]


def test_a_profile_that_cannot_be_parsed_drops_the_session():
    with pytest.raises(Dropped) as e:
        transform_one(make_session(), Scripted(profiler=lambda m, s: '{"presenting": "x"}'))
    assert e.value.reason == "profile_unparseable"


def test_chinese_sessions_use_chinese_prompts_and_names():
    def labeler(messages, sampling):
        binary = "合作" in messages[0]["content"].split("输出格式")[-1]
        return json.dumps({"behavior": "阻抗" if binary else "否认 - 归咎", "reason": "来访者把责任推给别人"},
                          ensure_ascii=False)

    def rewriter(messages, sampling):
        if "start_turn" in messages[0]["content"]:
            return json.dumps({"reason": "理由", "inject": True, "reaction_type": "controlling", "start_turn": 2,
                               "num_turns": 1})
        return json.dumps({"profile_reflection": "她害怕失败", "situation_awareness": "建议让她有压力",
                           "reaction_decision": "她把责任推给妈妈", "response": "都是我妈天天打电话逼我。"},
                          ensure_ascii=False)

    caller = Scripted(labeler=labeler, rewriter=rewriter, counselor=lambda m, s: "那你怎么看待妈妈的电话？")
    record = transform_one(make_session(language="zh"), caller)
    assert "来访者" in caller.calls[0][1][1]["content"]
    assert record.turns[2].text == "都是我妈天天打电话逼我。" and record.turns[2].label == "denying.blaming"


# --- the job through the runner ------------------------------------------------------------------------------------

def write_input(folder, sessions: list[Session]) -> str:
    """A session corpus with its manifest, as `run` writes one."""
    write_corpus(str(folder), SESSION_SCHEMA, [sessions_to_table(sessions)], {"command": "test"}, rows_per_shard=2)
    return str(folder)


def validated(cfg):
    """The rpc job as the driver builds it: from the config, inputs checked without engines."""
    job = build_job(cfg)
    job.validate()
    return job


def bound(cfg, caller, run_id):
    job = validated(cfg)
    job.bind(caller, run_id)
    return job


def test_job_runs_every_input_session_and_reports_self_check_and_throughput(tmp_path):
    sessions = [make_session(f"s-{k}", slot=k) for k in range(5)]
    cfg = rpc_config(write_input(tmp_path / "in", sessions), str(tmp_path / "out"),
                     injection={"rate": 0.6})
    assert validated(cfg).inputs.sessions == 5
    caller = Scripted()
    job = bound(cfg, caller, "run-1")
    assert job.target is None and job.schema is RPC_SESSION_SCHEMA and job.model is RPCSession
    assert [(w.key, w.slot) for w in job.plan()] == [(f"s-{k}", k) for k in range(5)]
    staging = Staging.for_job(tmp_path / "staging", job, 2)
    stats = run(run_items(job, staging, max_in_flight=3, max_attempts_factor=1, show_progress=False))
    assert (stats.written, stats.dropped) == (5, 0)
    table = pa.concat_tables([pq.read_table(p) for p in staging.part_paths()])
    assert table.schema.equals(RPC_SESSION_SCHEMA, check_metadata=False)
    records = [RPCSession.model_validate(r) for r in table.to_pylist()]
    assert sorted(r.session_id for r in records) == [f"s-{k}" for k in range(5)]
    assert all(r.source_session_id == r.session_id and r.rpc_run_id == "run-1" for r in records)

    summary = job.summary(staging.part_paths())
    check = summary["self_check"]
    injected = sum(len(r.episode.turn_indices) for r in records if r.episode)
    assert check["injected_turns"] == injected > 0
    assert check["binary"]["recall"] == 1.0  # the scripted labeler calls every rewritten turn resistance
    assert check["per_type"]
    throughput = summary["stage_throughput"]
    assert throughput["label_binary"]["items"] == sum(1 for r in records for t in r.turns if t.speaker == "client")
    assert throughput["session"]["items"] == 5 and throughput["profile"]["items_per_s"] > 0

    # Resume: a second job over the same staging does nothing new.
    again = run(run_items(bound(cfg, Scripted(), "run-1"), staging, 3, 1, show_progress=False))
    assert (again.resumed, again.attempted) == (5, 5)


def test_job_validation_names_file_record_and_field(tmp_path):
    with pytest.raises(InputError, match="run.input"):
        validated(rpc_config(input_path=""))

    bad = make_session("bad").model_dump()
    bad["turns"][3]["speaker"] = "therapist"
    table = pa.Table.from_pylist([make_session("ok").model_dump(), bad], schema=sessions_to_table([]).schema)
    folder = tmp_path / "bad"
    writer = CorpusWriter(str(folder), table.schema, 10)
    writer.add(table)
    writer.close()
    with pytest.raises(InputError) as e:
        validated(rpc_config(str(folder)))
    assert "shard-00000.parquet: record 1 (session_id 'bad')" in str(e.value) and "turns.3.speaker" in str(e.value)

    dup = write_input(tmp_path / "dup", [make_session("same", 0), make_session("other", 1), make_session("same", 2)])
    with pytest.raises(InputError, match="'same' also occurs"):
        validated(rpc_config(dup))

    with pytest.raises(InputError, match=r"stages.rpc.injection.max_turns"):
        validated(rpc_config(dup, injection={"max_turns": 4}))

    labeled = tmp_path / "labeled"
    record = transform_one(make_session(), Scripted())
    writer = CorpusWriter(str(labeled), RPC_SESSION_SCHEMA, 10)
    writer.add(pa.Table.from_pylist([record.model_dump()], schema=RPC_SESSION_SCHEMA))
    writer.close()
    with pytest.raises(InputError, match="expected 'session' records, found 'rpc_session'"):
        validated(rpc_config(str(labeled)))


def test_records_round_trip_through_arrow():
    record = transform_one(make_session(), Scripted())
    table = pa.Table.from_pylist([record.model_dump()], schema=RPC_SESSION_SCHEMA)
    assert RPCSession.model_validate(table.to_pylist()[0]) == record


def test_seeded_sessions_decide_the_same_on_a_rerun():
    a = transform_one(make_session("x"), Scripted(), rpc_config(injection={"rate": 0.5, "window_turns": 6}))
    b = transform_one(make_session("x"), Scripted(), rpc_config(injection={"rate": 0.5, "window_turns": 6}))
    assert a.episode == b.episode and [t.text for t in a.turns] == [t.text for t in b.turns]


def test_token_budgets_are_checked_against_answer_lengths():
    cfg = rpc_config(profile={"field_max_chars": 300})
    cfg.roles["profiler"].max_tokens = 200
    warnings = budget_warnings(cfg.roles, cfg.stages.rpc, ["en", "zh"])
    assert any(w.startswith("roles.profiler.max_tokens=200 may cut off en answers of up to 1500") for w in warnings)
    assert any(w.startswith("roles.rewriter.max_tokens=256 may cut off zh") for w in warnings)


def test_bundled_rpc_yaml_validates_and_requires_an_input(repo, tmp_path, capsys):
    from counselsim import cli
    from counselsim.config import load_config

    cfg = load_config(repo / "pipelines" / "rpc.yaml", [f"run.input={tmp_path}"])
    settings = cfg.stages.rpc
    assert settings.injection.max_turns == 3
    assert set(cfg.roles) == {"client", "counselor", "profiler", "rewriter", "labeler"}
    assert settings.injection.enabled and settings.injection.continuation == "check"
    assert not settings.selection.active
    assert budget_warnings(cfg.roles, settings, ["en"]) == []  # the embedded default speaks English
    assert cli.main(["run", str(repo / "pipelines" / "rpc.yaml"), "--out", str(tmp_path / "out")]) == 2
    assert "set run.input or pass --input" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing is written before the inputs validate
