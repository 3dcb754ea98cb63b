"""Seeds derived from the run seed, so every session and every call gets its own stream, reproducibly,
whichever replica serves it."""
from __future__ import annotations

import hashlib


def derive_seed(*parts: object) -> int:
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF
