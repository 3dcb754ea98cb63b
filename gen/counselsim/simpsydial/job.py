"""The SimPsyDial generation job: one work item per session slot."""
from __future__ import annotations

import random
from collections.abc import Iterator

from counselsim.config import PipelineConfig
from counselsim.engines.pool import EnginePool
from counselsim.runtime.runner import WorkItem
from counselsim.schemas import RoleCard, Session
from counselsim.schemas.arrow import SESSION_SCHEMA
from counselsim.seeds import derive_seed
from counselsim.simpsydial.session import SessionPlan, simulate


class SimPsyDialJob:
    record_type = "session"
    schema = SESSION_SCHEMA
    model = Session

    def __init__(self, cfg: PipelineConfig, cards: list[RoleCard], pool: EnginePool | None, run_id: str) -> None:
        self.cfg = cfg
        self.cards = sorted(cards, key=lambda c: c.id)
        self.pool = pool
        self.run_id = run_id
        self.target = cfg.run.sessions
        self.prefix = f"sps-{cfg.generation_hash()[:8]}"

    def plan(self) -> Iterator[WorkItem]:
        """Slots cycle through the pool; each cycle is a fresh seeded shuffle, so every card is used once per
        cycle and the slot -> (card, seed) mapping is the same on every rerun."""
        slot = 0
        cycle = 0
        while True:
            order = list(self.cards)
            random.Random(derive_seed(self.cfg.run.seed, "cycle", cycle)).shuffle(order)
            for card in order:
                session_id = f"{self.prefix}-{slot:07d}"
                plan = SessionPlan(slot=slot, session_id=session_id, card=card,
                                   seed=derive_seed(self.cfg.run.seed, "session", slot))
                yield WorkItem(key=session_id, slot=slot, payload=plan)
                slot += 1
            cycle += 1

    async def process(self, item: WorkItem) -> Session:
        assert self.pool is not None
        return await simulate(item.payload, self.cfg, self.pool.call, self.run_id)
