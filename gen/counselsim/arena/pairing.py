"""Which two entrants meet in a dialogue.

Slots walk through rounds; a round is every unordered pair of entrants once, in a seeded shuffle, each pair in a
seeded orientation. After n dialogues any two pairs have met a number of times that differs by at most one, and a
slot's pair is the same on every rerun, whatever ran before it.
"""
from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

from counselsim.seeds import derive_seed


def round_of_pairs(entrants: Sequence[str], seed: int, round_index: int) -> list[tuple[str, str]]:
    pairs = list(itertools.combinations(entrants, 2))
    rng = random.Random(derive_seed(seed, "arena-round", round_index))
    rng.shuffle(pairs)
    return [(a, b) if rng.random() < 0.5 else (b, a) for a, b in pairs]


def pair_for_slot(entrants: Sequence[str], seed: int, slot: int) -> tuple[str, str]:
    """The (entrant a, entrant b) of dialogue `slot`; `entrants` in roster order, at least two."""
    if len(entrants) < 2:
        raise ValueError("an arena needs at least two entrants")
    per_round = len(entrants) * (len(entrants) - 1) // 2
    return round_of_pairs(entrants, seed, slot // per_round)[slot % per_round]
