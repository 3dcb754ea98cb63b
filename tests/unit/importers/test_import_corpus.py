"""`counselsim import`: both formats, every bad-record class (one message naming file, record and field, exit 2,
nothing written), --skip-invalid with its rejection report, and imported corpora read by verify, dedup and
export."""
import json

import polars as pl
import pytest
from counselsim.cli import main
from counselsim.commands.verify import verify
from counselsim.schemas.arrow import table_to_sessions
from helpers import SAMPLE

GOOD = [{"role": "client", "content": "你好"}, {"role": "counselor", "content": "你好，最近怎么样？"},
        {"role": "client", "content": "最近总是失眠，很焦虑。"}, {"role": "counselor", "content": "失眠多久了？"}]


def write_dialogues(folder, dialogues):
    folder.mkdir(parents=True, exist_ok=True)
    for n, d in dialogues.items():
        (folder / f"{n}.json").write_bytes(d if isinstance(d, bytes) else json.dumps(d, ensure_ascii=False).encode())
    return folder


def sessions(out):
    return [s for shard in sorted((out / "data").glob("*.parquet")) for s in table_to_sessions(pl.read_parquet(shard).to_arrow())]


def test_interactive_agents_folder_with_complaints(tmp_path):
    out = tmp_path / "ia"
    assert main(["import", "--format", "interactive-agents", str(SAMPLE / "dialogues"), "--out", str(out)]) == 0
    assert verify(str(out)) == []
    got = sessions(out)
    assert len(got) == 40 and [s.session_id for s in got[:3]] == ["ia-0", "ia-1", "ia-2"]
    first = got[0]
    release = json.loads((SAMPLE / "dialogues" / "0.json").read_text())
    complaints = json.loads((SAMPLE / "dialogues" / "chief_complaints.json").read_text())
    assert [(t.speaker, t.text) for t in first.turns] == [(m["role"], m["content"]) for m in release]
    assert first.origin == "imported" and first.language == "zh"
    assert first.role_card.chief_complaint == complaints[0].strip()
    assert (first.source.format, first.source.file, first.source.index) == ("interactive-agents", "0.json", 0)
    assert first.client is None and first.seed is None and first.termination_reason is None
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "import" and manifest["counts"]["imported"] == 40
    assert manifest["import"]["complaints"].endswith("chief_complaints.json")
    card = (out / "README.md").read_text()
    assert "imported" in card.lower() and "interactive-agents" in card


def test_messages_keeps_the_system_prompt_and_maps_roles(tmp_path):
    out = tmp_path / "chat"
    assert main(["import", "--format", "messages", str(SAMPLE / "chat_format" / "data.json"), "--out", str(out)]) == 0
    assert verify(str(out)) == []
    records = json.loads((SAMPLE / "chat_format" / "data.json").read_text())
    got = sessions(out)
    assert len(got) == 10
    assert got[0].source.counselor_prompt == records[0]["messages"][0]["content"]
    assert [t.text for t in got[0].turns] == [m["content"] for m in records[0]["messages"][1:]]
    assert got[0].role_card.chief_complaint is None
    # The same dialogues as the release's folder.
    release = json.loads((SAMPLE / "dialogues" / "3.json").read_text())
    assert [(t.speaker, t.text) for t in got[3].turns] == [(m["role"], m["content"]) for m in release]


def test_sharegpt_jsonl_and_client_role_option(tmp_path):
    src = tmp_path / "chats.jsonl"
    rows = [{"conversations": [{"from": "gpt", "value": "Hello there"}, {"from": "human", "value": "Hi, how can I help?"}]},
            {"system": "be kind", "conversations": [{"from": "gpt", "value": "I feel low"}, {"from": "human", "value": "Tell me more"}]}]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    out = tmp_path / "out"
    assert main(["import", "--format", "messages", str(src), "--out", str(out), "--client-role", "assistant"]) == 0
    got = sessions(out)
    assert [(t.speaker, t.text) for t in got[0].turns] == [("client", "Hello there"), ("counselor", "Hi, how can I help?")]
    assert got[1].language == "en" and got[1].source.counselor_prompt == "be kind"
    assert [s.session_id for s in got] == ["chat-0", "chat-1"]


BAD = {
    "wrong role": ([{"role": "client", "content": "你好"}, {"role": "therapist", "content": "嗨"}], "[1].role"),
    "empty turn": ([{"role": "client", "content": "你好"}, {"role": "counselor", "content": "  "}], "[1].content"),
    "not alternating": ([{"role": "client", "content": "你好"}, {"role": "client", "content": "在吗"}], "[1].role"),
    "counselor first": ([{"role": "counselor", "content": "你好"}, {"role": "client", "content": "嗨"}], "[0].role"),
    "missing field": ([{"role": "client"}, {"role": "counselor", "content": "嗨"}], "[0].content"),
    "undecodable": ("你好".encode("gb18030") + b"\xff", "(file)"),
    "not a list": ({"role": "client"}, "(record)"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_record_stops_the_import(tmp_path, capsys, case):
    record, field = BAD[case]
    src = write_dialogues(tmp_path / "src", {0: GOOD, 1: record if isinstance(record, bytes) else record})
    if isinstance(record, bytes):
        (src / "1.json").write_bytes(record)
    out = tmp_path / "out"
    assert main(["import", "--format", "interactive-agents", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "1 of 2 records are invalid, nothing written" in err
    assert str(src / "1.json") in err and f"field '{field}'" in err
    assert not out.exists()


def test_messages_bad_record_names_record_and_field(tmp_path, capsys):
    src = tmp_path / "d.json"
    src.write_text(json.dumps([{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
                               {"messages": [{"role": "system", "content": "p"}, {"role": "user", "content": "hi"},
                                             {"role": "tool", "content": "x"}]},
                               {"turns": []}]))
    assert main(["import", "--format", "messages", str(src), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{src}: record 1: field 'messages[2].role'" in err
    assert f"{src}: record 2: field 'messages': missing" in err
    assert not (tmp_path / "o").exists()


def test_skip_invalid_writes_the_rest_and_a_report(tmp_path):
    src = write_dialogues(tmp_path / "src", {0: GOOD, 1: BAD["empty turn"][0], 2: GOOD})
    out = tmp_path / "out"
    assert main(["import", "--format", "interactive-agents", str(src), "--out", str(out), "--skip-invalid"]) == 0
    assert [s.session_id for s in sessions(out)] == ["ia-0", "ia-2"]
    report = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert report == [{"file": str(src / "1.json"), "record": 1,
                       "problems": [{"field": "[1].content", "problem": "empty turn"}]}]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"input": 3, "imported": 2, "rejected": 1, "rows": 2}
    assert verify(str(out)) == []


def test_complaints_file_must_cover_every_dialogue(tmp_path, capsys):
    src = write_dialogues(tmp_path / "src", {0: GOOD, 1: GOOD})
    (tmp_path / "c.json").write_text(json.dumps(["只有第一条的主诉问题"]))
    assert main(["import", "--format", "interactive-agents", str(src), "--out", str(tmp_path / "o"),
                 "--complaints", str(tmp_path / "c.json")]) == 2
    assert "record 1: field 'chief_complaint': missing" in capsys.readouterr().err


def test_imported_corpus_feeds_dedup_and_export(tmp_path):
    src = write_dialogues(tmp_path / "src", {0: GOOD, 1: GOOD, 2: [*GOOD[:2], {"role": "client", "content": "我和同事吵架了，心里很难受。"},
                                                                  {"role": "counselor", "content": "发生了什么？"}]})
    out, dedup, sft = tmp_path / "c", tmp_path / "d", tmp_path / "sft.jsonl"
    assert main(["import", "--format", "interactive-agents", str(src), "--out", str(out)]) == 0
    assert main(["dedup", "--input", str(out), "--out", str(dedup)]) == 0
    assert verify(str(dedup)) == []
    assert sorted(s.session_id for s in sessions(dedup)) == ["ia-0", "ia-2"]  # ia-1 repeats ia-0
    assert main(["export", "--format", "sft", "--input", str(dedup), "--out", str(sft)]) == 0
    samples = [json.loads(line) for line in sft.read_text().splitlines()]
    assert len(samples) == 4 and samples[0]["messages"][-1]["content"] == GOOD[1]["content"]


def test_refuses_an_output_holding_a_corpus(tmp_path, capsys):
    src = write_dialogues(tmp_path / "src", {0: GOOD})
    out = tmp_path / "out"
    assert main(["import", "--format", "interactive-agents", str(src), "--out", str(out)]) == 0
    assert main(["import", "--format", "interactive-agents", str(src), "--out", str(out)]) == 2
    assert "already holds a corpus" in capsys.readouterr().err
