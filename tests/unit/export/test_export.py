"""SFT export: one sample per counselor reply, system prompt first; the files load with `datasets` and round-trip."""
import argparse
import json
import os

import pyarrow as pa
import pytest
from audit_builders import card, session, write_corpus
from counselsim.commands import export as export_command
from counselsim.corpus import storage
from counselsim.errors import InputError
from counselsim.export.sft import STYLES, export_sft, samples
from counselsim.simpsydial.agents import counselor_system_prompt

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

EN = [("client", "Hello"), ("counselor", "Hi, what brings you here?"), ("client", "I cannot sleep."),
      ("counselor", "Take care.")]
ZH = [("client", "你好"), ("counselor", "你好，说说吧"), ("client", "我睡不着"), ("counselor", "保重")]


@pytest.fixture()
def corpus(tmp_path):
    write_corpus(str(tmp_path / "corpus"), [
        session("en0", EN),
        session("zh0", ZH, role_card=card("z0", "zh", "我考试失败以后一直睡不着觉。"), language="zh"),
        session("en1", EN[:2]),
    ])
    return str(tmp_path / "corpus")


def expected(style: str) -> list[dict]:
    out = []
    for session_id, language, turns in [("en0", "en", EN), ("zh0", "zh", ZH), ("en1", "en", EN[:2])]:
        rows = [{"index": i, "speaker": s, "text": t} for i, (s, t) in enumerate(turns)]
        out += list(samples(session_id, language, rows, STYLES[style]))
    return out


def test_samples_end_with_each_counselor_reply():
    rows = [{"index": i, "speaker": s, "text": t} for i, (s, t) in enumerate(EN)]
    got = list(samples("en0", "en", rows, STYLES["openai"]))
    system = {"role": "system", "content": counselor_system_prompt("en")}
    assert got == [
        {"messages": [system, {"role": "user", "content": "Hello"},
                      {"role": "assistant", "content": "Hi, what brings you here?"}],
         "session_id": "en0", "turn_index": 1},
        {"messages": [system, {"role": "user", "content": "Hello"},
                      {"role": "assistant", "content": "Hi, what brings you here?"},
                      {"role": "user", "content": "I cannot sleep."}, {"role": "assistant", "content": "Take care."}],
         "session_id": "en0", "turn_index": 3},
    ]


def test_sharegpt_roles():
    rows = [{"index": i, "speaker": s, "text": t} for i, (s, t) in enumerate(ZH)]
    first = next(samples("zh0", "zh", rows, STYLES["sharegpt"]))
    assert first["conversations"] == [{"from": "system", "value": counselor_system_prompt("zh")},
                                      {"from": "human", "value": "你好"}, {"from": "gpt", "value": "你好，说说吧"}]


@pytest.mark.parametrize("style", ["openai", "sharegpt"])
@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_export_loads_with_datasets_and_round_trips(corpus, tmp_path, style, file_format):
    import datasets

    out = str(tmp_path / f"sft.{file_format}")
    assert export_sft(corpus, out, style, file_format) == 5
    builder = "json" if file_format == "jsonl" else "parquet"
    loaded = datasets.load_dataset(builder, data_files=out, split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded.to_list() == expected(style)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


def test_command_infers_the_file_format(corpus, tmp_path):
    parser = argparse.ArgumentParser()
    export_command.register(parser.add_subparsers())
    out = tmp_path / "sft.parquet"
    args = parser.parse_args(["export", "--input", corpus, "--out", str(out), "--format", "sft"])
    assert args.handler(args) == 0
    assert storage.read_parquet(str(out)).num_rows == 5
    out = tmp_path / "sft.jsonl"
    args = parser.parse_args(["export", "--input", corpus, "--out", str(out), "--format", "sft", "--style", "sharegpt"])
    assert args.handler(args) == 0
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == expected("sharegpt")


def test_other_records_are_refused(tmp_path):
    table = pa.table({"session_id": ["x"], "language": ["en"], "turns": [[]]})
    storage.write_parquet(table.replace_schema_metadata({"counselsim.record": "role_card"}),
                          str(tmp_path / "corpus" / "data" / "shard-00000.parquet"))
    with pytest.raises(InputError, match="found 'role_card'"):
        export_sft(str(tmp_path / "corpus"), str(tmp_path / "sft.jsonl"))
    assert not (tmp_path / "sft.jsonl").exists()
