"""The client role card: the nine elements of the SimPsyDial client profile, plus id and language."""
from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

Language = Literal["zh", "en"]


def _no_nul(value: str) -> str:
    # A NUL survives JSON and Parquet but truncates the text in C-based tools and prompts downstream.
    if "\x00" in value:
        raise ValueError("contains a NUL character (\\u0000)")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


class Level(str, Enum):
    """A five-step scale shared by Big Five traits and resistance to counseling."""

    low = "low"
    moderately_low = "moderately_low"
    moderate = "moderate"
    moderately_high = "moderately_high"
    high = "high"


UNKNOWN_LEVEL = "unknown"  # how reports name the resistance level of a partial role card (an imported session)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TraitAssessment(_Strict):
    level: Level
    note: Text = ""


class BigFive(_Strict):
    openness: TraitAssessment
    conscientiousness: TraitAssessment
    extraversion: TraitAssessment
    agreeableness: TraitAssessment
    neuroticism: TraitAssessment


class Resistance(_Strict):
    level: Level
    reasoning: Text = Field(min_length=1)


class RoleCard(_Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    language: Language
    gender: Text = Field(min_length=1)
    age: int = Field(strict=True, ge=12, le=100)  # strict: "30" and true are not ages
    education: Text = Field(min_length=1)
    occupation: Text = Field(min_length=1)
    marital_status: Text = Field(min_length=1)
    family_relationships: Text = Field(min_length=1)
    big_five: BigFive
    resistance: Resistance
    chief_complaint: Text = Field(min_length=10)
    topic: Text | None = None
    source: Text | None = None

    @field_validator("chief_complaint")
    @classmethod
    def _complaint_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("chief complaint is blank")
        return value
