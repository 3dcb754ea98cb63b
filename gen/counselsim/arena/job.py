"""The arena job: one work item per dialogue slot, one `arena_dialogue` record per finished dialogue. A slot fixes
its role card (cycled like SimPsyDial's), its seed and its pair of entrants (balanced, counselsim.arena.pairing)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from counselsim.arena.dialogue import DialoguePlan, simulate_arena
from counselsim.arena.pairing import pair_for_slot
from counselsim.arena.supervisor import check_prompt
from counselsim.cards.pool import card_slots, load_pools
from counselsim.engines.roles import Caller
from counselsim.runtime.job import WorkItem
from counselsim.schemas import RoleCard
from counselsim.schemas.arena import ARENA_DIALOGUE_SCHEMA, ArenaDialogue


class ArenaJob:
    record_type = "arena_dialogue"
    key_column = "session_id"
    order_column = "slot"
    schema = ARENA_DIALOGUE_SCHEMA
    model = ArenaDialogue

    def __init__(self, cfg) -> None:
        self.cfg = cfg
        self.settings = cfg.stages.arena
        self.entrants = [e.name for e in self.settings.entrants]
        self.target = cfg.run.sessions
        self.prefix = f"arena-{cfg.generation_hash()[:8]}"
        self.cards: list[RoleCard] = []
        self.pool: Caller | None = None
        self.run_id = ""

    def validate(self) -> None:
        """Role cards, and the supervisor prompt of every configured language (InputError names what is wrong)."""
        for language in self.cfg.role_cards.languages:
            check_prompt(language, self.settings.supervisor_prompt)
        self.cards = load_pools(self.cfg.role_cards.pools, self.cfg.role_cards.languages)

    def bind(self, pool: Caller, run_id: str) -> None:
        self.pool = pool
        self.run_id = run_id

    def plan(self) -> Iterator[WorkItem]:
        assert self.cards, "validate() loads the role cards"
        for slot, card, seed in card_slots(self.cards, self.cfg.run.seed):
            session_id = f"{self.prefix}-{slot:07d}"
            pair = pair_for_slot(self.entrants, self.cfg.run.seed, slot)
            yield WorkItem(key=session_id, slot=slot,
                           payload=DialoguePlan(slot=slot, session_id=session_id, card=card, seed=seed, pair=pair))

    async def process(self, item: WorkItem) -> ArenaDialogue:
        assert self.pool is not None, "bind() gives the job its engines"
        return await simulate_arena(item.payload, self.cfg, self.settings, self.pool, self.run_id)

    def counters(self, record: ArenaDialogue) -> dict[str, int]:
        return {"battles": record.battles, "turns": len(record.turns), "completion_tokens": record.completion_tokens}

    def summary(self, part_paths: Sequence[Path]) -> None:
        return None
