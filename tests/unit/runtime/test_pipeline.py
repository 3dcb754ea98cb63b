"""The generation pipeline end to end with a scripted engine: files, schema, invariants, resume."""
from __future__ import annotations

import json

import polars as pl
import pyarrow.parquet as pq
import pytest
from counselsim.cli import main
from counselsim.corpus.shards import load_manifest
from counselsim.schemas.arrow import SESSION_SCHEMA

SCRIPTED = ["--set", "models.default.backend=scripted", "--set", "models.default.path=scripted",
            "--set", "run.executor=local", "--set", "run.rows_per_shard=4", "--set", "run.progress=false"]


def run(repo, out, *extra):
    return main(["run", str(repo / "pipelines" / "simpsydial.yaml"), "--out", str(out), *SCRIPTED, *extra])


def check_corpus(out, expected_rows):
    manifest = load_manifest(str(out))
    assert manifest["counts"]["rows"] == expected_rows
    names = [s["name"] for s in manifest["shards"]]
    assert names == [f"data/shard-{i:05d}.parquet" for i in range(len(names))]
    frame = pl.read_parquet(out / "data" / "*.parquet")
    assert frame.height == expected_rows
    assert frame["session_id"].n_unique() == expected_rows
    for name in names:
        assert pq.read_schema(out / name).equals(SESSION_SCHEMA, check_metadata=False)
        assert pq.ParquetFile(out / name).metadata.row_group(0).column(0).compression == "ZSTD"
    return manifest, frame


def test_generates_sharded_corpus_with_invariants(repo, tmp_path):
    out = tmp_path / "corpus"
    assert run(repo, out, "--sessions", "10") == 0
    manifest, frame = check_corpus(out, 10)
    assert manifest["record_type"] == "session" and manifest["config"]["run"]["sessions"] == 10
    assert {"counselsim", "pyarrow", "ray"} <= set(manifest["versions"])
    assert len(manifest["shards"]) == 3 and [s["rows"] for s in manifest["shards"]] == [4, 4, 2]
    for row in frame.iter_rows(named=True):
        turns = row["turns"]
        assert turns[0]["speaker"] == "client" and turns[0]["text"] == "Hello"
        assert [t["speaker"] for t in turns] == ["client", "counselor"] * (len(turns) // 2)
        assert row["num_turn_pairs"] == len(turns) // 2 >= 10
        assert row["termination_reason"] == "farewell"
        assert all(t["attempts"] >= 1 for t in turns)
    assert (out / "README.md").read_text().startswith("---")
    assert main(["verify", str(out)]) == 0


def test_rerun_skips_finished_sessions_and_extends(repo, tmp_path):
    out = tmp_path / "corpus"
    assert run(repo, out, "--sessions", "6") == 0
    first = pl.read_parquet(out / "data" / "*.parquet")
    assert run(repo, out, "--sessions", "6") == 0  # nothing to do
    manifest, again = check_corpus(out, 6)
    assert manifest["counts"]["attempted"] == 6
    assert sorted(again["session_id"]) == sorted(first["session_id"])
    assert run(repo, out, "--sessions", "9") == 0  # asks for more: only the missing ones run
    _, more = check_corpus(out, 9)
    assert set(first["session_id"]) <= set(more["session_id"])


def test_drops_are_counted_and_replaced(repo, tmp_path):
    out = tmp_path / "corpus"
    # The scripted counselor says goodbye after 12 pairs; a minimum of 13 drops every session.
    assert run(repo, out, "--sessions", "2", "--set", "session.min_turn_pairs=13", "--set", "run.max_attempts_factor=2") == 3
    manifest = load_manifest(str(out))
    assert manifest["counts"]["rows"] == 0
    assert manifest["drops"] == {"too_short": 4} and manifest["counts"]["attempted"] == 4


def test_a_changed_config_is_not_mixed_into_an_existing_corpus(repo, tmp_path, capsys):
    out = tmp_path / "corpus"
    assert run(repo, out, "--sessions", "2") == 0
    assert run(repo, out, "--sessions", "2", "--seed", "5") == 2
    assert "another configuration" in capsys.readouterr().err


def test_bad_role_card_pool_writes_nothing(repo, tmp_path, capsys):
    pool = tmp_path / "pool.jsonl"
    good = (repo / "role_cards" / "en" / "train.jsonl").read_text().splitlines()[0]
    bad = json.loads(good)
    bad["id"] = "bad-1"
    bad["age"] = "old"
    pool.write_text(good + "\n" + json.dumps(bad) + "\n")
    out = tmp_path / "corpus"
    assert run(repo, out, "--set", f"role_cards.pools=[{pool}]") == 2
    err = capsys.readouterr().err
    assert f"{pool}:2" in err and "age" in err
    assert not out.exists()


@pytest.mark.parametrize("options, override, expected", [
    ("{max_batch: 6}", [], 9),  # 1.5x as many sessions as the engine batches
    ("{max_batch: 6}", ["--set", "run.max_in_flight=3"], 3),  # the config wins
    ("{}", [], 64),  # an engine that cannot tell (an endpoint)
])
def test_sessions_in_flight_follow_the_engine_batch(repo, tmp_path, options, override, expected):
    out = tmp_path / "corpus"
    assert run(repo, out, "--sessions", "4", "--set", f"models.default.options={options}", *override) == 0
    assert load_manifest(str(out))["throughput"]["max_in_flight"] == expected
