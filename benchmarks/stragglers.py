"""A straggler: two replicas, one slowed 2x by the fault injector, with pull-based work against hash-pinned routing.

Scripted engines with a fixed delay per call (so the time is the engines', not this machine's CPUs); replica 1
has `faults.slow_factor=2`. Each replica keeps `--in-flight` sessions running. The ideal split finishes when the
total work is done at the two replicas' combined speed: calls x delay / (in_flight x (1 + 1/2)). Pull is the
pipeline as it runs; pinned replays the old routing (a session's replica is crc32(session id) % replicas, fixed
when it is planned), by pinning each planned item to a queue its group alone drains. Both in one run.

    python benchmarks/stragglers.py [--sessions 96] [--in-flight 8] [--delay-s 0.1]
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import zlib
from collections import deque
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "pipelines" / "simpsydial.yaml"


class Pinned:
    """A ledger view for one group: it takes only the items hashed to its replica; items taken from the ledger
    for another replica wait in that replica's queue (they are assigned, as the old router assigned them)."""

    queues: dict[int, deque] = {}

    def __init__(self, ledger, replica: int, replicas: int) -> None:
        self.ledger, self.replica, self.replicas = ledger, replica, replicas
        self.queues.setdefault(replica, deque())

    def take(self, count: int):
        mine = self.queues[self.replica]
        while len(mine) < count and (item := self.ledger.next_item()) is not None:
            self.queues.setdefault(zlib.crc32(item.key.encode()) % self.replicas, deque()).append(item)
        return [mine.popleft() for _ in range(min(count, len(mine)))]

    def __getattr__(self, name):
        return getattr(self.ledger, name)


def run(out: Path, args: argparse.Namespace, pinned: bool) -> dict:
    from counselsim.config import load_config
    from counselsim.runtime import dispatch
    from counselsim.runtime.driver import run_pipeline

    serve = dispatch.serve
    if pinned:
        Pinned.queues = {}

        async def pinned_serve(group, ledger, capacity, stall_timeout_s):
            return await serve(group, Pinned(ledger, group.replica, 2), capacity, stall_timeout_s)

        dispatch.serve = pinned_serve
    cfg = load_config(CONFIG, [f"run.output={out}", f"run.sessions={args.sessions}", "run.progress=false",
                               "models.default.backend=scripted", "models.default.path=scripted",
                               f"models.default.options={{delay_s: {args.delay_s}}}", "models.default.env={}",
                               "models.default.replicas=2", "models.default.num_cpus=0.1",
                               f"run.max_in_flight={args.in_flight}", "faults.slow_factor=2", "faults.replicas=[1]",
                               "stages.dedup.enabled=false"])
    try:
        manifest = run_pipeline(cfg)
    finally:
        dispatch.serve = serve
    wall = manifest["throughput"]["wall_s"]
    calls = round(manifest["throughput"]["turns_per_s"] * wall)
    ideal = calls * args.delay_s / (args.in_flight * (1 + 1 / 2))
    items = [r["items"] for r in manifest["engines"]["default"]]
    return {"routing": "pinned" if pinned else "pull", "calls": calls, "wall_s": wall, "ideal_s": round(ideal, 2),
            "wall_over_ideal": round(wall / ideal, 3), "sessions_fast_slow": items}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=96)
    ap.add_argument("--in-flight", type=int, default=8)
    ap.add_argument("--delay-s", type=float, default=0.1)
    args = ap.parse_args()

    from counselsim.runtime.driver import init_ray

    init_ray(None)
    tmp = Path(tempfile.mkdtemp(prefix="stragglers-"))
    try:
        rows = [run(tmp / routing, args, routing == "pinned") for routing in ("pull", "pinned")]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for row in rows:
        print(json.dumps(row))
    print("\n| routing | engine calls | wall s | ideal split s | wall / ideal | sessions (fast / slow replica) |\n"
          "|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['routing']} | {r['calls']} | {r['wall_s']} | {r['ideal_s']} | {r['wall_over_ideal']} | "
              f"{r['sessions_fast_slow'][0]} / {r['sessions_fast_slow'][1]} |")


if __name__ == "__main__":
    main()
