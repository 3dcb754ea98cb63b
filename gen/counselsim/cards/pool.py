"""A role-card pool is a JSONL file, one RoleCard per line. Loading validates every line and fails with the file,
line and field of the first bad records."""
from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

from pydantic import ValidationError

from counselsim.corpus.storage import atomic_writer
from counselsim.errors import InputError
from counselsim.jsonl import DuplicateKey, dumps_line, loads_strict, split_lines
from counselsim.schemas import RoleCard
from counselsim.seeds import derive_seed


def _field_errors(err: ValidationError) -> list[str]:
    out = []
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "(record)"
        msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
        out.append(f"field '{field}': {msg}")
    return out


def load_pool(path: str | Path, max_errors: int = 20) -> list[RoleCard]:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: role-card pool not found") from None
    except OSError as e:  # a folder, a symlink loop, no permission
        raise InputError(f"{path}: role-card pool cannot be read ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    cards: list[RoleCard] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(split_lines(text), 1):
        if not line.strip():
            continue
        try:
            data = loads_strict(line)
        except json.JSONDecodeError as e:
            errors.append(f"{path}:{lineno}: invalid JSON: {e.msg} (column {e.colno})")
            continue
        except DuplicateKey as e:
            errors.append(f"{path}:{lineno}: field '{e.key}': given twice; only one may stay")
            continue
        if not isinstance(data, dict):
            errors.append(f"{path}:{lineno}: a role card must be a JSON object, got {type(data).__name__}")
            continue
        try:
            card = RoleCard.model_validate(data)
        except ValidationError as e:
            errors.extend(f"{path}:{lineno}: card '{data.get('id', '?')}': {msg}" for msg in _field_errors(e))
            continue
        if card.id in seen:
            errors.append(f"{path}:{lineno}: field 'id': duplicate id '{card.id}' (first on line {seen[card.id]})")
            continue
        seen[card.id] = lineno
        cards.append(card)
        if len(errors) >= max_errors:
            break
    if errors:
        raise InputError("\n".join(errors[:max_errors]))
    if not cards:
        raise InputError(f"{path}: role-card pool is empty")
    return cards


def load_pools(paths: Iterable[str | Path], languages: Iterable[str] | None = None) -> list[RoleCard]:
    """Cards of several pools, filtered to `languages`; ids must be unique across pools."""
    cards: list[RoleCard] = []
    origin: dict[str, Path] = {}
    for path in paths:
        for card in load_pool(path):
            if card.id in origin:
                raise InputError(f"{path}: field 'id': duplicate id '{card.id}' (also in {origin[card.id]})")
            origin[card.id] = Path(path)
            cards.append(card)
    if languages is not None:
        wanted = set(languages)
        cards = [c for c in cards if c.language in wanted]
        if not cards:
            raise InputError(f"no role card in {[str(p) for p in origin.values()] or 'the pools'} has a language in {sorted(wanted)}")
    return cards


def write_pool(cards: Iterable[RoleCard], path: str | Path) -> None:
    """Write a pool atomically (a reader never sees half a file) as JSON Lines any JSON reader accepts."""
    write_pools([(cards, path)])


def write_pools(pools: Sequence[tuple[Iterable[RoleCard], str | Path]]) -> None:
    """Write several pools all or none: each is renamed into place only once every one is fully written."""
    with ExitStack() as stack:
        for cards, path in pools:
            f = stack.enter_context(atomic_writer(str(path)))
            for card in cards:
                f.write(dumps_line(card.model_dump(mode="json", exclude_none=True)).encode("utf-8"))


def card_slots(cards: Sequence[RoleCard], run_seed: int) -> Iterator[tuple[int, RoleCard, int]]:
    """(slot, card, seed) for slots 0, 1, 2, ...: slots cycle through the cards, each cycle a fresh seeded shuffle,
    so every card is used once per cycle and the slot -> (card, seed) mapping is the same on every rerun."""
    ordered = sorted(cards, key=lambda c: c.id)
    slot = cycle = 0
    while True:
        order = list(ordered)
        random.Random(derive_seed(run_seed, "cycle", cycle)).shuffle(order)
        for card in order:
            yield slot, card, derive_seed(run_seed, "session", slot)
            slot += 1
        cycle += 1
