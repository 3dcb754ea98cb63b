"""The driver's ceiling: its CPU per turn with sessions on session workers, scripted engines through Ray.

For 1, 2 and 4 replicas, a small and a large run of the SimPsyDial pipeline (scripted engine with no delay, so no
model cost; dedup off). The driver's CPU is `time.process_time()` of this process around `run_pipeline`; the
marginal CPU per turn is (large - small) / (turns large - turns small), which cancels the fixed costs (starting
the groups, finalizing; a warm-up run first takes the imports). turns/s is the large run's, from its manifest.

    python benchmarks/driver_ceiling.py [--sessions 150 600] [--replicas 1 2 4]
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "pipelines" / "simpsydial.yaml"


def run(out: Path, sessions: int, replicas: int, max_batch: int) -> dict:
    from counselsim.config import load_config
    from counselsim.runtime.driver import run_pipeline

    cfg = load_config(CONFIG, [f"run.output={out}", f"run.sessions={sessions}", "run.progress=false",
                               "models.default.backend=scripted", "models.default.path=scripted",
                               f"models.default.options={{max_batch: {max_batch}}}", "models.default.env={}",
                               f"models.default.replicas={replicas}", "models.default.num_cpus=0.1",
                               "stages.dedup.enabled=false"])
    cpu0, wall0 = time.process_time(), time.monotonic()
    manifest = run_pipeline(cfg)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    turns = manifest["throughput"]["turns_per_s"] * manifest["throughput"]["wall_s"]
    return {"sessions": sessions, "turns": round(turns), "driver_cpu_s": round(cpu, 3), "wall_s": round(wall, 2),
            "turns_per_s": manifest["throughput"]["turns_per_s"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, nargs=2, default=[150, 600])
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--max-batch", type=int, default=256, help="the scripted engine's batch (in flight: 1.5x)")
    args = ap.parse_args()

    from counselsim.runtime.driver import init_ray

    init_ray(None)
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="driver-ceiling-"))
    try:
        run(tmp / "warm-up", args.sessions[0], 1, args.max_batch)  # imports and first-use costs, not counted
        for replicas in args.replicas:
            small, large = (run(tmp / f"r{replicas}-{n}", n, replicas, args.max_batch) for n in args.sessions)
            marginal_ms = (large["driver_cpu_s"] - small["driver_cpu_s"]) / (large["turns"] - small["turns"]) * 1e3
            rows.append({"replicas": replicas, "small": small, "large": large,
                         "driver_cpu_ms_per_turn": round(marginal_ms, 4), "turns_per_s": large["turns_per_s"]})
            print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n| replicas | turns (small / large) | driver CPU s (small / large) | marginal driver CPU per turn | "
          "turns/s (large) |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['replicas']} | {r['small']['turns']} / {r['large']['turns']} | {r['small']['driver_cpu_s']} / "
              f"{r['large']['driver_cpu_s']} | {r['driver_cpu_ms_per_turn']:.3f} ms | {r['turns_per_s']:.0f} |")


if __name__ == "__main__":
    main()
