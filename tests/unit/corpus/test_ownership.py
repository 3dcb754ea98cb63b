"""corpus.ownership: which output places a command may write, and the run lock."""
from __future__ import annotations

import json

import pytest
from counselsim.corpus import storage
from counselsim.corpus.ownership import claim_file, claim_output, output_lock
from counselsim.errors import InputError, OutputError


def test_absent_and_empty_folders_are_ours(tmp_path):
    claim_output(str(tmp_path / "new"), "simpsydial")
    claim_output(str(tmp_path), "simpsydial")


@pytest.mark.parametrize("manifest, staging, ok", [
    ({"pipeline": "simpsydial"}, None, True),
    ({"pipeline": "rpc"}, None, False),
    ({"command": "dedup"}, None, False),
    (None, {"pipeline": "simpsydial"}, True),
    (None, {"pipeline": "rpc"}, False),
    (None, None, False),
])
def test_a_folder_is_ours_when_it_holds_our_output_of_the_same_kind(manifest, staging, ok, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "shard-00000.parquet").write_bytes(b"x")
    if manifest is not None:
        (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    if staging is not None:
        (tmp_path / "staging").mkdir()
        (tmp_path / "staging" / "run.json").write_text(json.dumps(staging))
    if ok:
        claim_output(str(tmp_path), "simpsydial")
    else:
        with pytest.raises(OutputError, match="choose an empty or new folder"):
            claim_output(str(tmp_path), "simpsydial")


def test_a_report_folder_is_ours_only_with_nothing_but_report_files(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    (tmp_path / "report.md").write_text("# r")
    claim_output(str(tmp_path), "audit")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="notes.txt"):
        claim_output(str(tmp_path), "audit")


@pytest.mark.parametrize("out, source", [("c", "c"), ("c/data/x.parquet", "c"), ("c", "c/pool.jsonl")])
def test_an_output_never_overlaps_an_input(out, source, tmp_path):
    (tmp_path / "c" / "data").mkdir(parents=True)
    with pytest.raises(InputError, match="would overwrite the input"):
        claim_output(str(tmp_path / out), "rpc", [str(tmp_path / source)])


def test_an_input_reached_through_a_symlink_is_still_the_input(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "c")
    with pytest.raises(InputError, match="would overwrite the input"):
        claim_file(str(tmp_path / "link" / "sft.jsonl"), [str(tmp_path / "c")])


@pytest.mark.parametrize("uri", ["foo://bucket/x", "http://host/x", " "])
def test_only_local_paths_and_known_object_stores(uri):
    with pytest.raises(InputError):
        claim_output(uri, "simpsydial")


def test_deletes_stay_inside_the_output(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "shard-00009.parquet").write_bytes(b"x")
    (tmp_path / "out" / "data").symlink_to(tmp_path / "theirs")
    with pytest.raises(OutputError, match="outside the output"):
        storage.remove_inside(str(tmp_path / "out" / "data" / "shard-00009.parquet"), str(tmp_path / "out"))
    assert (tmp_path / "theirs" / "shard-00009.parquet").exists()


def test_the_lock_names_its_holder_and_goes_with_it(tmp_path):
    staging = tmp_path / "out" / "staging"
    with output_lock(staging):
        with pytest.raises(OutputError, match=r"another run \(pid \d+\)"), output_lock(staging):
            pass
        with pytest.raises(OutputError, match="another run"):
            claim_output(str(tmp_path / "out"), "simpsydial", staging=staging)
    with output_lock(staging):
        pass
    claim_output(str(tmp_path / "out"), "simpsydial", staging=staging)  # a lock alone does not make it foreign


def test_a_file_output_is_replaced_only_on_request(tmp_path):
    target = tmp_path / "x.jsonl"
    claim_file(str(target))
    target.write_text("x")
    with pytest.raises(OutputError, match="--overwrite"):
        claim_file(str(target))
    claim_file(str(target), overwrite=True)
    with pytest.raises(InputError, match="is a folder"):
        claim_file(str(tmp_path))
    with pytest.raises(InputError, match="is a file, not a folder"):
        claim_file(str(target / "y.jsonl"))
