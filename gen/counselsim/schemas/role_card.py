"""The client role card: the nine elements of the SimPsyDial client profile, plus id and language."""
from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Language = Literal["zh", "en"]


class Level(str, Enum):
    """A five-step scale shared by Big Five traits and resistance to counseling."""

    low = "low"
    moderately_low = "moderately_low"
    moderate = "moderate"
    moderately_high = "moderately_high"
    high = "high"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TraitAssessment(_Strict):
    level: Level
    note: str = ""


class BigFive(_Strict):
    openness: TraitAssessment
    conscientiousness: TraitAssessment
    extraversion: TraitAssessment
    agreeableness: TraitAssessment
    neuroticism: TraitAssessment


class Resistance(_Strict):
    level: Level
    reasoning: str = Field(min_length=1)


class RoleCard(_Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    language: Language
    gender: str = Field(min_length=1)
    age: int = Field(ge=12, le=100)
    education: str = Field(min_length=1)
    occupation: str = Field(min_length=1)
    marital_status: str = Field(min_length=1)
    family_relationships: str = Field(min_length=1)
    big_five: BigFive
    resistance: Resistance
    chief_complaint: str = Field(min_length=10)
    topic: str | None = None
    source: str | None = None

    @field_validator("chief_complaint")
    @classmethod
    def _complaint_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("chief complaint is blank")
        return value
