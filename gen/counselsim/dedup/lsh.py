"""LSH banding over signatures, candidate edges verified on the full signature, clusters by union-find.

Candidate pairs are never listed. Per band, items are sorted by their band key and each item is compared with
the next WINDOW items of the same bucket: at most WINDOW * n edges per band, made, checked and merged before
the next band. A bucket of up to WINDOW + 1 items is compared all-pairs; a larger one is compared as
overlapping windows, which still connects it if its members are near-duplicates of their neighbours.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from counselsim.dedup.minhash import fmix64

WINDOW = 4
# Edges verified at once: bounds the temporary to 2 * EDGE_BLOCK * num_perm * 4 bytes.
EDGE_BLOCK = 1 << 16
_MIX = np.uint64(0x9E3779B97F4A7C15)


@cache
def bands_rows(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) minimising 0.1 * false-positive area + 0.9 * false-negative area of the LSH S-curve, the
    objective of datasketch's MinHashLSH. Weighted towards recall: a false candidate costs one comparison of
    two signatures, a missed one leaves a duplicate in the corpus. Unlike MinHashLSH this allows one band
    (exact-signature matching), which is what a threshold near 1 with few permutations calls for."""
    below, above = np.linspace(0, threshold, 257), np.linspace(threshold, 1, 257)
    best = (np.inf, 0, 0)
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            fp = np.trapezoid(1 - (1 - below**rows) ** bands, below)
            fn = np.trapezoid((1 - above**rows) ** bands, above)
            best = min(best, (0.1 * fp + 0.9 * fn, bands, rows))
    return best[1], best[2]


def band_keys(signatures: np.ndarray, band: int, rows: int) -> np.ndarray:
    """A 64-bit hash of each item's `rows` signature values in `band`. A rare false collision only adds a
    candidate, which verification rejects."""
    h = np.full(len(signatures), band, dtype=np.uint64)
    for col in range(band * rows, (band + 1) * rows):
        h = fmix64(h ^ (signatures[:, col].astype(np.uint64) * _MIX))
    return h


class UnionFind:
    """Disjoint sets over 0..n-1 whose root is always the smallest member."""

    def __init__(self, n: int) -> None:
        self.parent = np.arange(n, dtype=np.int64)

    def roots(self) -> np.ndarray:
        """Point every item at its root (pointer jumping) and return the roots."""
        p = self.parent
        while True:
            pp = p[p]
            if np.array_equal(pp, p):
                break
            p = pp
        self.parent = p
        return p

    def _find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = int(parent[x])
        return x

    def union(self, u: np.ndarray, v: np.ndarray) -> None:
        for a, b in zip(u.tolist(), v.tolist()):
            a, b = self._find(a), self._find(b)
            if a != b:
                self.parent[max(a, b)] = min(a, b)


@dataclass
class ClusterStats:
    bands: int
    rows: int
    candidate_edges: int = 0  # same bucket, within WINDOW
    compared_edges: int = 0  # of those, not already in one cluster
    similar_edges: int = 0  # of those, estimated Jaccard >= threshold


def _similar(signatures: np.ndarray, u: np.ndarray, v: np.ndarray, threshold: float) -> np.ndarray:
    keep = np.empty(len(u), dtype=bool)
    for s in range(0, len(u), EDGE_BLOCK):
        a, b = signatures[u[s : s + EDGE_BLOCK]], signatures[v[s : s + EDGE_BLOCK]]
        keep[s : s + EDGE_BLOCK] = (a == b).mean(axis=1) >= threshold
    return keep


def cluster(signatures: np.ndarray, threshold: float) -> tuple[np.ndarray, ClusterStats]:
    """Root (smallest index) of each item's cluster, where an edge joins two items sharing a band bucket whose
    estimated Jaccard is at least `threshold`. Depends only on the row order of `signatures`."""
    n, num_perm = signatures.shape
    bands, rows = bands_rows(threshold, num_perm)
    stats = ClusterStats(bands, rows)
    uf = UnionFind(n)
    for band in range(bands):
        keys = band_keys(signatures, band, rows)
        order = np.argsort(keys, kind="stable")  # ties keep index order: deterministic
        sorted_keys = keys[order]
        del keys
        for d in range(1, WINDOW + 1):
            same = sorted_keys[d:] == sorted_keys[:-d]
            u, v = order[:-d][same], order[d:][same]
            stats.candidate_edges += len(u)
            if not len(u):
                continue
            # Once clusters form, most edges join items already together: drop them before comparing.
            roots = uf.roots()
            apart = roots[u] != roots[v]
            u, v = u[apart], v[apart]
            ok = _similar(signatures, u, v, threshold)
            stats.compared_edges += len(u)
            stats.similar_edges += int(ok.sum())
            uf.union(u[ok], v[ok])
    return uf.roots(), stats
