"""Train / held-out split of a role-card pool, deterministic by seed.

A card is held out by the rank of a hash of (seed, card id), so the split depends only on the ids and the seed:
reordering the pool file, or reading it on another machine, gives the same split.
"""
from __future__ import annotations

from collections.abc import Sequence

from counselsim.errors import InputError
from counselsim.schemas import RoleCard
from counselsim.seeds import derive_seed


def held_out_count(pool_size: int, test_size: int | float) -> int:
    """`test_size` cards, or that fraction of the pool (at least one); the training part must keep a card too."""
    count = max(1, round(pool_size * test_size)) if isinstance(test_size, float) else test_size
    if not 0 < count < pool_size:
        raise InputError(f"a held-out size of {test_size} leaves no card on one side of a pool of {pool_size}")
    return count


def split_pool(cards: Sequence[RoleCard], test_size: int | float, seed: int) -> tuple[list[RoleCard], list[RoleCard]]:
    """(train, held_out), each in pool order."""
    count = held_out_count(len(cards), test_size)
    # Ties of the 31-bit hash fall back to the id, so the order is total.
    ranked = sorted(cards, key=lambda c: (derive_seed("held-out", seed, c.id), c.id))
    held_out = {c.id for c in ranked[:count]}
    return [c for c in cards if c.id not in held_out], [c for c in cards if c.id in held_out]
