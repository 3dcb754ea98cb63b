"""The arena's config: `stages.arena` (the roster and the supervisor's prompt) and the `arena` pipeline kind.

An entrant is a role: `roles.<name>` gives its model and sampling (e.g. the paper's Table 3 temperature and
top_p per counselor), the roster adds its optional system prompt. `roles.client` and `roles.supervisor` are the
other two parties of Algorithm 2.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from counselsim.dedup.config import DedupConfig
from counselsim.identity import ConfigSection, file_digest

FIXED_ROLES = frozenset({"client", "supervisor"})


class EntrantConfig(ConfigSection):
    IDENTITY = ("name", "system_prompt")

    name: str = Field(min_length=1, description="the entrant's name and the role (roles.<name>) it is played by")
    system_prompt: str | None = Field(default=None, description=(
        "a text file with the entrant's system prompt; default: the paper's counselor prompt (Figure 9)"))

    @field_validator("system_prompt")
    @classmethod
    def _file_exists(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"system prompt file '{value}' not found")
        return value

    def identity(self) -> dict[str, Any]:
        prompt = file_digest(self.system_prompt, f"entrant {self.name} system_prompt") if self.system_prompt else None
        return {"name": self.name, "system_prompt": prompt}

    def read_system_prompt(self) -> str | None:
        return Path(self.system_prompt).read_text(encoding="utf-8").strip() if self.system_prompt else None


class ArenaSettings(ConfigSection):
    IDENTITY = ("entrants", "supervisor_prompt", "judge_attempts")

    entrants: list[EntrantConfig] = Field(description="the roster: two of them meet in each dialogue")
    supervisor_prompt: Literal[1, 2] = Field(default=2, description=(
        "the paper's Prompt 1 (Figure 12, ethical principles) or Prompt 2 (Figure 13, counseling skills; "
        "the paper's choice for automatic judging)"))
    judge_attempts: int = Field(default=2, ge=1, description=(
        "supervisor calls per battle until one parses; after that the verdict is recorded as unparseable"))

    @field_validator("entrants")
    @classmethod
    def _roster(cls, value: list[EntrantConfig]) -> list[EntrantConfig]:
        if len(value) < 2:
            raise ValueError(f"an arena needs at least two entrants, the roster has {len(value)}")
        names = [e.name for e in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"entrant names must be unique: {twice} given twice")
        clash = sorted(set(names) & FIXED_ROLES)
        if clash:
            raise ValueError(f"entrant {clash[0]!r}: 'client' and 'supervisor' are the arena's other roles")
        return value


class ArenaStages(ConfigSection):
    IDENTITY = ("dedup", "arena")

    dedup: DedupConfig = Field(default_factory=DedupConfig)
    arena: ArenaSettings
