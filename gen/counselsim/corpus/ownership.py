"""Which outputs a command may write: the tool never destroys what it did not write.

An output folder is ours when it is absent or empty, or holds this tool's manifest or staging for the same kind
of output (a `simpsydial` run, an `rpc` run, a `dedup` copy, an `audit` report). Anything else is refused before
any work starts. No output may be, lie inside, or contain one of the command's inputs, and none of the paths a
corpus writes (data/, staging/, manifest.json, README.md) may be a symlink, so every write and delete stays inside
the folder. An output file (export, role-card pools) is refused when it is a folder or a device, and replaced
only with `overwrite`.

A run also holds `staging/lock` (an fcntl lock) while it works, so a second run into the same output refuses
with the holder's pid instead of doing all the work twice.
"""
from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from counselsim.corpus import storage
from counselsim.corpus.integrity import DATA, MANIFEST, load_manifest
from counselsim.errors import InputError, OutputError

RUN_FILE = "run.json"  # staging/run.json, the run's identity (runtime.staging)
LOCK_FILE = "lock"
CORPUS_PATHS = (DATA, "staging", MANIFEST, "README.md")
REPORT_FILES = {"report.md", "report.html", "metrics.json", "figures", "wai_sessions.parquet"}


def claim_output(out: str, kind: str, inputs: Sequence[str] = (), staging: Path | None = None) -> None:
    """Refuse (OutputError, or InputError for a malformed place) unless `out` may be written as a `kind` output.
    `staging` is where a run of a remote output keeps its state, to recognise a remote folder as ours."""
    storage.check_place(out)
    _not_an_input(out, inputs)
    if staging is not None:
        _refuse_if_locked(staging)
    if storage.is_remote(out):
        _claim_remote(out, kind, staging)
        return
    folder = storage.local_path(out)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise InputError(f"{out}: the output must be a folder, not a file")
    for name in CORPUS_PATHS:
        if (folder / name).is_symlink():
            raise OutputError(f"{folder / name}: is a symlink; an output folder must hold its own {name}")
    entries = {p.name for p in folder.iterdir()}
    if not entries or _only_a_lock(folder):
        return
    if kind == "audit":
        if "metrics.json" in entries and entries <= REPORT_FILES:
            return
        raise OutputError(f"{out}: holds files that are not an earlier audit report ({_some(entries - REPORT_FILES)}); "
                          "choose an empty or new folder")
    found = _kind_of(out, staging or folder / "staging")
    if found == kind:
        return
    what = f"a '{found}' output" if found else f"files this tool did not write ({_some(entries)})"
    raise OutputError(f"{out}: holds {what}; choose an empty or new folder for a '{kind}' output")


def claim_file(path: str, inputs: Sequence[str] = (), overwrite: bool = False, flag: str = "--out") -> None:
    """Refuse unless `path` may be written as one output file."""
    storage.check_place(path, f"{flag} file")
    _not_an_input(path, inputs)
    if storage.is_remote(path):
        if storage.exists(path) and not overwrite:
            raise OutputError(f"{path}: exists; --overwrite replaces it")
        return
    target = storage.local_path(path)
    if target.is_dir():
        raise InputError(f"{path}: is a folder; {flag} takes a file name")
    if target.exists() or target.is_symlink():
        if not target.is_file():
            raise InputError(f"{path}: is not a regular file; {flag} takes a file name")
        if not overwrite:
            raise OutputError(f"{path}: exists; --overwrite replaces it")
    parent = next((p for p in target.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise InputError(f"{path}: {parent} is a file, not a folder")


@contextmanager
def output_lock(staging: Path) -> Iterator[None]:
    """Hold `staging/lock` for the block; a second holder is refused with the first one's pid."""
    staging.mkdir(parents=True, exist_ok=True)
    with open(staging / LOCK_FILE, "a+") as f:
        _take(f, staging)
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def check_not_shrinking(out: str, requested: int | None) -> None:
    """A run never deletes finished sessions, so asking a finished corpus for fewer than it holds is refused
    rather than answered with a corpus larger than requested."""
    manifest = load_manifest(out) if requested is not None else None
    counts = manifest.get("counts") if manifest else None
    held = counts.get("written") if isinstance(counts, dict) else None
    if isinstance(held, int) and held > requested:
        raise InputError(f"{out}: the corpus already holds {held} sessions, more than the {requested} requested; "
                         f"a run never deletes finished sessions: ask for {held} or more, or choose a new --out")


def _take(f, staging: Path) -> None:
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "?"
        raise OutputError(f"{staging.parent}: another run (pid {holder}) is writing this output; wait for it or "
                          "choose another --out") from None


def _refuse_if_locked(staging: Path) -> None:
    if (staging / LOCK_FILE).is_file():
        with open(staging / LOCK_FILE) as f:
            _take(f, staging)  # released when the file closes


def _only_a_lock(folder: Path) -> bool:
    """A run that stopped after taking its lock and before writing anything else left only staging/lock."""
    staging = folder / "staging"
    return [p.name for p in folder.iterdir()] == ["staging"] and staging.is_dir() and \
        {p.name for p in staging.iterdir()} <= {LOCK_FILE}


def _kind_of(out: str, staging: Path) -> str | None:
    """The kind of output this tool left at `out`: from its manifest, else from its staging; None if neither."""
    try:
        manifest = load_manifest(out)
    except InputError:
        manifest = None  # a damaged manifest is not evidence of ownership
    if manifest is not None:
        found = manifest.get("pipeline") or manifest.get("command")
        return found if isinstance(found, str) else None
    try:
        run = json.loads((staging / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return run.get("pipeline") if isinstance(run, dict) else None


def _claim_remote(out: str, kind: str, staging: Path | None) -> None:
    if not storage.list_files(out) and not storage.list_files(storage.join(out, DATA)):
        return
    found = _kind_of(out, staging) if staging is not None else _kind_of(out, Path("/nonexistent"))
    if found != kind:
        what = f"a '{found}' output" if found else "objects this tool did not write"
        raise OutputError(f"{out}: holds {what}; choose an empty or new prefix for a '{kind}' output")


def _not_an_input(out: str, inputs: Sequence[str]) -> None:
    for source in inputs:
        if source and _overlap(out, source):
            raise InputError(f"{out}: the output would overwrite the input {source}; choose an output outside it")


def _overlap(a: str, b: str) -> bool:
    """Whether one place is the other or lies inside it, symlinks resolved."""
    if storage.is_remote(a) or storage.is_remote(b):
        x, y = a.rstrip("/") + "/", b.rstrip("/") + "/"
        return x.startswith(y) or y.startswith(x)
    x, y = storage.local_path(a).resolve(), storage.local_path(b).resolve()
    return x == y or x in y.parents or y in x.parents


def _some(names: set[str]) -> str:
    shown = sorted(names)[:3]
    return ", ".join(shown) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
