"""Client-side export (--target client): one sample per reasoned client turn, the live client's prompt as input,
its reasoning and utterance as target."""
import argparse
import json

import pytest
from audit_builders import PROFILE, card, labeled_table, session, write_corpus
from counselsim.commands import export as export_command
from counselsim.corpus import storage
from counselsim.errors import InputError
from counselsim.export.client import export_client
from counselsim.schemas.arrow import sessions_to_table
from counselsim.schemas.reasoning import Motivation, Profile5P

STEPS = {"profile_reflection": "I hate failing.", "situation_awareness": "She pushes advice.",
         "reaction_decision": "I push back."}
TURNS = [("client", "Hello"), ("counselor", "What brings you here?"), ("client", "I cannot sleep."),
         ("counselor", "You should sleep earlier."), ("client", "That's not the problem."), ("counselor", "Take care.")]
TYPES = {2: "non_resistant", 4: "defensive"}


def live_session(session_id="live-0"):
    s = session(session_id, TURNS)
    turns = [t.model_copy(update={"reaction_type": TYPES[t.index], "motivation": Motivation(**STEPS)})
             if t.index in TYPES else t for t in s.turns]
    return s.model_copy(update={"turns": turns, "client_profile": Profile5P(**PROFILE)})


def run(*argv):
    parser = argparse.ArgumentParser()
    export_command.register(parser.add_subparsers())
    args = parser.parse_args(["export", *argv])
    return args.handler(args)


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_one_sample_per_reasoned_client_turn_with_the_live_prompt(tmp_path):
    write_corpus(str(tmp_path / "corpus"), [live_session(), session("plain", TURNS)])
    out = tmp_path / "client.jsonl"
    assert run("--input", str(tmp_path / "corpus"), "--out", str(out), "--format", "sft", "--target", "client") == 0
    rows = read_jsonl(out)
    assert [(r["session_id"], r["turn_index"], r["reaction_type"]) for r in rows] == [
        ("live-0", 2, "non_resistant"), ("live-0", 4, "defensive")]
    last = rows[1]["messages"]
    assert [m["role"] for m in last] == ["system", "assistant", "user", "assistant", "user", "assistant"]
    assert "exam" in last[0]["content"] and "- Presenting: p" in last[0]["content"]  # role card and 5P profile
    assert last[3]["content"] == "I cannot sleep."  # history: utterances only
    target = json.loads(last[-1]["content"])
    assert target == {**STEPS, "reaction_type": "defensive", "utterance": "That's not the problem."}
    assert rows[1]["motivation"] == STEPS


def test_think_tags_and_sharegpt_and_parquet(tmp_path):
    write_corpus(str(tmp_path / "corpus"), [live_session()])
    out = tmp_path / "client.parquet"
    assert run("--input", str(tmp_path / "corpus"), "--out", str(out), "--format", "sft", "--target", "client",
               "--style", "sharegpt", "--reasoning", "think") == 0
    rows = storage.read_parquet(str(out)).to_pylist()
    answer = rows[0]["conversations"][-1]
    assert answer["from"] == "gpt"
    assert answer["value"].startswith("<think>\nprofile_reflection: I hate failing.\n")
    assert answer["value"].endswith("reaction_type: non_resistant\n</think>\nI cannot sleep.")


def test_rpc_records_give_their_injected_turns(tmp_path):
    rewritten = {"injected": True, "reaction_type": "avoidant", "reaction_source": "injected", "motivation": STEPS,
                 "original_text": "I cannot sleep.", "label_status": "ok", "label_binary": "resistance",
                 "label": "avoiding.minimum_talk", "label_group": "avoiding", "reaction_label": "avoidant",
                 "reaction_label_status": "ok"}
    collaborate = {"label_binary": "collaboration", "label": "collaboration", "label_group": "collaboration",
                   "label_status": "ok", "reaction_label": "non_resistant", "reaction_label_status": "ok"}
    table = labeled_table([session("r0", TURNS)], {("r0", 0): collaborate, ("r0", 2): rewritten,
                                                    ("r0", 4): collaborate},
                          {"r0": {"turn_indices": [2], "reaction_type": "avoidant"}})
    write_corpus(str(tmp_path / "corpus"), table, {"record_type": "rpc_session", "counts": {}})
    out = tmp_path / "client.jsonl"
    assert export_client(str(tmp_path / "corpus"), str(out)) == 1
    (row,) = read_jsonl(out)
    assert row["turn_index"] == 2 and row["reaction_type"] == "avoidant"


def test_a_plain_corpus_is_refused_and_nothing_written(tmp_path):
    write_corpus(str(tmp_path / "corpus"), sessions_to_table([session("plain", TURNS)]))
    with pytest.raises(InputError, match="no client turn carries motivation reasoning"):
        export_client(str(tmp_path / "corpus"), str(tmp_path / "client.jsonl"))
    assert list(tmp_path.glob("client*")) == [] and list(tmp_path.glob(".tmp-*")) == []
    with pytest.raises(InputError, match="--format sft"):
        run("--input", str(tmp_path / "corpus"), "--out", str(tmp_path / "x.jsonl"), "--format", "preference",
            "--target", "client")


def test_chinese_sessions_get_the_chinese_prompt(tmp_path):
    s = live_session()
    zh = s.model_copy(update={"language": "zh", "role_card": card("z0", "zh", "我考试失败以后一直睡不着觉。")})
    write_corpus(str(tmp_path / "corpus"), [zh])
    export_client(str(tmp_path / "corpus"), str(tmp_path / "c.jsonl"))
    assert "来访者" in read_jsonl(tmp_path / "c.jsonl")[0]["messages"][0]["content"]
