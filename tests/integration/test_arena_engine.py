"""The arena (Algorithm 2) on the real vLLM backend with the embedded SmolLM2-135M: two entrants (two temperatures
of the same model), a judge with guided JSON, 2 dialogues x 2 turn pairs. The real command is
killed (SIGKILL) once the first dialogue is staged, then run again: it must finish only the unfinished dialogue and
keep the staged one as it was. The audit's ratings and the preference export are then written from the corpus.

A 135M toy says nothing about which entrant is better; this checks that every path runs on a real engine, and
prints what it measured (battles/s, tokens/s, the engine's mean running batch with one dialogue in flight: above
1 only because the two entrants' calls overlap; the judge and the client run alone).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from counselsim.arena.corpus import load_arena
from counselsim.cli import main
from counselsim.corpus.shards import load_manifest
from counselsim.runtime.staging import JOURNAL
from helpers import REPO

pytestmark = pytest.mark.engine

CLI = str(REPO / ".venv" / "bin" / "counselsim")
DIALOGUES = 2
RUN_TIMEOUT_S = 900
SETTINGS = {
    "run.executor": "local", "run.progress": "false", "run.rows_per_shard": "1",
    # One dialogue at a time: the kill lands inside the second, and any overlap the engine sees is the entrants'.
    "run.max_in_flight": "1",
    "session.max_turn_pairs": "2",
    "models.default.env": '{VLLM_CPU_KVCACHE_SPACE: "1", VLLM_CPU_OMP_THREADS_BIND: "0-1", '
                          'VLLM_CPU_NUM_OF_RESERVED_CPU: "0"}',
}


def command(out: Path) -> list[str]:
    sets = [x for key, value in SETTINGS.items() for x in ("--set", f"{key}={value}")]
    return [CLI, "run", str(REPO / "pipelines" / "arena.yaml"), "--out", str(out), "--sessions", str(DIALOGUES),
            *sets]


def staged_records(out: Path) -> dict[str, list[str]]:
    """session_id -> turn texts of the dialogues staged so far (parts and journal)."""
    folder = out / "staging"
    found = {}
    for part in sorted(folder.glob("part-*.parquet")):
        for row in pq.read_table(part, columns=["session_id", "turns"]).to_pylist():
            found[row["session_id"]] = [t["text"] for t in row["turns"]]
    journal = folder / JOURNAL
    for line in journal.read_text().splitlines() if journal.exists() else []:
        if line.strip():
            row = json.loads(line)
            found[row["session_id"]] = [t["text"] for t in row["turns"]]
    return found


def run_killed_after_first_dialogue(out: Path) -> dict[str, list[str]]:
    log = out.with_suffix(".killed.log")
    with open(log, "wb") as err:
        proc = subprocess.Popen(command(out), cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + RUN_TIMEOUT_S
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                if (out / "staging").is_dir() and staged_records(out):
                    proc.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.2)
            proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"the run ended before the kill: {log.read_text()[-2000:]}"
    assert not (out / "manifest.json").exists()
    return staged_records(out)


def test_arena_on_the_embedded_model_resumes_after_a_kill(tmp_path):
    out = tmp_path / "arena"
    before = run_killed_after_first_dialogue(out)
    assert 1 <= len(before) < DIALOGUES

    rerun = subprocess.run(command(out), cwd=REPO, capture_output=True, timeout=RUN_TIMEOUT_S, check=False)
    assert rerun.returncode == 0, rerun.stderr.decode()[-3000:]
    manifest = load_manifest(str(out))
    assert manifest["record_type"] == "arena_dialogue"
    assert manifest["counts"]["rows"] == DIALOGUES
    assert manifest["throughput"]["new_records"] == DIALOGUES - len(before)  # the staged dialogue was kept
    assert main(["verify", str(out)]) == 0

    arena = load_arena(str(out))
    rows = {r["session_id"]: r for r in pq.read_table(out / "data").to_pylist()}
    for session_id, texts in before.items():
        assert [t["text"] for t in rows[session_id]["turns"]] == texts
    for row in rows.values():
        assert {e["name"] for e in row["entrants"]} == {"cool", "warm"}
        for turn in row["turns"]:
            if turn["speaker"] == "counselor":
                battle = turn["battle"]
                assert sorted(c["position"] for c in battle["candidates"]) == ["A", "B"]
                assert battle["judge_guided"]
                assert battle["status"] == "ok" or battle["winner"] is None
                assert turn["text"] == next(c["text"] for c in battle["candidates"]
                                            if c["entrant"] == battle["continued_with"])

    report = tmp_path / "report"
    assert main(["audit", "--input", str(out), "--out", str(report), "--embedding-model", "none"]) == 0
    section = json.loads((report / "metrics.json").read_text())["Arena (SimPsyDial Algorithm 2)"]
    stats = {r["statistic"]: r["value"] for r in section["Dialogue statistics (Table 4)"]}
    assert stats["# Dialogues"] == DIALOGUES
    assert stats["# Battles (judged counselor turns)"] == len(arena.battles)
    if arena.battles:
        assert {r["entrant"] for r in section["Ratings with intervals"]} <= {"cool", "warm"}

    preference = tmp_path / "preference.jsonl"
    assert main(["export", "--format", "preference", "--input", str(out), "--out", str(preference)]) == 0
    samples = [json.loads(line) for line in preference.read_text().splitlines()]
    assert len(samples) == len(arena.battles)
    assert all(s["prompt"][-1]["role"] == "user" and s["chosen"] != s["rejected"] for s in samples)

    engines = manifest["engines"]["default"][0]
    throughput = manifest["throughput"]
    print(json.dumps({"battles": len(arena.battles), "unjudged": arena.unjudged,
                      "throughput_of_rerun": throughput, "engine": engines,
                      "verdicts": [b.winner for b in arena.battles]}))
    # One dialogue in flight: a running batch above 1 can only come from the two entrants' calls overlapping.
    assert engines["mean_running_batch"] > 1.0
