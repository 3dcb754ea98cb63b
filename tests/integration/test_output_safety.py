"""Issue 19: the tool never destroys what it did not write, never launders corruption, and turns hostile or odd
input into one clear message. One test (or parametrized case) per numbered case of the issue, through
`counselsim.cli.main` with the scripted engine and the local executor, as the bad-input pass ran them.
"""
# ruff: noqa: F811  (the `corpus` fixture of test_reliability_inputs is imported, then named by each test)
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from counselsim.cli import main
from counselsim.corpus import storage
from counselsim.runtime.driver import staging_folder
from helpers import REPO, SAMPLE
from test_reliability_inputs import CARDS, PIPELINE, SCRIPTED, card, copy, corpus, fails  # noqa: F401 (fixture)

RPC = REPO / "pipelines" / "rpc.yaml"


def digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path: what must stay untouched."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run(out: Path | str, *extra: str, config: Path = PIPELINE) -> list[str]:
    return ["run", str(config), "--out", str(out), *SCRIPTED, *extra]


@pytest.fixture(autouse=True)
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


# --- 1-3: destroys data it did not write ----------------------------------------------------------------------

def test_1_rpc_into_its_own_input_is_refused(corpus, tmp_path, capsys):
    src = copy(corpus, tmp_path)  # copy() leaves staging/ out, as after `rm -rf c/staging`
    before = digests(src)
    fails(capsys, ["run", str(RPC), "--set", f"run.input={src}", "--out", str(src), "--set", "run.executor=local"],
          "would overwrite the input")
    assert digests(src) == before


def foreign_dataset(folder: Path, corpus: Path) -> None:
    (folder / "data").mkdir(parents=True)
    (folder / "README.md").write_text("# a colleague's dataset\n")
    for i, shard in enumerate(sorted((corpus / "data").glob("*.parquet"))):
        shutil.copy(shard, folder / "data" / f"shard-{i:05d}.parquet")


def test_2_a_foreign_dataset_folder_is_refused(corpus, tmp_path, capsys):
    foreign_dataset(tmp_path / "theirs", corpus)
    before = digests(tmp_path / "theirs")
    fails(capsys, run(tmp_path / "theirs"), "files this tool did not write", "choose an empty or new folder")
    assert digests(tmp_path / "theirs") == before


def test_2_an_empty_out_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "README.md").write_text("mine\n")
    fails(capsys, [*run(""), "--set", f"role_cards.pools=[{REPO / 'role_cards/en/train.jsonl'}]"], "is empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]


def test_2_a_data_symlink_to_another_corpus_is_refused(corpus, tmp_path, capsys):
    other = copy(corpus, tmp_path)
    before = digests(other)
    out = tmp_path / "out"
    out.mkdir()
    (out / "data").symlink_to(other / "data")
    fails(capsys, run(out), "is a symlink")
    assert digests(other) == before


def test_2_an_earlier_run_of_the_same_kind_is_resumed(tmp_path):
    out = tmp_path / "out"
    assert main(run(out, "--sessions", "2")) == 0
    assert main(run(out, "--sessions", "4")) == 0
    assert json.loads((out / "manifest.json").read_text())["counts"]["rows"] == 4


@pytest.mark.parametrize("target", ["data/shard-00001.parquet", "manifest.json"])
def test_3_export_into_its_input_is_refused(target, corpus, tmp_path, capsys):
    src = copy(corpus, tmp_path)
    before = digests(src)
    fails(capsys, ["export", "--format", "sft", "--input", str(src), "--out", str(src / target), "--overwrite"],
          "would overwrite the input")
    assert digests(src) == before


def test_3_export_and_split_overwrite_only_on_request(corpus, tmp_path, capsys):
    out = tmp_path / "sft.jsonl"
    out.write_text("precious\n")
    export = ["export", "--format", "sft", "--input", str(corpus), "--out", str(out)]
    fails(capsys, export, f"{out}: exists", "--overwrite")
    assert out.read_text() == "precious\n"
    assert main([*export, "--overwrite"]) == 0 and out.read_text() != "precious\n"

    pool = REPO / "role_cards" / "en" / "train.jsonl"
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    test.write_text("precious\n")
    split = ["role-cards", "split", str(pool), "--test-size", "4", "--train", str(train), "--test", str(test)]
    fails(capsys, split, f"{test}: exists")
    assert test.read_text() == "precious\n" and not train.exists()
    assert main([*split, "--overwrite"]) == 0


def test_3_split_onto_its_own_pool_is_refused(tmp_path, capsys):
    pool = tmp_path / "pool.jsonl"
    shutil.copy(REPO / "role_cards" / "en" / "train.jsonl", pool)
    before = pool.read_bytes()
    fails(capsys, ["role-cards", "split", str(pool), "--test-size", "4", "--train", str(pool), "--test",
                   str(tmp_path / "test.jsonl"), "--overwrite"], "would overwrite the input")
    assert pool.read_bytes() == before


# --- 4-6: accepts or launders corruption ----------------------------------------------------------------------

def flip_a_bit(folder: Path) -> None:
    """One bit of one text value (the issue's "gone by April" -> "gone bg April"), the Parquet still readable."""
    path = folder / "data" / "shard-00001.parquet"
    table = pq.read_table(path)
    rows = table.to_pylist()
    rows[0]["turns"][0]["text"] = rows[0]["turns"][0]["text"][:-1] + chr(ord(rows[0]["turns"][0]["text"][-1]) ^ 1)
    pq.write_table(table.from_pylist(rows, schema=table.schema), path, compression="zstd")


READERS = {
    "dedup": lambda src, dst: ["dedup", "--input", str(src), "--out", str(dst)],
    "export": lambda src, dst: ["export", "--format", "sft", "--input", str(src), "--out", str(dst / "sft.jsonl")],
    "audit": lambda src, dst: ["audit", "--input", str(src), "--out", str(dst), "--embedding-model", "none"],
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_4_readers_refuse_a_shard_that_differs_from_its_checksum(reader, corpus, tmp_path, capsys):
    src = copy(corpus, tmp_path)
    flip_a_bit(src)
    out = tmp_path / "out"
    fails(capsys, READERS[reader](src, out), "does not match its manifest", "data/shard-00001.parquet: checksum")
    assert not out.exists()
    assert main([*READERS[reader](src, out), "--no-verify"]) == 0  # the deliberate override


def listed_twice(folder: Path) -> str:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["shards"][1] = manifest["shards"][0]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "data" / "shard-00001.parquet").unlink()
    return "data/shard-00000.parquet: listed in the manifest more than once"


def outside(folder: Path) -> str:
    other = folder.parent / "other" / "data"
    other.mkdir(parents=True)
    shutil.move(folder / "data" / "shard-00002.parquet", other / "shard-00002.parquet")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["shards"][2]["name"] = "../other/data/shard-00002.parquet"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return "../other/data/shard-00002.parquet: shard names must be data/<file>.parquet"


def extra(folder: Path) -> str:
    shutil.copy(folder / "data" / "shard-00000.parquet", folder / "data" / "extra.parquet")
    return "data/extra.parquet: shard not listed in the manifest"


@pytest.mark.parametrize("damage", [listed_twice, outside, extra], ids=["listed twice", "outside", "extra"])
def test_5_verify_and_readers_catch_a_manifest_that_lies(damage, corpus, tmp_path, capsys):
    src = copy(corpus, tmp_path)
    expected = damage(src)
    assert main(["verify", str(src)]) == 1
    assert expected in capsys.readouterr().err
    for reader in READERS.values():
        fails(capsys, reader(src, tmp_path / "out"), expected)
    assert not (tmp_path / "out").exists()


def test_6_editing_the_pool_between_a_run_and_its_extension_is_refused(tmp_path, capsys):
    pool = tmp_path / "pool.jsonl"
    shutil.copy(REPO / "role_cards" / "en" / "train.jsonl", pool)
    out = tmp_path / "out"
    with_pool = ["--set", f"role_cards.pools=[{pool}]", "--set", "role_cards.languages=[en]"]
    assert main(run(out, "--sessions", "2", *with_pool)) == 0
    pool.write_text(pool.read_text().replace("Hi", "Hello", 1) if "Hi" in pool.read_text()
                    else pool.read_text().replace("e", "E", 1))
    fails(capsys, run(out, "--sessions", "4", *with_pool), str(out))


# --- 7-9: hostile or odd input --------------------------------------------------------------------------------

def alias_bomb(levels: int) -> str:
    """`options:` of the default model as nested aliases: a few hundred bytes that expand to 9**levels values."""
    lines = ["    options:", "      l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"      l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_7_a_yaml_alias_bomb_is_refused_at_once(tmp_path, capsys):
    cfg = tmp_path / "bomb.yaml"
    cfg.write_text(PIPELINE.read_text().replace("    backend: vllm\n", "    backend: vllm\n" + alias_bomb(7), 1))
    out = tmp_path / "out"
    fails(capsys, run(out, config=cfg), f"{cfg}:25:", "aliases (*l0) are not allowed")  # l1, the first alias
    assert not out.exists()


def test_7_a_huge_config_is_refused(tmp_path, capsys):
    cfg = tmp_path / "huge.yaml"
    cfg.write_text(PIPELINE.read_text() + "#" + "x" * (2 << 20) + "\n")
    fails(capsys, run(tmp_path / "out", config=cfg), str(cfg), "larger than")


def test_8_an_unknown_uri_scheme_is_refused_before_any_work(tmp_path, capsys):
    fails(capsys, run("foo://bucket/x"), "foo://bucket/x", "s3://")
    assert not staging_folder("foo://bucket/x").exists()


def test_8_an_infinite_attempts_factor_is_refused_before_any_work(tmp_path, capsys):
    out = tmp_path / "out"
    fails(capsys, run(out, "--set", "run.max_attempts_factor=.inf"), "run.max_attempts_factor")
    assert not out.exists()


def test_8_split_writes_both_files_or_neither(tmp_path, capsys):
    pool = REPO / "role_cards" / "en" / "train.jsonl"
    train = tmp_path / "train.jsonl"
    split = ["role-cards", "split", str(pool), "--test-size", "4", "--train", str(train)]
    fails(capsys, [*split, "--test", "/proc/x/te.jsonl"], "/proc/x/te.jsonl", "cannot be written")
    assert not train.exists()
    (tmp_path / "folder").mkdir()
    fails(capsys, ["role-cards", "split", str(pool), "--test-size", "4", "--train", str(tmp_path / "folder"),
                   "--test", str(tmp_path / "t.jsonl")], "is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"] and not any((tmp_path / "folder").iterdir())


SEPARATORS = "one\u2028two\u2029three\u0085four"


def assert_plain_json_lines(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not any(c in text for c in "\u2028\u2029\u0085")
    assert all(json.loads(line) for line in text.splitlines())  # splitlines breaks on all three


def test_9_split_writes_json_lines_every_reader_accepts(tmp_path):
    from counselsim.cards.pool import load_pool

    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps(card(id=f"en-s-{i}", occupation=f"clerk {SEPARATORS}"), ensure_ascii=False)
                            + "\n" for i in range(4)), encoding="utf-8")
    assert len(load_pool(pool)) == 4  # raw separators inside strings are read too
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    assert main(["role-cards", "split", str(pool), "--test-size", "1", "--train", str(train), "--test", str(test)]) == 0
    for path in (train, test):
        assert_plain_json_lines(path)
        assert all(c.occupation == f"clerk {SEPARATORS}" for c in load_pool(path))


def test_9_import_writes_json_lines_every_reader_accepts(tmp_path):
    from counselsim.cards.pool import load_pool

    sample = tmp_path / "sample"
    shutil.copytree(SAMPLE / "role_cards", sample / "role_cards")
    shutil.copy(SAMPLE / "chief_complaints.json", sample / "chief_complaints.json")
    card0 = sample / "role_cards" / "0.txt"
    card0.write_text(card0.read_text(encoding="utf-8").replace("公司职员", f"公司职员{SEPARATORS}"), encoding="utf-8")
    out = tmp_path / "pool.jsonl"
    assert main(["role-cards", "import", str(sample), "--format", "interactive-agents", "--out", str(out)]) == 0
    assert_plain_json_lines(out)
    assert load_pool(out)[0].occupation == f"公司职员{SEPARATORS}"


# --- 10: a message and exit 2, never a traceback --------------------------------------------------------------

MANIFESTS = {
    "a list": (lambda m: [m], "manifest must be a JSON object"),
    "no sha256": (lambda m: {**m, "shards": [{k: v for k, v in s.items() if k != "sha256"} for s in m["shards"]]},
                  "field 'shards.0.sha256'"),
    "rows as text": (lambda m: {**m, "shards": [{**s, "rows": str(s["rows"])} for s in m["shards"]]},
                     "field 'shards.0.rows'"),
}


@pytest.mark.parametrize("case", sorted(MANIFESTS))
def test_10_a_malformed_manifest(case, corpus, tmp_path, capsys):
    src = copy(corpus, tmp_path)
    change, expected = MANIFESTS[case]
    (src / "manifest.json").write_text(json.dumps(change(json.loads((src / "manifest.json").read_text()))))
    fails(capsys, ["verify", str(src)], expected)
    fails(capsys, READERS["export"](src, tmp_path / "out"), expected)


def test_10_a_manifest_that_is_a_folder(corpus, tmp_path, capsys):
    src = copy(corpus, tmp_path)
    (src / "manifest.json").unlink()
    (src / "manifest.json").mkdir()
    fails(capsys, ["verify", str(src)], "is a folder")


def test_10_a_config_that_is_a_folder(tmp_path, capsys):
    fails(capsys, run(tmp_path / "out", config=tmp_path), str(tmp_path), "is a folder")


def test_10_a_recursive_anchor(tmp_path, capsys):
    cfg = tmp_path / "loop.yaml"
    cfg.write_text(PIPELINE.read_text() + "\nloop: &loop {self: *loop}\n")
    fails(capsys, run(tmp_path / "out", config=cfg), str(cfg), "aliases")


@pytest.mark.parametrize("kind", ["folder", "symlink loop"])
def test_10_a_card_file_that_cannot_be_read(kind, tmp_path, capsys):
    cards = tmp_path / "cards"
    shutil.copytree(SAMPLE / "role_cards", cards)
    bad = cards / "9.txt"
    if kind == "folder":
        bad.mkdir()
    else:
        bad.symlink_to(cards / "10.txt")
        (cards / "10.txt").symlink_to(bad)
    fails(capsys, ["role-cards", "import", str(cards), "--format", "interactive-agents", "--complaints",
                   str(SAMPLE / "chief_complaints.json"), "--out", str(tmp_path / "pool.jsonl")],
          str(bad), "cannot be read")


@pytest.mark.parametrize("out, expected", [("", "is empty"), ("/proc", "/proc"), ("FOLDER", "is a folder"),
                                           ("/dev/full", "not a regular file")])
def test_10_export_to_a_place_that_is_not_a_file(out, expected, corpus, tmp_path, capsys):
    out = str(tmp_path) if out == "FOLDER" else out
    fails(capsys, ["export", "--format", "sft", "--input", str(corpus), "--out", out, "--overwrite"], expected)


@pytest.mark.parametrize("out, expected", [("", "is empty"), ("/proc", "/proc"), ("FILE", "not a file")])
def test_10_audit_to_a_place_that_is_not_a_report_folder(out, expected, corpus, tmp_path, capsys):
    if out == "FILE":
        out = str(tmp_path / "report.md")
        Path(out).write_text("x")
        expected = "must be a folder, not a file"
    fails(capsys, READERS["audit"](corpus, Path(out)) if out else
          ["audit", "--input", str(corpus), "--out", "", "--embedding-model", "none"], expected)


def test_10_a_missing_embedding_model(corpus, tmp_path, capsys):
    out = tmp_path / "report"
    fails(capsys, ["audit", "--input", str(corpus), "--out", str(out), "--embedding-model", str(tmp_path / "none")],
          "--embedding-model", "cannot be loaded")
    assert not out.exists()


def test_10_an_unknown_log_level(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--log-level", "NOPE", "verify", "x"])
    assert exit_.value.code == 2
    assert "invalid choice: 'NOPE'" in capsys.readouterr().err


def test_10_a_full_disk(corpus, tmp_path, capsys, monkeypatch):
    def full(target, f):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage, "crash_hook", full)
    out = tmp_path / "sft.jsonl"
    fails(capsys, ["export", "--format", "sft", "--input", str(corpus), "--out", str(out)],
          str(out), "No space left on device")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_10_a_read_only_folder(corpus, tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    fails(capsys, ["export", "--format", "sft", "--input", str(corpus), "--out", str(folder / "sft.jsonl")],
          str(folder / "sft.jsonl"), "cannot be written")


def damaged_part(staging: Path) -> Path:
    part = min(staging.glob("part-*.parquet"))
    part.write_bytes(b"PAR1 torn")
    return part


def foreign_journal_line(staging: Path) -> Path:
    journal = staging / "journal.jsonl"
    with open(journal, "a") as f:
        f.write(json.dumps({"session_id": "x", "what": "not a session"}) + "\n")
    return journal


@pytest.mark.parametrize("damage", [damaged_part, foreign_journal_line], ids=["part", "journal"])
def test_10_damaged_staging_names_the_file_to_remove(damage, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(run(out, "--sessions", "4")) == 0
    bad = damage(out / "staging")
    fails(capsys, run(out, "--sessions", "6"), str(bad), "delete this file and rerun")


# --- 11: silently accepted ------------------------------------------------------------------------------------

BAD_CARDS = {
    "NUL in a field": (json.dumps(card(occupation="clerk\u0000admin")), ["field 'occupation'", "NUL"]),
    "age as text": (json.dumps(card(age="30")), ["field 'age'", "valid integer"]),
    "age as boolean": (json.dumps(card(age=True)), ["field 'age'", "valid integer"]),
    "duplicate key": (json.dumps(card())[:-1] + ', "age": 31}', ["field 'age'", "given twice"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CARDS))
def test_11_a_card_field_the_loader_used_to_accept(case, tmp_path, capsys):
    line, expected = BAD_CARDS[case]
    pool = tmp_path / "pool.jsonl"
    pool.write_text(CARDS[0] + "\n" + line + "\n", encoding="utf-8")
    out = tmp_path / "out"
    err = fails(capsys, run(out, "--set", f"role_cards.pools=[{pool}]"), f"{pool}:2:", *expected)
    assert "must be ≥ 12" not in err and "greater than or equal" not in err
    assert not out.exists()


def test_11_a_rerun_asking_for_fewer_sessions_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(run(out, "--sessions", "6")) == 0
    before = digests(out)
    fails(capsys, run(out, "--sessions", "2"), "already holds 6 sessions, more than the 2 requested")
    assert digests(out) == before


def test_11_a_run_that_delivers_nothing_fails(tmp_path, capsys):
    out = tmp_path / "out"
    # The scripted counselor says goodbye after 12 pairs; a minimum of 13 drops every session.
    assert main(run(out, "--sessions", "2", "--set", "session.min_turn_pairs=13",
                    "--set", "run.max_attempts_factor=2")) == 3
    assert "delivered 0 of 2" in capsys.readouterr().err


def test_11_a_second_run_into_the_same_output_is_refused(tmp_path, capsys):
    from counselsim.corpus.ownership import output_lock

    out = tmp_path / "out"
    with output_lock(staging_folder(str(out))):
        fails(capsys, run(out, "--sessions", "2"), "another run", f"pid {os.getpid()}")
    assert main(run(out, "--sessions", "2")) == 0  # the lock goes with its holder


# --- 12: no fault switch in the environment -------------------------------------------------------------------

def test_12_the_crash_hook_cannot_be_set_from_the_environment(tmp_path):
    target = tmp_path / "shard-00001.parquet"
    env = {**os.environ, "COUNSELSIM_CRASH_IN_WRITE": "shard-00001", "CRASH_IN_WRITE": "shard-00001"}
    code = f"from counselsim.corpus import storage; storage.write_bytes({str(target)!r}, b'data')"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert target.read_bytes() == b"data"
