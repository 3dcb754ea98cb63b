"""MinHash signatures of many texts at once, with numpy.

Two steps, both vectorised:
- each character n-gram is hashed to 32 bits straight from the text's code points (a multilinear hash mixed
  by the MurmurHash3 64-bit finalizer), instead of building the shingle strings and calling sha1 on each;
- the permutations are datasketch's own ("affine32", its default scheme: the MurmurHash3 32-bit finalizer,
  then a_k * h + b_k mod 2^32 with datasketch's parameters for `seed`), applied to blocks of n-grams.
So a signature equals `datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash)` updated with each
shingle of `shingles.shingles`; `tests/test_dedup.py` checks it.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from itertools import islice

import numpy as np

from counselsim.dedup.shingles import normalize

EMPTY = np.uint32(0xFFFFFFFF)  # the signature value of a set with no elements
BLOCK = 1 << 12  # n-grams permuted at once: a num_perm x BLOCK uint32 buffer that stays in cache
TEXT_BATCH = 1024  # texts whose n-gram hashes are held at once
_NGRAM_KEY_SEED = 0x5EED


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer: an avalanching bijection on uint64."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


@cache
def _ngram_keys(n: int) -> np.ndarray:
    """One odd 64-bit key per position in an n-gram, and one for its length."""
    rng = np.random.default_rng(_NGRAM_KEY_SEED)
    return rng.integers(0, 1 << 63, n + 1, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def ngram_hashes(text: str, n: int) -> np.ndarray:
    """32-bit hashes of the character n-grams of an already normalised text, one per position (element i
    hashes text[i:i+n]; repeated n-grams repeat); the whole text as one n-gram if it is shorter than n, as
    `shingles.ngrams` does; nothing for an empty text."""
    keys = _ngram_keys(n)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    width = min(n, len(codes))
    count = len(codes) - width + 1 if width else 0
    h = np.full(count, width, dtype=np.uint64) * keys[-1]  # arrays, not scalars: numpy wraps them silently
    for j in range(width):
        h += codes[j : j + count] * keys[j]
    return (fmix64(h) >> np.uint64(32)).astype(np.uint32)


def shingle_hash(shingle: str, n: int) -> int:
    """The hash of one shingle of `shingles.shingles`; as a datasketch `hashfunc` it gives our signatures."""
    return int(ngram_hashes(shingle, n)[0])


class Signer:
    """Signatures of texts under one (num_perm, seed, ngram) setting."""

    def __init__(self, num_perm: int, seed: int, ngram: int) -> None:
        # Imported here: datasketch imports scipy, seconds that every `counselsim` command would pay at start-up.
        from datasketch import MinHash

        a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
        self.a, self.b = a.astype(np.uint32)[:, None], b.astype(np.uint32)[:, None]
        self.num_perm = num_perm
        self.ngram = ngram

    def signatures(self, texts: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """(signatures uint32[n, num_perm], empty bool[n]); an empty text keeps the all-EMPTY signature."""
        parts, it = [], iter(texts)
        while batch := list(islice(it, TEXT_BATCH)):
            parts.append(self._sign([ngram_hashes(normalize(t), self.ngram) for t in batch]))
        if not parts:
            return np.empty((0, self.num_perm), dtype=np.uint32), np.empty(0, dtype=bool)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _sign(self, hashes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        lengths = np.array([len(h) for h in hashes], dtype=np.int64)
        out = np.full((self.num_perm, len(hashes)), EMPTY, dtype=np.uint32)
        flat = _fmix32(np.concatenate(hashes))
        owner = np.repeat(np.arange(len(hashes), dtype=np.int32), lengths)
        permuted = np.empty((self.num_perm, BLOCK), dtype=np.uint32)
        # The texts' n-grams laid end to end, cut in blocks: within a block each text's n-grams are contiguous,
        # so one reduceat gives the per-text minimum, merged into `out` (a text may span blocks).
        for start in range(0, len(flat), BLOCK):
            rows = owner[start : start + BLOCK]
            x = permuted[:, : len(rows)]
            np.multiply(self.a, flat[start : start + BLOCK], out=x)
            x += self.b
            heads = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
            here = rows[heads]
            out[:, here] = np.minimum(out[:, here], np.minimum.reduceat(x, heads, axis=1))
        return np.ascontiguousarray(out.T), lengths == 0
