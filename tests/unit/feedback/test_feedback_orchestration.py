"""The feedback stage orchestrated end to end on scripted engines: `run_pipeline` on an rpc corpus (corpus labels)
and on a plain session corpus (labeler first), unparseable judgements recorded, resume, agreement in the manifest,
and input errors before anything is written."""
from __future__ import annotations

import json
import re

import polars as pl
import pytest

from counselsim.config import parse_config
from counselsim.engines import scripted
from counselsim.errors import InputError
from counselsim.runtime.driver import run_pipeline
from counselsim.schemas.arrow import RPC_SESSION_SCHEMA, SESSION_SCHEMA
from counselsim.schemas.feedback import MECHANISMS
from feedback_builders import RESISTANT, rpc_record, write_input
from rpc_builders import make_session

def judge_answer(user: str) -> str:
    reply = user.rsplit("Counselor Reply:", 1)[-1]
    if "Take care" in reply:
        return "I cannot rate this."  # never parses: the item is recorded unparseable
    strong = "feel" in reply
    return "Rating:\n" + json.dumps({**dict.fromkeys(MECHANISMS, 2 if strong else 0),
                                     "explanation": f"The client disagrees; the reply says '{reply.strip()[:30]}'."})


def script(messages, sampling) -> str:
    system, user = messages[0]["content"], messages[-1]["content"]
    if "Communication Mechanisms" in system:
        return judge_answer(user)
    response = user.rsplit("Client Response:", 1)[-1]
    if "Collaboration" in system:  # the labeler's binary step
        return f"Behavior: {'Resistance' if 'don' in response else 'Collaboration'}\nReason: r"
    return "Behavior: Denying - Disagreeing\nReason: the client rejects the suggestion"


@pytest.fixture
def scripted_engines(monkeypatch):
    monkeypatch.setattr(scripted, "default_script", script)


def feedback_config(input_path: str, output: str, **feedback) -> object:
    return parse_config({
        "pipeline": "feedback",
        "run": {"input": input_path, "output": output, "progress": False, "executor": "local", "rows_per_shard": 2},
        "models": {"m": {"path": "scripted", "backend": "scripted"}},
        "roles": {"judge": {"model": "m", "max_tokens": 256}, "labeler": {"model": "m", "max_tokens": 64}},
        "retry": {"attempts": 1, "initial_backoff_s": 0, "max_backoff_s": 0, "timeout_s": 5},
        "stages": {"feedback": feedback},
    }, "test_feedback_orchestration")


def read(out) -> pl.DataFrame:
    return pl.read_parquet(f"{out}/data/*.parquet")


def test_an_rpc_corpus_is_rated_from_its_labels(tmp_path, scripted_engines):
    records = [rpc_record("s-1", 0), rpc_record("s-2", 1)]
    records[1].turns[6].text = RESISTANT  # s-2 also resists before its closing reply (turn 7)
    records[1].turns[6].label_binary, records[1].turns[6].label = "resistance", "denying.disagreeing"
    records[1].turns[6].label_group = "denying"
    source = write_input(tmp_path / "rpc", records, RPC_SESSION_SCHEMA, "rpc")
    experts = tmp_path / "experts.jsonl"
    experts.write_text("\n".join(json.dumps({"session_id": s, "turn": 5, **dict.fromkeys(MECHANISMS, 2)})
                                 for s in ("s-1", "s-2")))
    out = tmp_path / "feedback"
    manifest = run_pipeline(feedback_config(source, str(out), expert_ratings=str(experts)))

    frame = read(out)
    assert frame["item_id"].to_list() == ["s-1#00005", "s-2#00005", "s-2#00007"]
    assert set(frame["resistance_label"]) == {"denying.disagreeing"} and set(frame["label_source"]) == {"corpus"}
    ok = frame.filter(pl.col("judge_status") == "ok")
    assert ok.height == 2 and ok["respect_for_autonomy"].to_list() == [2, 2]  # "How do those calls feel to you?"
    assert ok["explanation"].str.contains("The client disagrees").all()
    bad = frame.filter(pl.col("judge_status") == "unparseable").row(0, named=True)
    assert bad["turn"] == 7 and bad["judge_output"] == "I cannot rate this." and bad["judge_attempts"] == 2
    assert all(bad[m] is None for m in MECHANISMS) and bad["explanation"] is None
    assert frame["judge"].unique().to_list() == ["scripted (scripted backend)"]

    summary = manifest["feedback"]
    assert summary["selection"]["after_resistance"] == 3 and summary["selection"]["after_collaboration"] == 5
    assert (summary["judged"], summary["unparseable"]) == (3, 1)
    autonomy = summary["agreement"]["mechanisms"]["respect_for_autonomy"]
    assert summary["agreement"]["compared"] == 2 and autonomy["macro_f1"] == 1.0
    assert manifest["record_type"] == "feedback" and manifest["counts"]["rows"] == 3
    card = (out / "README.md").read_text()
    assert "prompted judge" in card and "3 counselor replies" in card and "macro-F1" in card

    # A rerun resumes: nothing is judged again and the corpus is the same.
    again = run_pipeline(feedback_config(source, str(out), expert_ratings=str(experts)))
    assert again["counts"]["rows"] == 3 and again["throughput"]["new_records"] == 0
    assert read(out).equals(frame)


def test_a_session_corpus_is_labeled_first(tmp_path, scripted_engines):
    sessions = [make_session("s-1", 0, pairs=4)]
    sessions[0].turns[4].text = RESISTANT
    source = write_input(tmp_path / "sessions", sessions, SESSION_SCHEMA, "simpsydial")
    out = tmp_path / "feedback"
    manifest = run_pipeline(feedback_config(source, str(out)))
    frame = read(out)
    assert frame["item_id"].to_list() == ["s-1#00005"]
    assert frame.row(0, named=True)["label_source"] == "labeler"
    assert frame.row(0, named=True)["resistance_label"] == "denying.disagreeing"
    assert manifest["drops"] == {"client_not_resistant": 3}
    assert manifest["feedback"]["selection"]["to_label"] == 4


def test_input_problems_stop_the_run_before_anything_is_written(tmp_path, scripted_engines):
    sessions = write_input(tmp_path / "sessions", [make_session("s-1", 0)], SESSION_SCHEMA, "simpsydial")
    out = tmp_path / "feedback"
    with pytest.raises(InputError, match="labels is 'corpus'.*'session' records"):
        run_pipeline(feedback_config(sessions, str(out), labels="corpus"))
    cfg = parse_config({**feedback_config(sessions, str(out)).model_dump(mode="json"),
                        "roles": {"judge": {"model": "m"}}}, "test")
    with pytest.raises(InputError, match="add a 'labeler' role"):
        run_pipeline(cfg)
    bad = tmp_path / "experts.jsonl"
    bad.write_text('{"session_id": "s-1", "turn": 1}\n')
    with pytest.raises(InputError, match=re.escape(f"{bad}:1: field 'respect_for_autonomy'")):
        run_pipeline(feedback_config(sessions, str(out), expert_ratings=str(bad)))
    assert not out.exists()
