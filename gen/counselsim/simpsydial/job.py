"""The SimPsyDial generation job: one work item per session slot, one `session` record per finished session."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from counselsim.cards.pool import card_slots, load_pools
from counselsim.config import PipelineConfig
from counselsim.engines.roles import Caller
from counselsim.runtime.job import WorkItem
from counselsim.schemas import RoleCard, Session
from counselsim.schemas.arrow import SESSION_SCHEMA
from counselsim.simpsydial.session import SessionPlan, simulate


class SimPsyDialJob:
    record_type = "session"
    key_column = "session_id"
    order_column = "slot"
    schema = SESSION_SCHEMA
    model = Session

    def __init__(self, cfg: PipelineConfig) -> None:
        assert cfg.role_cards is not None
        self.cfg = cfg
        self.target = cfg.run.sessions
        self.prefix = f"sps-{cfg.generation_hash()[:8]}"
        self.cards: list[RoleCard] = []
        self.pool: Caller | None = None
        self.run_id = ""

    def validate(self) -> None:
        """Load and check every role card of the configured pools (InputError names file, line and field)."""
        cards = load_pools(self.cfg.role_cards.pools, self.cfg.role_cards.languages)
        self.cards = cards

    def bind(self, pool: Caller, run_id: str) -> None:
        self.pool = pool
        self.run_id = run_id

    def plan(self) -> Iterator[WorkItem]:
        assert self.cards, "validate() loads the role cards"
        for slot, card, seed in card_slots(self.cards, self.cfg.run.seed):
            session_id = f"{self.prefix}-{slot:07d}"
            yield WorkItem(key=session_id, slot=slot, payload=SessionPlan(slot, session_id, card, seed))

    async def process(self, item: WorkItem) -> Session:
        assert self.pool is not None, "bind() gives the job its engines"
        return await simulate(item.payload, self.cfg, self.pool, self.run_id)

    def counters(self, record: Session) -> dict[str, int]:
        return {"turns": len(record.turns), "completion_tokens": sum(t.completion_tokens for t in record.turns)}

    def summary(self, part_paths: Sequence[Path]) -> dict[str, Any]:
        """The manifest's `rejections`: generations rejected by reason (σ's reasons, 'truncated', 'empty') and
        regenerated, summed over the sessions written (a dropped session's rejections are in its drop detail)."""
        totals: dict[str, int] = {}
        for path in part_paths:
            for entries in pq.read_table(path, columns=["rejections"]).column("rejections").to_pylist():
                for entry in entries:
                    totals[entry["reason"]] = totals.get(entry["reason"], 0) + entry["count"]
        return {"rejections": dict(sorted(totals.items()))}
