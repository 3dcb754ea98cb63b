"""What a client reasons from and with (ResistClient): the 5P case formulation, the seven reaction types and the
three-step motivation reasoning behind a client turn. Shared by live sessions (a resistant client declares them)
and RPC records (the rewriter injects them)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ReactionType = Literal["controlling", "emotional", "defensive", "avoidant", "compliant", "non_resistant",
                       "facilitative"]
RESISTANT_REACTIONS: tuple[str, ...] = ("controlling", "emotional", "defensive", "avoidant", "compliant")
COOPERATIVE_REACTIONS: tuple[str, ...] = ("non_resistant", "facilitative")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Profile5P(_Strict):
    """The 5P case formulation of the client."""

    presenting: str = Field(min_length=1, description="the problem as it shows now: symptoms, complaints")
    predisposing: str = Field(min_length=1, description="long-standing factors that made the client vulnerable")
    precipitating: str = Field(min_length=1, description="recent events that triggered the problem")
    perpetuating: str = Field(min_length=1, description="what keeps the problem going")
    protective: str = Field(min_length=1, description="strengths and supports")


class Motivation(_Strict):
    """The motivation reasoning behind one client turn (ResistClient's three steps)."""

    profile_reflection: str = Field(min_length=1)
    situation_awareness: str = Field(min_length=1)
    reaction_decision: str = Field(min_length=1)
