"""Turn-level looping: one speaker saying near-identical things again and again within a session, the way a
simulated role gets stuck."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from counselsim.dedup.config import DedupConfig
from counselsim.dedup.minhash import ngram_hashes, shingle_hash
from counselsim.dedup.shingles import jaccard, normalize


def _max_repeats(sets: list[set[int]], similarity: float) -> int:
    """The most near-identical utterances (Jaccard >= similarity) any one utterance has, itself included.

    Jaccard >= t needs the smaller set to hold at least t times as many shingles as the larger, so with the sets
    sorted by size each is compared only with the next ones up to that ratio.
    """
    counts = [1] * len(sets)
    order = sorted(range(len(sets)), key=lambda i: len(sets[i]))
    for pos, i in enumerate(order):
        for j in order[pos + 1 :]:
            if similarity * len(sets[j]) > len(sets[i]):
                break
            if jaccard(sets[i], sets[j]) >= similarity:
                counts[i] += 1
                counts[j] += 1
    return max(counts, default=0)


def _ngram_sets(texts: list[str], n: int) -> list[set[int]]:
    """The n-gram hash set of each normalised text, hashed in one pass over the texts laid end to end (the
    n-grams that cross from one text into the next are left out)."""
    hashes = ngram_hashes("".join(texts), n)
    sets, start = [], 0
    for t in texts:
        sets.append(set(hashes[start : start + len(t) - n + 1].tolist()) if len(t) >= n else {shingle_hash(t, n)})
        start += len(t)
    return sets


def is_looping(turns: Iterable[tuple[str, str]], cfg: DedupConfig) -> bool:
    """True if a speaker has `loop_min_repeats` near-identical utterances of at least `loop_min_chars`
    characters. `turns` are (speaker, text) pairs."""
    speakers, texts = [], []
    for speaker, text in turns:
        t = normalize(text or "")
        if len(t) >= cfg.loop_min_chars:
            speakers.append(speaker)
            texts.append(t)
    by_speaker: dict[str, list[set[int]]] = defaultdict(list)
    for speaker, ngrams in zip(speakers, _ngram_sets(texts, cfg.ngram)):
        by_speaker[speaker].append(ngrams)
    return any(
        len(sets) >= cfg.loop_min_repeats and _max_repeats(sets, cfg.loop_similarity) >= cfg.loop_min_repeats
        for sets in by_speaker.values()
    )
