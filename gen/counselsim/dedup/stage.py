"""The dedup stage: which sessions of a corpus to remove as near-duplicates or as looping, and a report.

Signatures are computed per shard (in Ray tasks when Ray is up), then every decision is made over the sessions
sorted by session_id, so the survivors do not depend on shard order or worker count: the survivor of a
cluster is its smallest session_id.
"""
from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from counselsim.corpus.shards import read_corpus
from counselsim.dedup.config import DedupConfig
from counselsim.dedup.looping import is_looping
from counselsim.dedup.lsh import WINDOW, cluster
from counselsim.dedup.minhash import Signer
from counselsim.dedup.shingles import jaccard, join_turns, shingles
from counselsim.errors import InputError
from counselsim.logs import event

log = logging.getLogger("counselsim.dedup")

COLUMNS = ["session_id", "turns"]
NEAR_DUPLICATE = "near_duplicate"
LOOPING = "looping"


@dataclass
class ShardSignatures:
    ids: pa.Array
    signatures: np.ndarray | None  # uint32[rows, num_perm]; released once copied into the sorted matrix
    empty: np.ndarray
    looping: np.ndarray


@dataclass
class DedupResult:
    removed: dict[str, str]  # session_id -> NEAR_DUPLICATE | LOOPING
    report: dict[str, Any]


def read_turns(path: str) -> tuple[pa.Array, list[list[tuple[str, str]]]]:
    """Session ids of one shard and each session's (speaker, text) turns."""
    table = pa.concat_tables(t for _, t in read_corpus(path, columns=COLUMNS))
    ids = table.column("session_id").combine_chunks()
    if ids.null_count:
        raise InputError(f"{path}: {ids.null_count} rows have no session_id")
    try:
        turns = table.column("turns").combine_chunks()
        values = pc.list_flatten(turns)
        speakers = pc.struct_field(values, "speaker").to_pylist()
        texts = pc.struct_field(values, "text").to_pylist()
        lengths = pc.fill_null(pc.list_value_length(turns), 0).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError) as e:
        raise InputError(f"{path}: column 'turns' is not a list of {{speaker, text}} ({e})") from None
    bounds = np.concatenate([[0], np.cumsum(lengths)]).tolist()
    return ids, [list(zip(speakers[a:b], texts[a:b])) for a, b in pairwise(bounds)]


def _text(turns: list[tuple[str, str]]) -> str:
    return join_turns(text for _, text in turns)


def shard_signatures(path: str, cfg: DedupConfig) -> ShardSignatures:
    ids, sessions = read_turns(path)
    signatures, empty = Signer(cfg.num_perm, cfg.seed, cfg.ngram).signatures(_text(s) for s in sessions)
    looping = np.array([is_looping(s, cfg) for s in sessions], dtype=bool)
    return ShardSignatures(ids, signatures, empty, looping)


def _map_shards(shards: list[str], cfg: DedupConfig) -> list[ShardSignatures]:
    # Ray is only looked up, not imported: if nothing imported it, it cannot be running, and importing it
    # would cost the command line a second or more.
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return [shard_signatures(s, cfg) for s in shards]
    task = ray.remote(shard_signatures)
    try:
        return ray.get([task.remote(s, cfg) for s in shards])
    except ray.exceptions.RayTaskError as e:
        if isinstance(e.cause, InputError):
            raise e.cause from None
        raise


def _sorted_signatures(parts: list[ShardSignatures], rows: np.ndarray, num_perm: int) -> np.ndarray:
    """Signatures of `rows` (indices into the shards concatenated), in that order. Each shard's array is
    released once copied, so the peak stays near one copy of all signatures."""
    position = np.full(sum(len(p.ids) for p in parts), -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    out = np.empty((len(rows), num_perm), dtype=np.uint32)
    start = 0
    for p in parts:
        here = position[start : start + len(p.ids)]
        keep = here >= 0
        out[here[keep]] = p.signatures[keep]
        p.signatures = None
        start += len(p.ids)
    return out


def _check_unique(sorted_ids: pa.Array, order: np.ndarray, shard_of: np.ndarray, shards: list[str]) -> None:
    if len(sorted_ids) < 2:
        return
    same = pc.equal(sorted_ids.slice(1), sorted_ids.slice(0, len(sorted_ids) - 1)).to_numpy(zero_copy_only=False)
    if same.any():
        i = int(np.flatnonzero(same)[0])
        first, second = shards[shard_of[order[i]]], shards[shard_of[order[i + 1]]]
        raise InputError(f"session_id '{sorted_ids[i].as_py()}' appears twice: in {first} and in {second}")


def _example_pairs(
    roots: np.ndarray, signatures: np.ndarray, rows: np.ndarray, ids: pa.Array, shards: list[str], starts: np.ndarray,
    cfg: DedupConfig,
) -> list[dict[str, Any]]:
    """For the first clusters (by survivor id): the survivor and the smallest removed member, with their
    estimated Jaccard and the exact Jaccard of their shingle sets (their shards are read again for the text)."""
    members = np.flatnonzero(roots != np.arange(len(roots)))
    kept, first = np.unique(roots[members], return_index=True)
    pairs = list(zip(kept[: cfg.examples].tolist(), members[first[: cfg.examples]].tolist()))
    needed = sorted({int(rows[node]) for pair in pairs for node in pair})
    shard_of = np.searchsorted(starts, needed, side="right") - 1
    texts: dict[int, str] = {}
    for shard in sorted(set(shard_of.tolist())):
        _, sessions = read_turns(shards[shard])
        texts.update((r, _text(sessions[r - starts[shard]])) for r, s in zip(needed, shard_of) if s == shard)
    examples = []
    for a, b in pairs:
        ra, rb = int(rows[a]), int(rows[b])
        examples.append({
            "kept": ids[ra].as_py(),
            "removed": ids[rb].as_py(),
            "estimated_jaccard": round(float((signatures[a] == signatures[b]).mean()), 4),
            "exact_jaccard": round(jaccard(shingles(texts[ra], cfg.ngram), shingles(texts[rb], cfg.ngram)), 4),
        })
    return examples


def plan_dedup(shards: list[str], cfg: DedupConfig) -> DedupResult:
    """Sessions of the corpus in `shards` to remove, and the report for the run manifest."""
    if not cfg.enabled:
        return DedupResult({}, {"enabled": False})
    t0 = time.perf_counter()
    parts = _map_shards(shards, cfg)
    t1 = time.perf_counter()

    sizes = [len(p.ids) for p in parts]
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    shard_of = np.repeat(np.arange(len(parts)), sizes)
    ids = pa.concat_arrays([p.ids.cast(pa.string()) for p in parts]) if parts else pa.array([], pa.string())
    order = pc.sort_indices(ids).to_numpy()
    _check_unique(ids.take(order), order, shard_of, shards)
    empty = np.concatenate([p.empty for p in parts]) if parts else np.zeros(0, bool)
    looping = np.concatenate([p.looping for p in parts]) if parts else np.zeros(0, bool)
    dropped_looping = looping & cfg.drop_looping
    rows = order[~(empty | dropped_looping)[order]]  # the sessions to cluster, sorted by session_id
    signatures = _sorted_signatures(parts, rows, cfg.num_perm)
    roots, stats = cluster(signatures, cfg.threshold)
    t2 = time.perf_counter()

    removed = {sid: LOOPING for sid in ids.filter(pa.array(dropped_looping)).to_pylist()}
    duplicates = rows[roots != np.arange(len(roots))]
    removed.update((sid, NEAR_DUPLICATE) for sid in ids.take(pa.array(duplicates, pa.int64())).to_pylist())
    cluster_sizes = np.bincount(roots, minlength=len(roots))
    clustered = cluster_sizes[cluster_sizes >= 2]
    looping_ids = ids.take(pa.array(order[looping[order]][: cfg.examples], pa.int64())).to_pylist()
    report = {
        "enabled": True,
        "parameters": {
            **cfg.model_dump(exclude={"enabled", "examples"}),
            "bands": stats.bands, "rows_per_band": stats.rows, "bucket_window": WINDOW,
        },
        "sessions": len(ids),
        "empty_sessions": int(empty.sum()),
        "clusters": len(clustered),
        "sessions_in_clusters": int(clustered.sum()),
        "largest_cluster": int(clustered.max(initial=0)),
        "looping_sessions": int(looping.sum()),
        "removed": {NEAR_DUPLICATE: len(duplicates), LOOPING: int(dropped_looping.sum())},
        "lsh": {"candidate_edges": stats.candidate_edges, "compared_edges": stats.compared_edges,
                "similar_edges": stats.similar_edges},
        "examples": _example_pairs(roots, signatures, rows, ids, shards, starts, cfg),
        "looping_examples": looping_ids,
        "timing_s": {"read_and_sign": round(t1 - t0, 3), "clustering": round(t2 - t1, 3),
                     "total": round(time.perf_counter() - t0, 3)},
    }
    event(log, "dedup planned", sessions=len(ids), clusters=len(clustered), removed=report["removed"])
    return DedupResult(removed, report)


def near_duplicate_clusters(items: Iterable[tuple[str, str]], cfg: DedupConfig) -> list[list[str]]:
    """Clusters (two or more keys, sorted; clusters sorted by first key) of (key, text) items whose texts are
    near-duplicates. Keys must be unique. Empty texts are never clustered."""
    pairs = sorted(items, key=lambda kv: kv[0])
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("near_duplicate_clusters: keys must be unique")
    signatures, empty = Signer(cfg.num_perm, cfg.seed, cfg.ngram).signatures(t for _, t in pairs)
    active = np.flatnonzero(~empty)
    roots, _ = cluster(signatures[active], cfg.threshold)
    order = np.argsort(roots, kind="stable")
    bounds = np.flatnonzero(np.diff(roots[order])) + 1
    groups = np.split(order, bounds) if len(order) else []
    return [[keys[active[i]] for i in g] for g in groups if len(g) >= 2]
