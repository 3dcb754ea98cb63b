"""A simulated counseling session: the unit every stage reads and writes."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from counselsim.schemas.role_card import Language, RoleCard

Speaker = Literal["client", "counselor"]
TerminationReason = Literal["farewell", "turn_cap"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Turn(_Strict):
    index: int = Field(ge=0)
    speaker: Speaker
    text: str
    attempts: int = Field(ge=1, description="generations needed; >1 means the refinement check rejected some")
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    latency_s: float = Field(ge=0)


class RoleModel(_Strict):
    """Which model played a role, and how it was sampled."""

    model: str
    backend: str
    temperature: float
    top_p: float
    max_tokens: int


class Session(_Strict):
    session_id: str
    run_id: str
    slot: int = Field(ge=0, description="position in the run's plan; fixes the role card and the seed")
    role_card_id: str
    language: Language
    role_card: RoleCard
    client: RoleModel
    counselor: RoleModel
    seed: int
    turns: list[Turn]
    termination_reason: TerminationReason
    num_turn_pairs: int = Field(ge=0)
    regenerations: int = Field(ge=0)
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    started_at: datetime
    finished_at: datetime
    duration_s: float = Field(ge=0)
    config_hash: str
    package_version: str
