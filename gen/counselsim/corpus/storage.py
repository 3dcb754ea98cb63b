"""Local and remote (s3://, gs://, ...) files behind one small surface.

Writes are atomic: locally a temp file in the same folder is renamed over the target; remotely the object only
appears when smart-open completes its multipart upload, and an upload that raises is aborted. Temp files are named
`.tmp-*`; listings never return them and readers never see them as finished files.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import signal
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq


def is_remote(uri: str) -> bool:
    return "://" in uri and not uri.startswith("file://")


def local_path(uri: str) -> Path:
    return Path(uri[len("file://"):] if uri.startswith("file://") else uri)


def join(uri: str, *parts: str) -> str:
    if is_remote(uri):
        return "/".join([uri.rstrip("/"), *parts])
    return str(local_path(uri).joinpath(*parts))


def exists(uri: str) -> bool:
    if not is_remote(uri):
        return local_path(uri).exists()
    fs, path = pafs.FileSystem.from_uri(uri)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


TEMP_PREFIX = ".tmp-"


def list_files(folder: str, pattern: str = "*") -> list[str]:
    """Files directly inside `folder` whose name matches `pattern`, sorted by name; temp files of unfinished
    writes are left out (fnmatch's `*` would match their leading dot)."""
    if not is_remote(folder):
        root = local_path(folder)
        if not root.is_dir():
            return []
        return sorted(str(p) for p in root.iterdir()
                      if p.is_file() and fnmatch.fnmatch(p.name, pattern) and not p.name.startswith(TEMP_PREFIX))
    fs, path = pafs.FileSystem.from_uri(folder)
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    scheme = folder.split("://", 1)[0]
    return sorted(f"{scheme}://{i.path}" for i in infos
                  if i.type == pafs.FileType.File and fnmatch.fnmatch(i.base_name, pattern))


@contextmanager
def atomic_writer(uri: str) -> Iterator[BinaryIO]:
    """A binary stream whose content becomes visible at `uri` only if the block completes."""
    if is_remote(uri):
        import smart_open

        with smart_open.open(uri, "wb") as f:
            yield f
        return
    target = local_path(uri)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex[:8]}-{target.name}")
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            crash = os.environ.get("COUNSELSIM_CRASH_IN_WRITE")
            if crash and crash in target.name:
                # Fault hook for the crash tests (tests/test_reliability_kill.py), inert unless the variable is set:
                # die by SIGKILL with half the data written and the rename not done, like a driver killed mid-write.
                f.truncate(f.tell() // 2)
                f.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            os.fsync(f.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_temp_files(folder: str) -> int:
    """Delete leftovers of interrupted local writes; they were never visible as finished files."""
    if is_remote(folder) or not local_path(folder).is_dir():
        return 0
    leftovers = list(local_path(folder).glob(f"{TEMP_PREFIX}*"))
    for p in leftovers:
        p.unlink(missing_ok=True)
    return len(leftovers)


def remove(uri: str) -> None:
    """Delete a file if it exists."""
    if not is_remote(uri):
        local_path(uri).unlink(missing_ok=True)
        return
    fs, path = pafs.FileSystem.from_uri(uri)
    if fs.get_file_info(path).type != pafs.FileType.NotFound:
        fs.delete_file(path)


def write_bytes(uri: str, data: bytes) -> None:
    with atomic_writer(uri) as f:
        f.write(data)


def read_bytes(uri: str) -> bytes:
    if not is_remote(uri):
        return local_path(uri).read_bytes()
    import smart_open

    with smart_open.open(uri, "rb") as f:
        return f.read()


def write_json(uri: str, obj: Any) -> None:
    write_bytes(uri, (json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n").encode("utf-8"))


def read_json(uri: str) -> Any:
    return json.loads(read_bytes(uri).decode("utf-8"))


def write_parquet(table: pa.Table, uri: str) -> dict[str, Any]:
    """Write one shard atomically (zstd). Returns its row count, size and sha256 for the manifest."""
    with tempfile.NamedTemporaryFile(suffix=".parquet") as tmp:
        pq.write_table(table, tmp.name, compression="zstd")
        data = Path(tmp.name).read_bytes()
    write_bytes(uri, data)
    return {"rows": table.num_rows, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def read_parquet(uri: str, columns: list[str] | None = None) -> pa.Table:
    if not is_remote(uri):
        return pq.read_table(local_path(uri), columns=columns)
    fs, path = pafs.FileSystem.from_uri(uri)
    return pq.read_table(path, filesystem=fs, columns=columns)


def sha256(uri: str) -> str:
    return hashlib.sha256(read_bytes(uri)).hexdigest()
