"""Per-stage accounting of model calls: calls, items, tokens, failed parses, outcomes, and busy time (wall time
during which at least one call of the stage was in flight). Stages of many sessions overlap, so throughput is
items per busy second of the stage. The role caller (engines/roles.py) counts every call into one of these.

Where the calls run in several processes (session workers), each drains what it counted to the driver, whose
meter merges the parts: busy times then add up, so throughput is per worker (per session group)."""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class StageStats:
    calls: int = 0
    items: int = 0
    failed_parses: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    busy_s: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    _in_flight: int = 0
    _since: float = 0.0


class StageMeter:
    def __init__(self) -> None:
        self.stages: dict[str, StageStats] = {}

    def stage(self, name: str) -> StageStats:
        return self.stages.setdefault(name, StageStats())

    @contextmanager
    def call(self, name: str) -> Iterator[StageStats]:
        s = self.stage(name)
        now = time.monotonic()
        if s._in_flight == 0:
            s._since = now
        s._in_flight += 1
        try:
            yield s
        finally:
            end = time.monotonic()
            s._in_flight -= 1
            s.calls += 1
            s.latency_s += end - now
            if s._in_flight == 0:
                s.busy_s += end - s._since

    def count(self, name: str, items: int = 1) -> None:
        self.stage(name).items += items

    def outcome(self, name: str, outcome: str) -> None:
        s = self.stage(name)
        s.outcomes[outcome] = s.outcomes.get(outcome, 0) + 1

    def drain(self) -> dict[str, dict[str, Any]]:
        """What was counted since the last drain, as plain data for `merge`, and start counting from zero. A stage
        with calls in flight is busy up to now and counts its busy time again from now (its in-flight calls keep
        their StageStats object, so it is reset in place)."""
        now = time.monotonic()
        out = {}
        for name, s in self.stages.items():
            part = {f.name: getattr(s, f.name) for f in fields(StageStats) if not f.name.startswith("_")}
            if s._in_flight:
                part["busy_s"] += now - s._since
            out[name] = part
            vars(s).update(vars(StageStats(_in_flight=s._in_flight, _since=now)))
        return out

    def merge(self, parts: dict[str, dict[str, Any]]) -> None:
        """Add what another process' meter drained."""
        for name, part in parts.items():
            s = self.stage(name)
            for key, value in part.items():
                if key == "outcomes":
                    for outcome, count in value.items():
                        s.outcomes[outcome] = s.outcomes.get(outcome, 0) + count
                else:
                    setattr(s, key, getattr(s, key) + value)

    def summary(self, item_names: dict[str, str] | None = None) -> dict[str, Any]:
        out = {}
        for name, s in self.stages.items():
            busy = s.busy_s or None
            out[name] = {
                "unit": (item_names or {}).get(name, "item"),
                "items": s.items,
                "calls": s.calls,
                "failed_parses": s.failed_parses,
                "prompt_tokens": s.prompt_tokens,
                "completion_tokens": s.completion_tokens,
                "busy_s": round(s.busy_s, 2),
                "items_per_s": round(s.items / busy, 3) if busy else None,
                "calls_per_s": round(s.calls / busy, 3) if busy else None,
                "completion_tokens_per_s": round(s.completion_tokens / busy, 1) if busy else None,
                "mean_call_latency_s": round(s.latency_s / s.calls, 3) if s.calls else None,
                **({"outcomes": dict(sorted(s.outcomes.items()))} if s.outcomes else {}),
            }
        return out
