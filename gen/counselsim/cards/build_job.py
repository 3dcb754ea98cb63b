"""`role-cards build` as a job: one work item per chief complaint, one role card per complaint that the builder
turns into a valid card; a complaint that does not become one is a drop, recorded with why. Run through the
runner, so calls are bounded in flight, every finished card is staged, and a rerun after a kill builds only the
complaints not yet finished."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa

from counselsim.cards.builder import Complaint, build_card, failure_reason, read_complaints
from counselsim.config import PipelineConfig
from counselsim.engines.base import ContextOverflowError, EngineError
from counselsim.engines.roles import Caller, Unparseable
from counselsim.errors import InputError
from counselsim.identity import Identity, file_digest
from counselsim.runtime.job import Dropped, WorkItem
from counselsim.schemas import RoleCard
from counselsim.schemas.arrow import ROLE_CARD

ROLE_CARD_SCHEMA = pa.schema(list(ROLE_CARD))


class BuildJob:
    record_type = "role_card"
    key_column = "id"
    order_column = "id"
    schema = ROLE_CARD_SCHEMA
    model = RoleCard
    target = None  # one attempt per complaint

    def __init__(self, cfg: PipelineConfig, complaints_path: str | Path) -> None:
        self.cfg = cfg
        self.settings = cfg.stages.build
        self.complaints_path = str(complaints_path)
        self.complaints: list[Complaint] = []
        self.pool: Caller | None = None

    def validate(self) -> None:
        """Every complaint readable, long enough, and with an id of its own."""
        complaints = read_complaints(self.complaints_path, self.settings.id_prefix)
        seen: dict[str, str] = {}
        for c in complaints:
            if c.id in seen:
                raise InputError(f"{c.where}: field 'id': '{c.id}' also used by {seen[c.id]}")
            seen[c.id] = c.where
        self.complaints = complaints

    def identity(self) -> Identity:
        """The config's resume identity and the complaints file by content."""
        fields = self.cfg.resume_identity().fields
        return Identity({**fields, "input.complaints": file_digest(self.complaints_path, "--complaints")})

    def bind(self, pool: Caller, run_id: str) -> None:
        self.pool = pool

    def plan(self) -> Iterator[WorkItem]:
        for slot, complaint in enumerate(self.complaints):
            yield WorkItem(key=complaint.id, slot=slot, payload=complaint)

    async def process(self, item: WorkItem) -> RoleCard:
        assert self.pool is not None, "bind() gives the job its engines"
        try:
            return await build_card(item.payload, self.cfg, self.pool, self.settings)
        except Unparseable as e:  # recorded per complaint; one bad output never stops the batch
            raise Dropped("unparseable", failure_reason(e)) from None
        except ContextOverflowError as e:
            raise Dropped("context_overflow", f"ContextOverflowError: {e}") from None
        except EngineError as e:
            raise Dropped("engine_error", f"EngineError: {e}") from None

    def counters(self, record: RoleCard) -> dict[str, int]:
        return {}

    def summary(self, part_paths: Sequence[Path]) -> None:
        return None

    def failures(self, drops: list[dict[str, str]]) -> list[dict[str, str]]:
        """The staged drops as the failures file lists them: id, input (file:record), reason (every attempt's)."""
        where = {c.id: c.where for c in self.complaints}
        return sorted(({"id": d["key"], "input": where.get(d["key"], "?"), "reason": d["detail"]} for d in drops),
                      key=lambda f: f["id"])
