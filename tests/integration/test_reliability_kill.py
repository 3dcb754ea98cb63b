"""Crash safety: `kill -9` of the driver at many moments of a run, then the same command again.

Each trial starts the real command (`.venv/bin/counselsim run`, scripted engine, local executor) in a fresh
folder and SIGKILLs it at one moment: at seeded random points of its progress, during the final steps, and, through
the test-only `storage.crash_hook` (set in the child by tests/faults/sitecustomize.py), in the middle of a staging
part, journal, shard or manifest write. The same command then runs to completion (in-process, to save interpreter start-ups), and the
corpus must hold exactly the requested sessions, each once, in readable shards that match the manifest, with
the same content as an uninterrupted run. The killed drivers run two at a time, since most of a driver's life
is its start-up.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from counselsim.cli import main
from counselsim.commands.verify import verify
from counselsim.corpus import storage
from counselsim.corpus.shards import load_manifest, read_corpus, shard_paths
from counselsim.errors import InputError
from counselsim.runtime.staging import DROPS, JOURNAL, Staging
from counselsim.schemas import Session
from counselsim.corpus.writer import write_corpus
from counselsim.schemas.arrow import SESSION_SCHEMA, sessions_to_table
from helpers import REPO, session

CLI = str(REPO / ".venv" / "bin" / "counselsim")
FAULTS = REPO / "tests" / "faults"  # its sitecustomize sets storage.crash_hook inside the child process


def crash_env(name: str) -> dict[str, str]:
    """Environment for a child that dies by SIGKILL inside the atomic write of the file named like `name`."""
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(FAULTS), os.environ.get("PYTHONPATH")])),
            "CRASH_IN_WRITE": name}
SESSIONS = 12
ROWS = 3  # rows per staging part and per shard: 4 parts, 4 shards
SEED = 20261125
OPTIONS = ["--set", "models.default.backend=scripted", "--set", "models.default.path=scripted",
           "--set", "models.default.options={delay_s: 0.01}", "--set", "run.executor=local",
           "--set", "run.max_in_flight=4", "--set", "run.progress=false"]


def command(out: Path, sessions: int = SESSIONS, rows: int = ROWS) -> list[str]:
    return ["run", str(REPO / "pipelines" / "simpsydial.yaml"), "--out", str(out), "--sessions", str(sessions),
            "--set", f"run.rows_per_shard={rows}", *OPTIONS]


def staged(out: Path) -> int:
    """Records staged so far (parts are full; a record may be counted twice while a part is being compacted)."""
    folder = out / "staging"
    try:
        lines = (folder / JOURNAL).read_bytes().count(b"\n")
    except FileNotFoundError:
        lines = 0
    return ROWS * len(list(folder.glob("part-*.parquet"))) + lines


def temp_files(out: Path) -> list[Path]:
    return sorted(out.rglob(f"{storage.TEMP_PREFIX}*"))


@dataclass
class Moment:
    name: str
    crash_in_write: str | None = None  # a target file name part for the storage hook
    after_staged: int | None = None  # kill once this many records are staged ...
    jitter_s: float = 0.0  # ... and this much later
    on_file: str | None = None  # or once this file exists


def moments() -> list[Moment]:
    rng = random.Random(SEED)
    progress = [Moment(f"staged-{k}", after_staged=k, jitter_s=round(rng.uniform(0, 0.05), 3))
                for k in sorted(rng.sample(range(SESSIONS), 7))]
    return [
        Moment("after-run-json", on_file="staging/run.json"),
        *progress,
        Moment("all-staged", after_staged=SESSIONS, jitter_s=round(rng.uniform(0, 0.2), 3)),
        Moment("in-part-write", crash_in_write="part-00001"),
        Moment("in-journal-reset", crash_in_write="journal.jsonl"),
        Moment("in-shard-write", crash_in_write="shard-00002"),
        Moment("in-manifest-write", crash_in_write="manifest.json"),
    ]


MOMENTS = moments()


@dataclass
class Killed:
    out: Path
    returncode: int
    landed: bool  # the driver was alive when the kill came
    before: dict = field(default_factory=dict)


def kill_at(moment: Moment, out: Path, timeout_s: float = 120) -> Killed:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if moment.crash_in_write:
        env.update(crash_env(moment.crash_in_write))
    log = open(out.with_suffix(".log"), "wb")
    proc = subprocess.Popen([CLI, *command(out)], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + timeout_s
    landed = False
    try:
        if moment.crash_in_write:
            proc.wait(timeout_s)
            landed = proc.returncode == -signal.SIGKILL
        else:
            while proc.poll() is None and time.monotonic() < deadline:
                if moment.on_file and (out / moment.on_file).exists():
                    break
                if moment.after_staged is not None and b"run started" in out.with_suffix(".log").read_bytes() \
                        and staged(out) >= moment.after_staged:
                    time.sleep(moment.jitter_s)
                    break
                time.sleep(0.003)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                landed = True
            proc.wait(timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    return Killed(out, proc.returncode, landed, observe(out))


def observe(out: Path) -> dict:
    """What a reader finds right after the kill, before any rerun."""
    found: dict = {"temp": [p.name for p in temp_files(out)], "manifest": (out / "manifest.json").exists()}
    try:
        found["verify"] = verify(str(out))
    except InputError as e:
        found["verify"] = f"refused: {e}"
    if (out / "data").is_dir():
        found["listed"] = [Path(p).name for p in storage.list_files(str(out / "data"), "*.parquet")]
    return found


@pytest.fixture(scope="module")
def reference(tmp_path_factory, monkeypatch_module):
    """An uninterrupted run: the content every rerun must reproduce."""
    out = tmp_path_factory.mktemp("reference") / "corpus"
    assert main(command(out)) == 0
    return contents(out)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)  # the pipeline's role-card pools are relative to the repository
        yield mp


@pytest.fixture(scope="module")
def killed(tmp_path_factory) -> dict[str, Killed]:
    root = tmp_path_factory.mktemp("kills")
    with ThreadPoolExecutor(2) as pool:
        results = pool.map(lambda m: kill_at(m, root / m.name), MOMENTS)
        return {m.name: r for m, r in zip(MOMENTS, results)}


def contents(out: Path) -> dict[str, list[str]]:
    """session_id -> its turn texts, read the way every corpus reader reads (shard_paths + read_corpus)."""
    found: dict[str, list[str]] = {}
    for _, table in read_corpus(str(out), expected="session", columns=["session_id", "turns"]):
        for row in table.to_pylist():
            assert row["session_id"] not in found, f"session {row['session_id']} written twice"
            found[row["session_id"]] = [t["text"] for t in row["turns"]]
    return found


def check_complete(out: Path, reference: dict[str, list[str]]) -> None:
    manifest = load_manifest(str(out))
    assert manifest is not None
    assert manifest["counts"]["rows"] == manifest["counts"]["requested"] == SESSIONS
    assert manifest["counts"]["written"] == SESSIONS and manifest["drops"] == {}
    names = [s["name"] for s in manifest["shards"]]
    assert names == [f"data/shard-{i:05d}.parquet" for i in range(len(names))]
    assert [Path(p).name for p in shard_paths(str(out))] == [Path(n).name for n in names]
    slots = []
    for name in names:
        table = pq.read_table(out / name)  # every shard readable, with the session schema
        assert table.schema.equals(SESSION_SCHEMA, check_metadata=False)
        slots += table.column("slot").to_pylist()
    assert sorted(slots) == list(range(SESSIONS))  # exactly the requested sessions, each once
    assert contents(out) == reference
    assert verify(str(out)) == []
    assert main(["verify", str(out)]) == 0
    assert temp_files(out) == []
    assert (out / "staging" / JOURNAL).read_bytes() == b""


def test_at_least_ten_distinct_kills_land(killed):
    landed = [name for name, k in killed.items() if k.landed and k.returncode == -signal.SIGKILL]
    assert len(landed) >= 10, {name: (k.returncode, k.landed) for name, k in killed.items()}
    for name in ("in-part-write", "in-journal-reset", "in-shard-write", "in-manifest-write"):
        assert name in landed, killed[name]


@pytest.mark.parametrize("moment", [m.name for m in MOMENTS])
def test_rerun_after_kill_completes_the_corpus(moment, killed, reference, monkeypatch_module):
    k = killed[moment]
    before = k.before
    # Right after the kill a reader never takes unfinished output for finished output: either there is no
    # manifest yet (verify refuses), or the manifest was the last thing written and matches its shards.
    if before["manifest"]:
        assert before["verify"] == []
    else:
        assert str(before["verify"]).startswith("refused: ")
    assert not any(storage.TEMP_PREFIX in name for name in before.get("listed", []))
    target = next(m.crash_in_write for m in MOMENTS if m.name == moment)
    if target:  # the torn temp file is there, but no listing returns it
        assert any(target in name for name in before["temp"]), before
    assert main(command(k.out)) == 0
    check_complete(k.out, reference)


def test_a_kill_while_rewriting_a_finished_corpus_leaves_no_stale_manifest(tmp_path, reference, monkeypatch_module):
    """A rerun that re-shards a finished corpus (rows_per_shard is not part of the corpus' identity) is killed
    while writing its second shard: the old manifest must not be left beside the new shards."""
    out = tmp_path / "corpus"
    assert main(command(out, rows=4)) == 0
    env = {**os.environ, **crash_env("shard-00001")}
    proc = subprocess.run([CLI, *command(out, rows=ROWS)], cwd=REPO, env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    found = observe(out)
    assert found["verify"] == [] if found["manifest"] else str(found["verify"]).startswith("refused: "), found
    assert main(command(out, rows=ROWS)) == 0
    check_complete(out, reference)
    assert [s["rows"] for s in load_manifest(str(out))["shards"]] == [3, 3, 3, 3]


def test_a_torn_last_journal_or_drops_line_does_not_poison_later_appends(tmp_path):
    """A kill inside an append leaves half a line; new lines appended after it must not glue onto it, or the
    next resume would find a corrupt line in the middle of the file and refuse to go on."""
    def open_staging() -> Staging:
        return Staging(tmp_path, SESSION_SCHEMA, Session, rows_per_part=100, key_column="session_id")

    st = open_staging()
    st.recover()
    st.add_record(session("s-1", slot=0))
    st.add_drop("k-1", "too_short", "1 turn pair")
    for name in (JOURNAL, DROPS):
        with open(tmp_path / name, "ab") as f:
            f.write(b'{"key": "half-writ')
    st = open_staging()
    rec = st.recover()
    assert rec.torn_lines == 2 and rec.done == {"s-1"} and set(rec.drops) == {"k-1"}
    st.add_record(session("s-2", slot=1))
    st.add_drop("k-2", "too_short", "1 turn pair")
    rec = open_staging().recover()  # a second resume
    assert rec.torn_lines == 0 and rec.done == {"s-1", "s-2"} and set(rec.drops) == {"k-1", "k-2"}


# --- the other jobs: role-cards build and audit --wai ---------------------------------------------------------------

SCRIPTED_JOB = ["--set", "models.default.backend=scripted", "--set", "models.default.path=scripted",
                "--set", "models.default.options={delay_s: 0.05}", "--set", "run.executor=local",
                "--set", "run.progress=false"]


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def kill_when(argv: list[str], finished, at_least: int, timeout_s: float = 120) -> int:
    """Start `counselsim argv`, SIGKILL it once `finished()` counts `at_least` staged items; what it had staged."""
    proc = subprocess.Popen([CLI, *argv], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    try:
        while proc.poll() is None and finished() < at_least and time.monotonic() < deadline:
            time.sleep(0.003)
        assert proc.poll() is None, "the command ended before the kill"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return finished()


@pytest.fixture
def engine_calls(monkeypatch):
    """Counts the calls the scripted engine serves in this process."""
    from counselsim.engines.scripted import ScriptedEngine

    calls = []
    generate = ScriptedEngine.generate

    async def counted(self, messages, sampling):
        calls.append(messages[-1]["content"][:80])
        return await generate(self, messages, sampling)

    monkeypatch.setattr(ScriptedEngine, "generate", counted)
    return calls


def test_a_killed_role_cards_build_resumes_without_rebuilding_finished_complaints(tmp_path, engine_calls,
                                                                                   monkeypatch_module):
    complaints = tmp_path / "complaints.jsonl"
    n = 24
    complaints.write_text("".join(f'{{"id": "c-{i:02d}", "complaint": "Complaint number {i}: I cannot sleep at '
                                  f'night."}}\n' for i in range(n)))
    pool = tmp_path / "built.jsonl"
    # The scripted engine answers no card: each complaint is one call (max_attempts 1), then a recorded failure.
    argv = ["role-cards", "build", "--complaints", str(complaints), "--out", str(pool), *SCRIPTED_JOB,
            "--set", "stages.build.max_attempts=1", "--set", "stages.build.concurrency=2"]
    staged = kill_when(argv, lambda: lines(tmp_path / "built.staging" / DROPS), at_least=6)
    assert 6 <= staged < n and not pool.exists()
    assert main(argv) == 1  # no card built, as the script never answers one
    assert len(engine_calls) == n - staged  # only the complaints not finished before the kill
    failed = [json.loads(line) for line in (tmp_path / "built.failed.jsonl").read_text().splitlines()]
    assert [f["id"] for f in failed] == [f"c-{i:02d}" for i in range(n)]  # each complaint once


def test_a_killed_wai_audit_resumes_without_repeating_finished_judge_calls(tmp_path, engine_calls,
                                                                           monkeypatch_module):
    corpus = tmp_path / "corpus"
    write_corpus(str(corpus), SESSION_SCHEMA, [sessions_to_table(session(f"s-{k}", slot=k) for k in range(3))],
                 {"command": "test"}, rows_per_shard=8)
    report = tmp_path / "report"
    calls = 3 * 12  # sessions x items, one round
    argv = ["audit", "--input", str(corpus), "--out", str(report), "--embedding-model", "none",
            "--wai", str(REPO / "pipelines" / "wai.yaml"), *SCRIPTED_JOB,
            "--set", "stages.wai.rounds=1", "--set", "stages.wai.concurrency=2"]
    staged = kill_when(argv, lambda: lines(tmp_path / "report.staging" / JOURNAL), at_least=8)
    assert 8 <= staged < calls and not (report / "report.md").exists()
    assert main(argv) == 0
    assert len(engine_calls) == calls - staged
    markdown = (report / "report.md").read_text(encoding="utf-8")
    assert f"3 of 3 sessions judged; {calls} judge calls" in markdown
