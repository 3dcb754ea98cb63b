"""End to end: `counselsim run pipelines/rpc.yaml` on the embedded model through Ray and vLLM, over a small
SimPsyDial corpus made with the scripted backend. Small on purpose (2 short sessions): the point is that the whole
path works and the manifest carries the self-check and per-stage throughput, not the 135M model's quality."""
from __future__ import annotations

import json

import pyarrow as pa
import pytest
from counselsim import cli
from counselsim.corpus.shards import read_corpus
from counselsim.rpc.taxonomy import load_taxonomy
from counselsim.schemas.arrow import RPC_SESSION_SCHEMA
from counselsim.schemas.rpc import MAX_EPISODE_TURNS, RPCSession

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@pytest.fixture()
def ray_cleanup():
    yield
    import ray

    if ray.is_initialized():
        ray.shutdown()


def test_rpc_pipeline_end_to_end(repo, tmp_path, ray_cleanup):
    source = tmp_path / "simpsydial"
    assert cli.main(["run", str(repo / "pipelines" / "simpsydial.yaml"), "--sessions", "2", "--out", str(source),
                     "--set", "models.default.backend=scripted", "--set", "models.default.path=scripted",
                     "--set", "session.max_turn_pairs=3", "--set", "session.min_turn_pairs=2",
                     "--set", "run.progress=false"]) == 0

    out = tmp_path / "rpc"
    every_session = "{low: 2, moderately_low: 2, moderate: 2, moderately_high: 2, high: 2}"
    assert cli.main(["run", str(repo / "pipelines" / "rpc.yaml"), "--input", str(source), "--out", str(out),
                     "--set", "stages.rpc.injection.rate=1.0",
                     "--set", f"stages.rpc.injection.level_weights={every_session}",
                     # Short fields and budgets: the toy fills whatever room it gets, on two shared cores.
                     "--set", "stages.rpc.profile.field_max_chars=120", "--set", "roles.profiler.max_tokens=256",
                     "--set", "stages.rpc.injection.reasoning_max_chars=120", "--set", "roles.rewriter.max_tokens=256",
                     "--set", "stages.rpc.injection.response_max_chars_en=200",
                     "--set", "stages.rpc.labeler.reason_max_chars=120", "--set", "roles.labeler.max_tokens=96",
                     "--set", "roles.counselor.max_tokens=64", "--set", "roles.client.max_tokens=64",
                     "--set", "run.progress=false"]) == 0

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["record_type"] == "rpc_session" and manifest["pipeline"] == "rpc"
    assert manifest["counts"]["attempted"] == 2
    assert manifest["counts"]["written"] + manifest["counts"]["dropped"] == 2
    check = manifest["self_check"]
    assert {"binary", "per_type", "types_macro", "types_micro", "episodes"} <= set(check)
    assert check["client_turns"] == check["labeled"] + check["unparseable"]
    throughput = manifest["stage_throughput"]
    assert throughput["profile"]["items"] == manifest["counts"]["written"] + manifest["drops"].get(
        "refinement_exhausted", 0) + manifest["drops"].get("context_overflow", 0)
    assert throughput["label_binary"]["calls"] >= throughput["label_binary"]["items"]
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "RPC method" in card and "Labeler self-check" in card and "Sessions open with" not in card

    tables = [t for _, t in read_corpus(str(out), expected="rpc_session")]
    table = pa.concat_tables(tables)
    assert table.schema.equals(RPC_SESSION_SCHEMA, check_metadata=False)
    taxonomy = load_taxonomy()
    records = [RPCSession.model_validate(row) for row in table.to_pylist()]
    assert len(records) == manifest["counts"]["written"] >= 1
    for record in records:
        assert record.source_session_id == record.session_id
        if record.episode:
            assert len(record.episode.turn_indices) <= MAX_EPISODE_TURNS
            regenerated = {t.index for t in record.turns if t.regenerated}
            assert {i + 1 for i in record.episode.turn_indices} <= regenerated
            if record.episode.continuation != "regenerated":
                assert regenerated == {i + 1 for i in record.episode.turn_indices}
        for turn in record.turns:
            if turn.speaker == "client":
                assert turn.label_status in ("ok", "unparseable")
                assert turn.label is None or turn.label in taxonomy.labels
    assert manifest["regeneration_sampling"]["source"] == "input manifest"  # a simpsydial run records its roles
    assert sum(manifest["episodes"]["decisions"].values()) == len(records)
    print(json.dumps({"self_check": check, "episodes": manifest["episodes"], "stage_throughput": throughput},
                     indent=1))
