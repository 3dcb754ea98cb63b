"""Job state gathered on the session workers reaches the driver's summary: on the Ray executor `process` runs in
the workers' copies of the job, so the rpc and feedback jobs' per-stage meters (the manifest's `stage_throughput`)
travel back with the outcomes (runtime/job.py WorkerState). Scripted engines (tests/ray_scripts.py) in a local
Ray started for this module, two session groups each."""
from __future__ import annotations

import os

import pytest
import ray
from counselsim.config import parse_config
from counselsim.runtime.driver import run_pipeline
from counselsim.schemas.arrow import RPC_SESSION_SCHEMA, SESSION_SCHEMA
from feedback_builders import rpc_record, write_input
from helpers import REPO
from rpc_builders import make_session

pytestmark = pytest.mark.slow

SCRIPTED = {"path": "scripted", "backend": "scripted", "num_cpus": 0.5, "replicas": 2}
RAY_RUN = {"progress": False, "executor": "ray", "rows_per_shard": 2}
RETRY = {"attempts": 1, "initial_backoff_s": 0, "max_backoff_s": 0, "timeout_s": 30}


@pytest.fixture(scope="module")
def ray_with_scripts():
    if ray.is_initialized():
        ray.shutdown()
    tests = str(REPO / "tests")
    path = os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")]))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}, "worker_process_setup_hook": "ray_scripts.install"})
    yield
    ray.shutdown()


def test_an_rpc_run_on_workers_reports_every_stage(tmp_path, ray_with_scripts):
    sessions = [make_session(f"s-{k}", slot=k) for k in range(4)]
    source = write_input(tmp_path / "in", sessions, SESSION_SCHEMA, "simpsydial")
    every_level = {level: 1.0 for level in ("low", "moderately_low", "moderate", "moderately_high", "high")}
    cfg = parse_config({
        "pipeline": "rpc",
        "run": {"input": source, "output": str(tmp_path / "out"), **RAY_RUN},
        "models": {"m": SCRIPTED},
        "roles": {r: {"model": "m", "max_tokens": 256} for r in ("client", "counselor", "profiler", "rewriter",
                                                                  "labeler")},
        "retry": RETRY,
        "stages": {"dedup": {"enabled": False},
                   "rpc": {"injection": {"rate": 1.0, "level_weights": every_level}}},
    }, "test_worker_state_ray")
    manifest = run_pipeline(cfg)

    assert manifest["counts"]["rows"] == 4, manifest["drops"]
    throughput = manifest["stage_throughput"]
    assert throughput["profile"]["items"] == 4 and throughput["profile"]["items_per_s"] > 0
    assert throughput["label_binary"]["items"] == 4 * 6  # every client turn of every session
    assert throughput["rewrite"]["items"] >= 4 and throughput["plan"]["outcomes"] == {"injected": 4}
    assert manifest["episodes"]["decisions"] == {"injected": 4}  # the workers' records, summarised on the driver
    assert throughput["session"]["items"] == 4 and throughput["session"]["wall_s"] > 0
    engines = manifest["engines"]["m"]
    assert len(engines) == 2 and sum(e["items"] for e in engines) == 4  # both groups took part


def test_a_feedback_run_on_workers_reports_the_judge_stage(tmp_path, ray_with_scripts):
    records = [rpc_record(f"s-{k}", k) for k in range(3)]
    source = write_input(tmp_path / "rpc", records, RPC_SESSION_SCHEMA, "rpc")
    cfg = parse_config({
        "pipeline": "feedback",
        "run": {"input": source, "output": str(tmp_path / "feedback"), **RAY_RUN},
        "models": {"m": SCRIPTED},
        "roles": {"judge": {"model": "m", "max_tokens": 256}, "labeler": {"model": "m", "max_tokens": 64}},
        "retry": RETRY,
    }, "test_worker_state_ray")
    manifest = run_pipeline(cfg)

    assert manifest["counts"]["rows"] == 3, manifest["drops"]
    judge = manifest["stage_throughput"]["feedback"]
    # busy_s is merged too, but scripted calls are instant: it may round to 0.
    assert judge["items"] == judge["calls"] == 3 and judge["completion_tokens"] > 0 and judge["busy_s"] >= 0
    assert sum(e["items"] for e in manifest["engines"]["m"]) == 3
