"""Worker, engine and node loss on a real (local, two-node) Ray cluster, with the scripted engine, against the
session-group layout (runtime/dispatch.py): a session worker killed mid-run is replaced and its sessions run
again; a stalled engine (calls pending, nothing returned, process alive) is detected within `run.stall_timeout_s`
and its group replaced, long before call timeout x retries; a slowed replica gets fewer sessions; client and
counselor on different models are placed together (STRICT_PACK) on one node; a worker node that vanishes
mid-run takes its group with it, the group is started again on the surviving head node, and the job completes
there. And an engine error raised inside a worker is retried and recorded by the engine's own message.

The cluster: a head with 1 CPU and a worker with 2. Each engine replica asks for 0.5 CPU and no custom resource,
so a group can restart on the head once the worker is gone (a resource only the worker has would leave it
unschedulable for ever); with two replicas, Ray's SPREAD placement puts one on each node. Node loss is a
non-graceful removal (the raylet is killed); the cluster's health check is tightened so the loss is noticed in
about a second.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import ray
from counselsim.cli import main
from counselsim.commands.run import NOTHING_DELIVERED
from counselsim.commands.verify import verify
from counselsim.corpus.shards import load_manifest
from counselsim.runtime import dispatch
from counselsim.runtime.staging import JOURNAL
from helpers import REPO

pytestmark = pytest.mark.slow

RETRY = ["retry.attempts=10", "retry.initial_backoff_s=0.5", "retry.max_backoff_s=2", "retry.timeout_s=60"]


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    system = {"health_check_period_ms": 500, "health_check_failure_threshold": 3, "health_check_initial_delay_ms": 0}
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False,
                                                      "object_store_memory": 150 * 2**20, "_system_config": system})
    worker = c.add_node(num_cpus=2, object_store_memory=100 * 2**20)
    ray.init(address=c.address, include_dashboard=False, log_to_driver=False)
    try:
        yield c, worker
    finally:
        ray.shutdown()  # other test modules start Ray of their own
        c.shutdown()


class Watched(dispatch.SessionGroup):
    """The pipeline's session group, remembering where (node, worker pid) each of its workers started."""

    made: list["Watched"] = []

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.starts: list[tuple[str, int]] = []
        Watched.made.append(self)

    async def start(self):
        info = await super().start()
        self.starts.append((info["node_id"], info["pid"]))
        return info


@pytest.fixture
def groups(monkeypatch) -> list[Watched]:
    """The session groups of the next run, in replica order."""
    Watched.made = []
    monkeypatch.setattr(dispatch, "SessionGroup", Watched)
    return Watched.made


def run_in_background(out: Path, sessions: int, *sets: str) -> tuple[threading.Thread, dict]:
    args = ["run", str(REPO / "pipelines" / "simpsydial.yaml"), "--out", str(out), "--sessions", str(sessions)]
    for s in ["models.default.backend=scripted", "models.default.path=scripted",
              "models.default.options={delay_s: 0.1}", "models.default.num_cpus=0.5", "models.default.env={}",
              "run.executor=ray", "run.progress=false", "run.rows_per_shard=4", *RETRY, *sets]:
        args += ["--set", s]
    result: dict = {}

    def target() -> None:
        try:
            result["rc"] = main(args)
        except BaseException as e:  # reported by the test
            result["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, result


def staged(out: Path) -> int:
    folder = out / "staging"
    lines = (folder / JOURNAL).read_bytes().count(b"\n") if (folder / JOURNAL).exists() else 0
    return 4 * len(list(folder.glob("part-*.parquet"))) + lines


def wait_for_staged(out: Path, count: int, thread: threading.Thread, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and thread.is_alive():
        if staged(out) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"the run did not stage {count} sessions in time (alive: {thread.is_alive()})")


def check_complete(out: Path, sessions: int) -> dict:
    manifest = load_manifest(str(out))
    assert manifest["counts"]["rows"] == sessions
    assert manifest["drops"] == {}, manifest["drop_examples"]  # every in-flight session was retried, none lost
    assert verify(str(out)) == []
    return manifest


def test_a_killed_worker_is_replaced_and_its_sessions_run_again(cluster, tmp_path, monkeypatch, repo, groups):
    monkeypatch.chdir(repo)
    out = tmp_path / "corpus"
    thread, result = run_in_background(out, 6, "run.max_in_flight=3")
    wait_for_staged(out, 1, thread)
    (group,) = groups
    ray.kill(group.worker, no_restart=True)  # the worker process dies with its sessions in flight
    thread.join(180)
    assert not thread.is_alive() and result.get("rc") == 0, result
    manifest = check_complete(out, 6)
    assert len(group.starts) == 2 and group.starts[1][1] != group.starts[0][1]  # a new worker finished the job
    assert manifest["engines"]["default"][0]["replaced"] == 1


def test_engine_errors_inside_a_worker_are_retried_then_the_session_dropped(cluster, tmp_path, monkeypatch, repo):
    """The Ray path of engine faults: the engine raises inside the worker, each call is retried a bounded number of
    times, and the session is dropped as engine_error with the engine's own message."""
    monkeypatch.chdir(repo)
    out = tmp_path / "corpus"
    thread, result = run_in_background(out, 2, "faults.error_share=1.0", "retry.attempts=3",
                                       "retry.initial_backoff_s=0.01", "retry.max_backoff_s=0.05",
                                       "run.max_attempts_factor=1")
    thread.join(120)
    assert not thread.is_alive() and result.get("rc") == NOTHING_DELIVERED, result
    manifest = load_manifest(str(out))
    assert manifest["drops"] == {"engine_error": 2} and manifest["counts"]["rows"] == 0
    assert "injected engine error" in manifest["drop_examples"]["engine_error"]
    assert sum(r["injected_faults"]["error"] for r in manifest["engines"]["default"]) == 6  # 2 sessions x 3 tries


def test_a_stalled_engine_is_replaced_within_the_stall_timeout(cluster, tmp_path, monkeypatch, repo, groups):
    """Replica 0's engine stops answering after 5 calls (process alive). With a call timeout of 60 s and 10
    attempts, waiting the calls out would take ten minutes; the stall watch replaces the group after 2 s of silence
    and the sessions it held run again, on either group."""
    monkeypatch.chdir(repo)
    out = tmp_path / "corpus"
    t0 = time.monotonic()
    thread, result = run_in_background(out, 8, "models.default.replicas=2", "run.max_in_flight=2",
                                       "faults.stall_after_calls=5", "faults.replicas=[0]", "run.stall_timeout_s=2")
    thread.join(120)
    assert not thread.is_alive() and result.get("rc") == 0, result
    assert time.monotonic() - t0 < 90
    manifest = check_complete(out, 8)
    replaced = [r["replaced"] for r in manifest["engines"]["default"]]
    assert replaced == [1, 0], replaced  # the stalled group once (its replacement is healthy), the other never
    assert len(groups[0].starts) == 2


def test_a_slow_replica_gets_fewer_sessions(cluster, tmp_path, monkeypatch, repo):
    """Pull, not push: replica 1 runs 4x slower, so it asks for work less often and serves fewer sessions."""
    monkeypatch.chdir(repo)
    out = tmp_path / "corpus"
    thread, result = run_in_background(out, 16, "models.default.replicas=2", "run.max_in_flight=2",
                                       "faults.slow_factor=4", "faults.replicas=[1]")
    thread.join(180)
    assert not thread.is_alive() and result.get("rc") == 0, result
    manifest = check_complete(out, 16)
    fast, slow = (r["items"] for r in manifest["engines"]["default"])
    assert fast > 2 * slow and slow >= 1, (fast, slow)


def test_client_and_counselor_models_run_together_on_one_node(cluster, tmp_path, monkeypatch, repo, groups):
    """Two models: each group's two engine actors and its worker share one node (STRICT_PACK), so no turn crosses
    a node boundary; the placement the README recommends for two-model setups."""
    monkeypatch.chdir(repo)
    out = tmp_path / "corpus"
    scripted = "{backend: scripted, path: scripted, num_cpus: 0.5, env: {}, options: {delay_s: 0.02}}"
    thread, result = run_in_background(out, 4, f"models.client={scripted}", f"models.counselor={scripted}",
                                       "roles.client.model=client", "roles.counselor.model=counselor",
                                       "run.max_in_flight=2")
    thread.join(180)
    assert not thread.is_alive() and result.get("rc") == 0, result
    manifest = check_complete(out, 4)
    (group,) = groups
    assert set(manifest["engines"]) == {"client", "counselor"}
    worker_node = group.starts[0][0]
    engine_nodes = {entry["node_id"] for entries in manifest["engines"].values() for entry in entries}
    assert engine_nodes == {worker_node}


# Last: it removes the worker node from the module's cluster.
def test_losing_the_worker_node_completes_the_job_on_the_head(cluster, tmp_path, monkeypatch, repo, groups):
    c, worker = cluster
    head = c.head_node.node_id
    monkeypatch.chdir(repo)
    out = tmp_path / "corpus"
    thread, result = run_in_background(out, 12, "models.default.replicas=2", "run.max_in_flight=2")
    wait_for_staged(out, 2, thread)
    nodes = sorted(g.starts[0][0] for g in groups)
    assert nodes == sorted([head, worker.node_id]), "Ray placed both groups on one node; the test needs one each"
    lost = next(g for g in groups if g.starts[0][0] == worker.node_id)
    c.remove_node(worker, allow_graceful=False)
    # The lost group comes back on the head while sessions are still to be done.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and thread.is_alive() and len(lost.starts) < 2:
        time.sleep(0.05)
    left = 12 - staged(out)
    assert thread.is_alive() and left > 0, left
    thread.join(240)
    assert not thread.is_alive() and result.get("rc") == 0, result
    check_complete(out, 12)
    assert lost.starts[-1][0] == head  # the replacement ran on the surviving node
