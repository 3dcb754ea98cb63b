"""The one corpus writer: shards, card, manifest last with the same keys for every command; verify accepts it."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from counselsim.commands.verify import verify
from counselsim.corpus.shards import load_manifest
from counselsim.corpus.writer import write_corpus
from counselsim.schemas.arrow import SESSION_SCHEMA, sessions_to_table
from helpers import session

COMMON_KEYS = {"record_type", "created_at", "versions", "languages", "counts", "shards", "finished_at_unix"}


def tables(slots_per_table: list[list[int]]) -> list[pa.Table]:
    return [sessions_to_table(session(f"s-{k}", slot=k) for k in slots) for slots in slots_per_table]


def test_shards_card_and_manifest_with_the_common_keys(tmp_path):
    out = str(tmp_path / "corpus")
    manifest = write_corpus(out, SESSION_SCHEMA, tables([[4, 1, 3], [0, 2]]),
                            {"command": "test", "counts": {"input": 7}}, rows_per_shard=2, order_column="slot")
    assert COMMON_KEYS | {"command"} <= set(manifest)
    assert manifest == load_manifest(out)
    assert manifest["record_type"] == "session" and manifest["languages"] == ["en"]
    assert manifest["counts"] == {"input": 7, "rows": 5}
    assert [s["rows"] for s in manifest["shards"]] == [2, 2, 1]
    assert all(len(s["sha256"]) == 64 for s in manifest["shards"])
    assert list(manifest)[-1] == "finished_at_unix"
    assert (tmp_path / "corpus" / "README.md").read_text().startswith("---")
    assert verify(out) == []


def test_each_table_is_ordered_and_a_smaller_rewrite_leaves_no_stale_shard(tmp_path):
    out = str(tmp_path / "corpus")
    first = write_corpus(out, SESSION_SCHEMA, tables([[2, 0, 1], [3]]), {}, rows_per_shard=1, order_column="slot")
    slots = [pq.read_table(tmp_path / "corpus" / s["name"]).column("slot").to_pylist() for s in first["shards"]]
    assert slots == [[0], [1], [2], [3]]
    manifest = write_corpus(out, SESSION_SCHEMA, tables([[1, 0]]), {}, rows_per_shard=1, order_column="slot")
    assert [s["name"] for s in manifest["shards"]] == ["data/shard-00000.parquet", "data/shard-00001.parquet"]
    assert sorted(p.name for p in (tmp_path / "corpus" / "data").iterdir()) == ["shard-00000.parquet",
                                                                                "shard-00001.parquet"]
    assert verify(out) == []


def test_a_schema_without_record_type_is_refused_before_writing(tmp_path):
    with pytest.raises(ValueError, match="record type"):
        write_corpus(str(tmp_path / "corpus"), SESSION_SCHEMA.remove_metadata(), [], {}, rows_per_shard=2)
    assert not (tmp_path / "corpus").exists()
