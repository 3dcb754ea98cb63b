"""Engine faults through the real pipeline: failing, hanging and garbage-returning calls are retried with backoff,
a bounded number of times; a session whose retries run out is dropped with a recorded reason and the job goes
on. A prompt beyond the model's context fails that one session, never the job (on a real transformers engine:
the overflow is the engine's own check).

The faults come from `FaultyEngine` (the `faults:` config section) around the scripted engine, with the local
executor; every call that reaches the faulty engine is recorded by wrapping its `generate`.
"""
from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import pytest
from counselsim.cli import main
from counselsim.commands.run import NOTHING_DELIVERED
from counselsim.commands.verify import verify
from counselsim.config import load_config
from counselsim.corpus.shards import load_manifest, read_corpus
from counselsim.engines.faults import FaultyEngine
from counselsim.engines.pool import is_garbage
from counselsim.simpsydial.job import SimPsyDialJob
from helpers import REPO

PIPELINE = str(REPO / "pipelines" / "simpsydial.yaml")
SCRIPTED = ["models.default.backend=scripted", "models.default.path=scripted", "run.executor=local",
            "run.progress=false", "retry.initial_backoff_s=0.01", "retry.max_backoff_s=0.05", "retry.timeout_s=0.3"]


@dataclass
class Call:
    at: float
    seed: int | None  # retries of one call share its sampling seed; distinct calls do not
    outcome: str  # ok | garbage | EngineError | CancelledError (a timeout)


@pytest.fixture
def calls(monkeypatch) -> list[Call]:
    """Every call that reaches the fault-injecting engine, in order."""
    monkeypatch.chdir(REPO)
    seen: list[Call] = []
    original = FaultyEngine.generate

    async def generate(self, messages, sampling):
        at = time.monotonic()
        try:
            out = await original(self, messages, sampling)
        except BaseException as e:  # the caller's timeout cancels a hanging call
            seen.append(Call(at, sampling.seed, type(e).__name__))
            raise
        seen.append(Call(at, sampling.seed, "garbage" if is_garbage(out.text) else "ok"))
        return out

    monkeypatch.setattr(FaultyEngine, "generate", generate)
    return seen


def run(out: Path, sessions: int, *sets: str) -> int:
    args = ["run", PIPELINE, "--out", str(out), "--sessions", str(sessions)]
    for s in (*SCRIPTED, *sets):
        args += ["--set", s]
    return main(args)


@pytest.mark.parametrize("share, outcome, detail", [
    ("faults.error_share", "EngineError", "injected engine error"),
    ("faults.timeout_share", "CancelledError", "timeout"),
    ("faults.garbage_share", "garbage", "garbage output"),
])
def test_exhausted_retries_drop_the_session_and_the_job_goes_on(tmp_path, calls, share, outcome, detail):
    out = tmp_path / "corpus"
    t0 = time.monotonic()
    # Every call fails: 2 sessions x factor 2 = 4 attempted sessions, each ends after its first call's 3 tries.
    assert run(out, 2, f"{share}=1.0", "retry.attempts=3", "run.max_attempts_factor=2") == NOTHING_DELIVERED
    assert time.monotonic() - t0 < 60
    assert len(calls) == 4 * 3  # bounded: attempts x sessions, not one more
    assert {c.outcome for c in calls} == {outcome}
    assert sorted(Counter(c.seed for c in calls).values()) == [3, 3, 3, 3]
    manifest = load_manifest(str(out))
    assert manifest["drops"] == {"engine_error": 4}
    assert detail in manifest["drop_examples"]["engine_error"]
    assert manifest["counts"]["attempted"] == 4 and manifest["counts"]["rows"] == 0
    injected = manifest["engines"]["default"][0]["injected_faults"]
    assert sum(injected.values()) == 12
    assert verify(str(out)) == []


def test_retries_back_off_exponentially_with_bounded_jitter(tmp_path, calls):
    out = tmp_path / "corpus"
    initial = 0.02
    assert run(out, 3, "faults.error_share=1.0", "retry.attempts=4", f"retry.initial_backoff_s={initial}",
               "retry.max_backoff_s=5", "run.max_attempts_factor=1") == NOTHING_DELIVERED
    by_call = defaultdict(list)
    for c in calls:
        by_call[c.seed].append(c.at)
    assert len(by_call) == 3
    totals = []
    for times in by_call.values():
        assert len(times) == 4
        gaps = [b - a for a, b in zip(times, times[1:])]
        # wait n = initial * 2^(n-1) + jitter in [0, initial]
        for n, gap in enumerate(gaps, 1):
            assert gap >= initial * 2 ** (n - 1) - 0.002, gaps
        totals.append(sum(gaps))
    # Expected total 0.14 s to 0.20 s; the slack is for a loaded machine, but a whole second of jitter per wait
    # (tenacity's default) would not fit.
    assert min(totals) < 0.6, totals


def test_a_share_of_faulty_calls_is_absorbed_by_retries(tmp_path, calls):
    out = tmp_path / "corpus"
    assert run(out, 6, "faults.error_share=0.1", "faults.timeout_share=0.05", "faults.garbage_share=0.1",
               "faults.seed=7", "retry.attempts=4", "retry.timeout_s=0.2", "run.max_attempts_factor=3") == 0
    manifest = load_manifest(str(out))
    assert manifest["counts"]["rows"] == 6
    assert set(manifest["drops"]) <= {"engine_error"}
    injected = manifest["engines"]["default"][0]["injected_faults"]
    assert injected["error"] and injected["timeout"] and injected["garbage"]
    outcomes = Counter(c.outcome for c in calls)
    assert outcomes["EngineError"] == injected["error"] and outcomes["garbage"] == injected["garbage"]
    assert outcomes["CancelledError"] == injected["timeout"]
    per_call = Counter(c.seed for c in calls)
    assert max(per_call.values()) <= 4  # bounded
    retried_then_ok = {c.seed for c in calls if c.outcome == "ok"} & {c.seed for c in calls if c.outcome != "ok"}
    assert retried_then_ok  # some calls failed, were retried and then succeeded
    assert verify(str(out)) == []


@pytest.mark.engine
def test_a_prompt_beyond_the_context_drops_that_session_only(tmp_path, monkeypatch):
    """The client runs on a real transformers engine (SmolLM2, context cut to 1024 tokens): the client prompts of
    the normal cards fit (about 600 tokens), the long card's does not, and the engine refuses it. The counselor,
    whose prompt holds no role card, is scripted, so the test pays for one real generation per kept session."""
    import torch

    monkeypatch.chdir(REPO)
    threads = torch.get_num_threads()
    lines = (REPO / "role_cards" / "en" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    long = json.loads(lines[2])
    long["id"] = "en-long-1"
    long["chief_complaint"] = " ".join([long["chief_complaint"]] * 12)  # several thousand tokens
    pool = tmp_path / "pool.jsonl"
    pool.write_text("\n".join([lines[0], lines[1], json.dumps(long)]) + "\n", encoding="utf-8")
    out = tmp_path / "corpus"
    sets = ["models.default.backend=transformers", "models.default.path=embedded:smollm2",
            "models.default.options={max_model_len: 1024, batch_size: 8, threads: 1}",
            "models.scripted={path: scripted, backend: scripted}", "roles.counselor.model=scripted",
            f"role_cards.pools=[{pool}]", "run.executor=local", "run.progress=false", "run.max_attempts_factor=3",
            # a reply cut at max_tokens is regenerated, never kept: room for a whole one, ended at a line break
            "roles.client.max_tokens=128", 'roles.client.stop=["\\n"]',
            "session.max_turn_pairs=2", "session.min_turn_pairs=1",
            "session.refinement.max_attempts=8", "stages.dedup.enabled=false"]
    args = ["run", PIPELINE, "--out", str(out), "--sessions", "2"]
    for s in sets:
        args += ["--set", s]
    try:
        assert main(args) == 0
    finally:
        torch.set_num_threads(threads)  # the engine ran in this process

    manifest = load_manifest(str(out))
    assert manifest["counts"]["rows"] == 2
    assert manifest["drops"].get("context_overflow", 0) >= 1
    assert "does not fit the context of 1024" in manifest["drop_examples"]["context_overflow"]
    kept = [row for _, t in read_corpus(str(out), columns=["session_id", "role_card"]) for row in t.to_pylist()]
    assert "en-long-1" not in {row["role_card"]["id"] for row in kept}
    # Which card each attempted slot played: every attempt with the long card, and only those, overflowed.
    cfg = load_config(PIPELINE, ["run.sessions=2", f"run.output={out}", *sets])
    job = SimPsyDialJob(cfg)
    job.validate()
    plan = {item.key: item.payload.card.id for item in islice(job.plan(), 64)}
    drops = [json.loads(line) for line in (out / "staging" / "drops.jsonl").read_text().splitlines()]
    overflowed = {d["key"] for d in drops if d["reason"] == "context_overflow"}
    long_attempts = {d["key"] for d in drops if plan[d["key"]] == "en-long-1"}
    assert overflowed == long_attempts and overflowed
    assert verify(str(out)) == []
