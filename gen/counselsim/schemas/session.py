"""A simulated counseling session: the unit every stage reads and writes."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from counselsim.schemas.imported import PartialRoleCard, SessionSource
from counselsim.schemas.reasoning import Motivation, Profile5P, ReactionType
from counselsim.schemas.role_card import Language, RoleCard

Speaker = Literal["client", "counselor"]
TerminationReason = Literal["farewell", "turn_cap"]
# generated: simulated by counselsim; imported: read from another corpus by `counselsim import`, with `source`
# set, a role card that may be partial, and null generation fields (models, seed, termination, times).
Origin = Literal["generated", "imported"]


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
    finish_reason: str = Field(description="why the accepted generation stopped: 'stop' (never 'length': a reply "
                               "cut at max_tokens is rejected and regenerated); 'opening' for the scripted first turn")
    reaction_type: ReactionType | None = Field(default=None, description=(
        "a client turn's reaction type: declared by a resistant live client (session.client_mode: resistant) or, "
        "in rpc records, the type an injected turn was rewritten to show; null otherwise"))
    motivation: Motivation | None = Field(default=None, description=(
        "the motivation reasoning behind that reaction type; null where it is"))


class RejectionCount(_Strict):
    """How many generations of a session were rejected for one reason (and regenerated)."""

    reason: str = Field(description="σ's reasons ('too_long', 'newline', 'enumeration', ...), 'truncated' (stopped at "
                        "max_tokens) or 'empty'")
    count: int = Field(ge=1)


class RoleModel(_Strict):
    """Which model played a role, and how it was sampled."""

    model: str
    backend: str
    temperature: float
    top_p: float
    max_tokens: int
    repetition_penalty: float
    stop: list[str] = Field(default_factory=list, description="strings that ended a reply where they appeared")


class Session(_Strict):
    session_id: str
    run_id: str
    slot: int = Field(ge=0, description="position in the run's plan; fixes the role card and the seed")
    role_card_id: str
    language: Language
    role_card: RoleCard | PartialRoleCard
    client: RoleModel | None
    counselor: RoleModel | None
    seed: int | None
    turns: list[Turn]
    termination_reason: TerminationReason | None
    num_turn_pairs: int = Field(ge=0)
    regenerations: int = Field(ge=0)
    rejections: list[RejectionCount] = Field(description="generations rejected and regenerated, by reason, in this "
                                         "session (one entry per reason that occurred)")
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None = Field(ge=0)
    config_hash: str
    package_version: str
    origin: Origin = "generated"
    source: SessionSource | None = None
    client_profile: Profile5P | None = Field(default=None, description=(
        "the 5P profile a resistant live client reasoned from, built once before its first turn; null otherwise"))
