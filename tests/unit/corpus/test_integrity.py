"""corpus.integrity: the one check of shards against the manifest, used by `verify` and by every corpus reader."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from audit_builders import session, write_corpus
from counselsim.corpus.integrity import check_corpus, unverified
from counselsim.corpus.shards import shard_paths
from counselsim.errors import InputError

TURNS = [("client", "Hello there."), ("counselor", "What brings you here?")]


@pytest.fixture
def corpus(tmp_path) -> Path:
    out = tmp_path / "corpus"
    write_corpus(str(out), [session(f"s{i}", TURNS) for i in range(4)], {"record_type": "session"})
    return out


def edit_manifest(folder: Path, change) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_an_intact_corpus_is_read_in_manifest_order(corpus):
    assert check_corpus(str(corpus), deep=True) == []
    assert [Path(p).name for p in shard_paths(str(corpus))] == ["shard-00000.parquet", "shard-00001.parquet"]
    assert shard_paths(str(corpus / "data")) == shard_paths(str(corpus))  # its data/ folder names the same corpus


def test_the_byte_count_is_checked(corpus):
    edit_manifest(corpus, lambda m: m["shards"][0].update(bytes=m["shards"][0]["bytes"] + 1))
    assert any("bytes, manifest says" in p for p in check_corpus(str(corpus)))


def test_a_shard_symlinked_out_of_the_corpus_is_a_finding(corpus, tmp_path):
    elsewhere = tmp_path / "elsewhere.parquet"
    (corpus / "data" / "shard-00001.parquet").rename(elsewhere)
    (corpus / "data" / "shard-00001.parquet").symlink_to(elsewhere)
    assert check_corpus(str(corpus)) == [f"data/shard-00001.parquet: a symlink to {elsewhere}, outside the corpus"]


def test_readers_refuse_findings_unless_told_not_to_check(corpus):
    (corpus / "data" / "extra.parquet").write_bytes((corpus / "data" / "shard-00000.parquet").read_bytes())
    with pytest.raises(InputError, match="data/extra.parquet: shard not listed"):
        shard_paths(str(corpus))
    with unverified():
        assert len(shard_paths(str(corpus))) == 3
    with pytest.raises(InputError):  # the override ends with its block
        shard_paths(str(corpus))


def test_a_folder_without_manifest_is_read_as_found(tmp_path, caplog):
    write_corpus(str(tmp_path / "loose"), [session("s0", TURNS)])
    assert len(shard_paths(str(tmp_path / "loose"))) == 1
    assert "no manifest.json" in caplog.text


@pytest.mark.parametrize("shards, expected", [
    ("not a list", "field 'shards': must be a list"),
    ([["a"]], "field 'shards.0': must be an object"),
    ([{"name": "data/x.parquet", "rows": 1, "sha256": "ab"}], "field 'shards.0.sha256': must be 64 lowercase hex"),
    ([{"name": "data/x.parquet", "rows": True, "sha256": "0" * 64}], "field 'shards.0.rows'"),
    ([{"name": 3, "rows": 1, "sha256": "0" * 64}], "field 'shards.0.name'"),
])
def test_a_malformed_shard_list_names_the_entry_and_field(shards, expected, corpus):
    edit_manifest(corpus, lambda m: m.update(shards=shards))
    with pytest.raises(InputError, match=expected):
        check_corpus(str(corpus))


def test_a_corpus_of_an_older_schema_version_is_named_as_such(corpus):
    import hashlib

    import pyarrow.parquet as pq

    path = corpus / "data" / "shard-00000.parquet"
    table = pq.read_table(path)
    old = table.drop_columns(["origin"])
    old = old.replace_schema_metadata({**table.schema.metadata, b"counselsim.schema_version": b"1"})
    pq.write_table(old, path)
    data = path.read_bytes()
    edit_manifest(corpus, lambda m: m["shards"][0].update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest()))
    assert check_corpus(str(corpus)) == []  # the cheap check reads sizes and hashes only
    [finding] = check_corpus(str(corpus), deep=True)
    assert "written with session schema version 1, this counselsim reads version 2" in finding
