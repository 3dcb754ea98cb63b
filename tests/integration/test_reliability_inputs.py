"""Bad input gives one clear message naming the file, the line or record, and the field; a non-zero exit; and no
output. And `counselsim verify` finds every kind of damage to a finished corpus.

Everything goes through `counselsim.cli.main`, as on the command line.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from counselsim.cli import main
from helpers import REPO

PIPELINE = REPO / "pipelines" / "simpsydial.yaml"
SCRIPTED = ["--set", "models.default.backend=scripted", "--set", "models.default.path=scripted",
            "--set", "run.executor=local", "--set", "run.progress=false", "--set", "run.rows_per_shard=2"]
CARDS = (REPO / "role_cards" / "en" / "train.jsonl").read_text(encoding="utf-8").splitlines()


def card(**changes) -> dict:
    data = json.loads(CARDS[1])
    data.update(changes)
    return data


def without(field: str) -> dict:
    data = card()
    del data[field]
    return data


def fails(capsys, args: list[str], *expected: str) -> str:
    """The command exits with 2 and one message holding every expected part; returns the message."""
    code = main(args)
    err = capsys.readouterr().err
    message = [line for line in err.splitlines() if line.startswith("counselsim: error:")]
    assert code == 2, err
    assert message, err
    for part in expected:
        assert part in err, f"{part!r} not in {err!r}"
    assert "Traceback" not in err
    return err


# --- role-card pools ----------------------------------------------------------------------------------------

POOLS = {
    "invalid JSON": ([CARDS[0], '{"id": "en-x", "language": "en",'], [":2:", "invalid JSON"]),
    "missing field": ([CARDS[0], json.dumps(without("age"))], [":2:", "field 'age'", "Field required"]),
    "mistyped field": ([CARDS[0], json.dumps(card(age="old"))], [":2:", "field 'age'", "integer"]),
    "mistyped nested field": ([CARDS[0], json.dumps(card(big_five={**card()["big_five"], "openness": {"level": "extreme"}}))],
                              [":2:", "field 'big_five.openness.level'"]),
    "unknown key": ([CARDS[0], json.dumps(card(mood="grey"))], [":2:", "field 'mood'", "unknown field"]),
    "not an object": ([CARDS[0], "[1, 2]"], [":2:", "must be a JSON object"]),
    "duplicate id": ([CARDS[0], CARDS[1], json.dumps(card())], [":3:", "field 'id'", "duplicate id", "line 2"]),
    "empty file": ([], ["role-card pool is empty"]),
}


@pytest.mark.parametrize("case", sorted(POOLS))
def test_bad_role_card_pool(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    lines, expected = POOLS[case]
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    out = tmp_path / "corpus"
    fails(capsys, ["run", str(PIPELINE), "--out", str(out), "--set", f"role_cards.pools=[{pool}]", *SCRIPTED],
          str(pool), *expected)
    assert not out.exists()


def test_role_card_pool_in_the_wrong_encoding(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    pool = tmp_path / "pool.jsonl"
    pool.write_bytes((CARDS[0] + "\n").encode() + json.dumps(card(occupation="Café owner"), ensure_ascii=False).encode("latin-1"))
    out = tmp_path / "corpus"
    fails(capsys, ["run", str(PIPELINE), "--out", str(out), "--set", f"role_cards.pools=[{pool}]", *SCRIPTED],
          f"{pool}:2:", "not UTF-8")
    assert not out.exists()


def test_the_same_card_in_two_pools(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(CARDS[0] + "\n", encoding="utf-8")
    b.write_text(CARDS[1] + "\n" + CARDS[0] + "\n", encoding="utf-8")
    out = tmp_path / "corpus"
    fails(capsys, ["run", str(PIPELINE), "--out", str(out), "--set", f"role_cards.pools=[{a}, {b}]", *SCRIPTED],
          str(b), "field 'id'", "duplicate id", str(a))
    assert not out.exists()


def test_role_card_tools_report_bad_pools_too(tmp_path, capsys):
    pool = tmp_path / "pool.jsonl"
    pool.write_text(CARDS[0] + "\n" + json.dumps(card(age=7)) + "\n", encoding="utf-8")
    fails(capsys, ["role-cards", "stats", str(pool)], f"{pool}:2:", "field 'age'")
    train, test = tmp_path / "split" / "train.jsonl", tmp_path / "split" / "test.jsonl"
    fails(capsys, ["role-cards", "split", str(pool), "--train", str(train), "--test", str(test)], f"{pool}:2:", "field 'age'")
    assert not (tmp_path / "split").exists()


# --- pipeline configs ---------------------------------------------------------------------------------------

CONFIG = PIPELINE.read_text(encoding="utf-8")


def edit(old: str, new: str) -> str:
    assert old in CONFIG
    return CONFIG.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def edit_re(pattern: str, new: str) -> str:
    text, n = re.subn(pattern, new, CONFIG, count=1, flags=re.M)
    assert n == 1
    return text


CONFIGS = {
    "invalid YAML": (edit("  seed: 0\n", "  seed: 0: 1\n"), "seed: 0: 1", ["invalid YAML"]),
    "unclosed bracket": (edit("  seed: 0\n", "  seed: [0\n"), "seed: [0", ["invalid YAML", "flow sequence on line"]),
    "missing field": (edit("client: {model: default, ", "client: {"), "client:",
                      ["field 'roles.client.model'", "Field required"]),
    "mistyped field": (edit_re(r"^  sessions: .*$", "  sessions: many"), "sessions: many",
                       ["field 'run.sessions'", "integer"]),
    "mistyped nested field": (edit_re(r"(counselor: \{model: default, temperature: )[^,]+", r"\1warm"), "counselor:",
                              ["field 'roles.counselor.temperature'", "number"]),
    "unknown key": (edit("  seed: 0\n", "  seed: 0\n  sesions: 5\n"), "sesions", ["field 'run.sesions'", "unknown key"]),
    "unknown model": (edit("counselor: {model: default", "counselor: {model: big"), "counselor:",
                      ["field 'roles.counselor.model'", "'big'"]),
    "duplicate key": (edit("  seed: 0\n", "  seed: 0\n  seed: 1\n"), "seed: 1",
                      ["field 'run.seed'", "given twice", f"line {line_of(CONFIG, '  seed: 0')}"]),
    "empty file": ("", None, ["config file is empty"]),
    "not a mapping": ("- a\n- b\n", None, ["top level must be a mapping"]),
}


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_bad_config(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    text, needle, expected = CONFIGS[case]
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(text, encoding="utf-8")
    out = tmp_path / "corpus"
    line = line_of(text, needle) + (case == "unclosed bracket") if needle else None  # YAML notices on the next line
    where = f"{cfg}:{line}:" if needle else str(cfg)
    fails(capsys, ["run", str(cfg), "--out", str(out), *SCRIPTED], where, *expected)
    assert not out.exists()


def test_config_in_the_wrong_encoding(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_bytes(edit("# SimPsyDial generation", "# SimPsyDial génération").encode("latin-1", errors="replace"))
    out = tmp_path / "corpus"
    fails(capsys, ["run", str(cfg), "--out", str(out), *SCRIPTED], f"{cfg}:1:", "not UTF-8")
    assert not out.exists()


def test_bad_override(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    out = tmp_path / "corpus"
    fails(capsys, ["run", str(PIPELINE), "--out", str(out), *SCRIPTED, "--set", "run.max_in_flight=0"],
          str(PIPELINE), "field 'run.max_in_flight'", "greater than or equal to 1")
    fails(capsys, ["run", str(PIPELINE), "--out", str(out), *SCRIPTED, "--set", "session.max_turns=3"],
          "field 'session.max_turns'", "unknown key")
    assert not out.exists()


# --- corpora ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A finished corpus of 6 sessions in 3 shards."""
    out = tmp_path_factory.mktemp("corpus") / "corpus"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        assert main(["run", str(PIPELINE), "--out", str(out), "--sessions", "6", *SCRIPTED]) == 0
    return out


def copy(corpus: Path, tmp_path: Path) -> Path:
    target = tmp_path / "in"
    shutil.copytree(corpus, target, ignore=shutil.ignore_patterns("staging"))
    return target


def corrupt(folder: Path) -> tuple[Path, list[str]]:
    path = folder / "data" / "shard-00001.parquet"
    path.write_bytes(b"PAR1 this is not parquet at all")
    return path, ["not a readable Parquet file"]


def foreign(folder: Path) -> tuple[Path, list[str]]:
    path = folder / "data" / "shard-00003.parquet"
    pq.write_table(pa.table({"id": [1, 2], "text": ["a", "b"]}), path)
    return path, []


READERS = {
    "dedup": lambda src, dst: ["dedup", "--input", str(src), "--out", str(dst)],
    "audit": lambda src, dst: ["audit", "--input", str(src), "--out", str(dst), "--embedding-model", "none"],
    "export": lambda src, dst: ["export", "--input", str(src), "--out", str(dst / "sft.jsonl"), "--format", "sft"],
    "rpc": lambda src, dst: ["run", str(REPO / "pipelines" / "rpc.yaml"), "--input", str(src), "--out", str(dst),
                             "--set", "run.executor=local"],
}


@pytest.mark.parametrize("damage", [corrupt, foreign], ids=["corrupted", "foreign"])
@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_corpus_with_a_bad_parquet_file(reader, damage, corpus, tmp_path, capsys, monkeypatch):
    """The manifest check refuses it first; with --no-verify the shard itself is still refused by name."""
    monkeypatch.chdir(REPO)
    src = copy(corpus, tmp_path)
    bad, expected = damage(src)
    out = tmp_path / "out"
    fails(capsys, READERS[reader](src, out), "does not match its manifest", f"data/{bad.name}")
    fails(capsys, [*READERS[reader](src, out), "--no-verify"], str(bad), *expected)
    assert not out.exists()


def test_duplicate_session_ids_in_an_input_corpus(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    src = copy(corpus, tmp_path)
    shutil.copy(src / "data" / "shard-00000.parquet", src / "data" / "shard-00003.parquet")
    out = tmp_path / "out"
    fails(capsys, [*READERS["rpc"](src, out), "--no-verify"], "shard-00003.parquet", "record 0", "field 'session_id'")
    assert not out.exists()


# --- verify -------------------------------------------------------------------------------------------------

def set_manifest(folder: Path, change) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def missing_shard(folder: Path) -> None:
    (folder / "data" / "shard-00001.parquet").unlink()


def extra_shard(folder: Path) -> None:
    shutil.copy(folder / "data" / "shard-00000.parquet", folder / "data" / "shard-00003.parquet")


def changed_byte(folder: Path) -> None:
    path = folder / "data" / "shard-00001.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def truncated(folder: Path) -> None:
    path = folder / "data" / "shard-00002.parquet"
    path.write_bytes(path.read_bytes()[:100])


def row_count(folder: Path) -> None:
    def change(m):
        m["shards"][0]["rows"] += 1
    set_manifest(folder, change)


def total_rows(folder: Path) -> None:
    def change(m):
        m["counts"]["rows"] = 7
    set_manifest(folder, change)


def schema(folder: Path) -> None:
    """A shard with one column retyped, its checksum and rows updated in the manifest so only the schema differs."""
    path = folder / "data" / "shard-00000.parquet"
    table = pq.read_table(path)
    i = table.schema.get_field_index("num_turn_pairs")
    table = table.set_column(i, pa.field("num_turn_pairs", pa.string()), table.column(i).cast(pa.string()))
    pq.write_table(table, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    def change(m):
        m["shards"][0].update(sha256=digest, bytes=path.stat().st_size)
    set_manifest(folder, change)


def record_type(folder: Path) -> None:
    path = folder / "data" / "shard-00000.parquet"
    table = pq.read_table(path)
    pq.write_table(table.replace_schema_metadata({b"counselsim.record": b"rpc_session"}), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    def change(m):
        m["shards"][0].update(sha256=digest, bytes=path.stat().st_size)
    set_manifest(folder, change)


VERIFY = {
    "missing shard": (missing_shard, "shard-00001.parquet: listed in the manifest but missing"),
    "extra shard": (extra_shard, "shard-00003.parquet: shard not listed in the manifest"),
    "changed byte": (changed_byte, "shard-00001.parquet: checksum"),
    "truncated shard": (truncated, "shard-00002.parquet: checksum"),
    "row count": (row_count, "shard-00000.parquet: 2 rows, manifest says 3"),
    "total rows": (total_rows, "counts.rows=7 but its shards hold 6"),
    "schema": (schema, "shard-00000.parquet: schema differs"),
    "record type": (record_type, "shard-00000.parquet: record type 'rpc_session'"),
}


def test_verify_passes_an_intact_corpus(corpus, capsys):
    assert main(["verify", str(corpus)]) == 0
    assert "ok" in capsys.readouterr().out


@pytest.mark.parametrize("case", sorted(VERIFY))
def test_verify_finds_damage(case, corpus, tmp_path, capsys):
    damage, expected = VERIFY[case]
    folder = copy(corpus, tmp_path)
    damage(folder)
    assert main(["verify", str(folder)]) == 1
    err = capsys.readouterr().err
    assert expected in err, err
    assert main(["verify", "--json", str(folder)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and any(expected in p for p in report["problems"])


@pytest.mark.parametrize("case, manifest, expected", [
    ("no manifest", None, "no manifest"),
    ("manifest not JSON", b'{"record_type": "session", "shards": [', "manifest is not valid JSON"),
])
def test_verify_refuses_an_unfinished_or_broken_manifest(case, manifest, expected, corpus, tmp_path, capsys):
    folder = copy(corpus, tmp_path)
    if manifest is None:
        (folder / "manifest.json").unlink()
    else:
        (folder / "manifest.json").write_bytes(manifest)
    fails(capsys, ["verify", str(folder)], str(folder / "manifest.json"), expected)
