"""A reply cut at its token limit never becomes a turn, on the real engine: a SimPsyDial run on the embedded model
with a small max_tokens regenerates truncated replies or drops the session as refinement_exhausted, and the manifest
and dataset card count the rejections."""
from __future__ import annotations

import json

import polars as pl
import pytest
import ray
from counselsim.cli import main

pytestmark = [pytest.mark.engine, pytest.mark.slow]

# 20 tokens cut many of the toy model's replies; enough attempts that some sessions still finish.
TIGHT = ["--sessions", "2", "--set", "session.max_turn_pairs=2", "--set", "session.min_turn_pairs=1",
         "--set", "roles.client.max_tokens=20", "--set", "roles.counselor.max_tokens=20",
         "--set", "session.refinement.max_attempts=6", "--set", "run.max_attempts_factor=3",
         "--set", "run.progress=false"]


@pytest.fixture(autouse=True, scope="module")
def fresh_ray():
    ray.shutdown()
    yield
    ray.shutdown()


def test_small_max_tokens_writes_no_truncated_turn(repo, tmp_path):
    out = tmp_path / "tight"
    assert main(["run", str(repo / "pipelines/simpsydial.yaml"), "--out", str(out), *TIGHT]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    counts, drops, rejections = manifest["counts"], manifest["drops"], manifest["rejections"]
    assert counts["written"] + counts["dropped"] == counts["attempted"]
    assert set(drops) <= {"refinement_exhausted", "too_short"}, drops
    # With 20 tokens the model is cut off somewhere: either an accepted turn needed a regeneration, or a session
    # ran out of attempts.
    assert rejections.get("truncated", 0) > 0 or drops.get("refinement_exhausted", 0) > 0, manifest
    if counts["written"]:
        sessions = pl.read_parquet(out / "data" / "*.parquet")
        assert {t["finish_reason"] for turns in sessions["turns"].to_list() for t in turns} <= {"opening", "stop"}
        card = (out / "README.md").read_text()
        assert "rejected and regenerated, by reason" in card
