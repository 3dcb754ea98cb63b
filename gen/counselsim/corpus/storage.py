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
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from counselsim.errors import InputError, OutputError

# Remote filesystems both pyarrow and smart-open can reach (with the `cloud` extra installed).
REMOTE_SCHEMES = ("s3", "gs", "az")


def is_remote(uri: str) -> bool:
    return "://" in uri and not uri.startswith("file://")


def check_place(uri: str, what: str = "output") -> None:
    """A local path, file://, or one of REMOTE_SCHEMES; anything else is an InputError before any work."""
    if not uri.strip():
        raise InputError(f"the {what} is empty: give a folder, a file or a URI")
    if is_remote(uri):
        scheme = uri.split("://", 1)[0]
        if scheme not in REMOTE_SCHEMES:
            known = ", ".join(f"{s}://" for s in REMOTE_SCHEMES)
            raise InputError(f"{uri}: the {what} must be a local path or a {known} URI, not {scheme}://")


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


# Test-only fault injection: the kill tests set this from inside the child process (tests/faults/), never from
# the environment. Called after the data is written and before the rename, with the target and the open file.
crash_hook: Callable[[Path, BinaryIO], None] | None = None


@contextmanager
def atomic_writer(uri: str) -> Iterator[BinaryIO]:
    """A binary stream whose content becomes visible at `uri` only if the block completes. A local file that
    cannot be written (read-only folder, full disk, a path under /proc) is an OutputError naming it."""
    if is_remote(uri):
        import smart_open

        with smart_open.open(uri, "wb") as f:
            yield f
        return
    target = local_path(uri)
    tmp = target.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex[:8]}-{target.name}")
    try:
        with _as_output_error(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            f = open(tmp, "wb")
        with f:
            try:
                yield f
            except OSError as e:
                if e.filename is not None:  # the caller failed on another file (an input): its error stands
                    raise
                raise _unwritable(target, e) from None
            with _as_output_error(target):
                f.flush()
                if crash_hook is not None:
                    crash_hook(target, f)
                os.fsync(f.fileno())
        with _as_output_error(target):
            os.replace(tmp, target)
            _fsync_dir(target.parent)
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


@contextmanager
def _as_output_error(target: Path) -> Iterator[None]:
    try:
        yield
    except OSError as e:
        raise _unwritable(target, e) from None


def _unwritable(target: Path, e: OSError) -> OutputError:
    return OutputError(f"{target}: cannot be written ({e.strerror or e})")


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


def remove_inside(uri: str, root: str) -> None:
    """Delete a local file only if, symlinks resolved, it lies inside `root`: a corpus never deletes elsewhere."""
    path, base = local_path(uri), local_path(root).resolve()
    resolved = path.parent.resolve() / path.name
    if base != resolved and base not in resolved.parents:
        raise OutputError(f"{uri}: refusing to delete a file outside the output {root} (it resolves to {resolved})")
    path.unlink(missing_ok=True)


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
