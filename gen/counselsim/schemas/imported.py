"""What an imported session knows about itself: where it came from, and a role card that may be partial.

A corpus made elsewhere (the Interactive Agents release, an SFT set) has dialogues and at most a chief complaint
per client; it has no profile, no models and no sampling settings. Such a session is `origin: imported`, names its
source record, and carries a `PartialRoleCard`; the generation fields of the session are null.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from counselsim.schemas.role_card import Language, RoleCard

# The RoleCard fields a partial card does not hold. Stored in the same Arrow struct as full cards, they read back as
# nulls, which the validator below drops.
_PROFILE_FIELDS = tuple(name for name in RoleCard.model_fields
                        if name not in ("id", "language", "chief_complaint", "topic", "source"))


class PartialRoleCard(BaseModel):
    """A client known only by its chief complaint (or not at all), as an imported corpus describes it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    language: Language
    chief_complaint: str | None = Field(default=None, min_length=1)
    topic: str | None = None
    source: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_null_profile_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (k in _PROFILE_FIELDS and v is None)}
        return data


class SessionSource(BaseModel):
    """The record an imported session was read from."""

    model_config = ConfigDict(extra="forbid")
    format: str = Field(description="the import format, e.g. interactive-agents or messages")
    file: str = Field(description="the source file, relative to the imported folder or as given")
    index: int = Field(ge=0, description="the record's position: its number N for <N>.json, else its list index")
    counselor_prompt: str | None = Field(default=None, description="the record's system message, if it had one")
