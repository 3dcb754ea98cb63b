"""The `stages.rpc` section of a pipeline config (validated when the config loads) and its token-budget check.
Every setting changes what the profiler, rewriter or labeler produce, so all are in the resume identity."""
from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from counselsim.identity import ConfigSection
from counselsim.schemas.role_card import Level
from counselsim.schemas.rpc import MAX_EPISODE_TURNS, RESISTANT_REACTIONS


class ProfileSettings(ConfigSection):
    IDENTITY = ("max_turns", "max_chars_per_turn", "field_max_chars", "attempts")

    max_turns: int = Field(default=30, ge=2, description="session turns the profiler reads, from the start")
    max_chars_per_turn: int = Field(default=400, ge=20)
    field_max_chars: int = Field(default=300, ge=20, description="longest accepted 5P field")
    attempts: int = Field(default=3, ge=1, description="calls before the session is dropped as unparseable")


class InjectionSettings(ConfigSection):
    """Whether a session gets a resistance episode, where, and of which type.

    A session is drawn for injection with probability min(1, rate x level_weights[role card resistance level]);
    a session whose card has no resistance level (an imported one, whose card is partial) is drawn at the plain
    `rate`, as if its weight were 1: nothing is known to raise or lower it. Its reaction type is drawn from
    `type_mix`. The planner then reads the 5P profile and the dialogue and chooses
    where the episode starts and how many consecutive client turns it covers. With `planner_can_decline` it may
    also veto the session when resistance would be implausible anywhere in it (worth it with capable models; the
    embedded toy declines every session).
    """

    IDENTITY = ("rate", "level_weights", "type_mix", "max_turns", "planner_can_decline", "window_turns",
                "max_chars_per_turn", "context_turns", "reasoning_max_chars", "response_max_chars_zh",
                "response_max_chars_en", "attempts")

    rate: float = Field(default=0.5, ge=0, le=1, description="base share of sessions that get an episode")
    level_weights: dict[Level, float] = Field(
        default_factory=lambda: {Level.low: 0.4, Level.moderately_low: 0.7, Level.moderate: 1.0,
                                 Level.moderately_high: 1.3, Level.high: 1.6},
        description="multiplies `rate` by the role card's resistance level")
    type_mix: dict[str, float] = Field(
        default_factory=lambda: {"controlling": 0.15, "emotional": 0.15, "defensive": 0.25, "avoidant": 0.15,
                                 "compliant": 0.30},
        description="relative weights of the resistant reaction types")
    max_turns: int = Field(default=MAX_EPISODE_TURNS, ge=1, le=MAX_EPISODE_TURNS,
                           description="most client turns one episode changes")
    planner_can_decline: bool = Field(
        default=False, description="let the planner veto a drawn session; then `rate` is only an upper bound")
    window_turns: int = Field(default=40, ge=4, description="session turns the planner sees (a seeded window)")
    max_chars_per_turn: int = Field(default=400, ge=20)
    context_turns: int = Field(default=12, ge=1, description="dialogue turns the rewriter sees before the turn")
    reasoning_max_chars: int = Field(default=240, ge=20, description="longest accepted motivation step")
    response_max_chars_zh: int = Field(default=150, ge=10, description="longest rewritten client turn, Chinese")
    response_max_chars_en: int = Field(default=400, ge=10, description="longest rewritten client turn, English")
    attempts: int = Field(default=3, ge=1, description="calls per planner decision or rewritten turn")

    @field_validator("level_weights")
    @classmethod
    def _every_level(cls, value: dict[Level, float]) -> dict[Level, float]:
        missing = [lvl.value for lvl in Level if lvl not in value]
        if missing:
            raise ValueError(f"needs a weight for every level; missing {missing}")
        if any(w < 0 for w in value.values()):
            raise ValueError("weights must not be negative")
        return value

    @field_validator("type_mix")
    @classmethod
    def _resistant_types(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(RESISTANT_REACTIONS))
        if unknown:
            raise ValueError(f"unknown reaction types {unknown}; injected types are {list(RESISTANT_REACTIONS)}")
        if any(w < 0 for w in value.values()) or sum(value.values()) <= 0:
            raise ValueError("weights must be non-negative with a positive sum")
        return value

    def probability(self, level: Level | None) -> float:
        """The chance of an episode for a card of this resistance level; None (unknown level) is the plain rate."""
        return min(1.0, self.rate * (1.0 if level is None else self.level_weights[level]))

    def response_max_chars(self, lang: str) -> int:
        return self.response_max_chars_zh if lang == "zh" else self.response_max_chars_en


class LabelerSettings(ConfigSection):
    IDENTITY = ("shots", "context_turns", "max_chars_per_turn", "reason_max_chars", "attempts")

    shots: int = Field(default=1, ge=0, le=2, description="taxonomy examples per category; 0 = zero-shot")
    context_turns: int = Field(default=8, ge=0, description="dialogue turns before the labeled client turn")
    max_chars_per_turn: int = Field(default=400, ge=20)
    reason_max_chars: int = Field(default=240, ge=20)
    attempts: int = Field(default=2, ge=1, description="calls per step before the turn is recorded unparseable")


class RPCSettings(ConfigSection):
    IDENTITY = ("profile", "injection", "labeler")

    profile: ProfileSettings = Field(default_factory=ProfileSettings)
    injection: InjectionSettings = Field(default_factory=InjectionSettings)
    labeler: LabelerSettings = Field(default_factory=LabelerSettings)


def _tokens(chars: int, lang: str) -> int:
    """A rough token count of `chars` characters of model text (about 3 per token in English, fewer than one
    token per character in Chinese), plus the JSON keys around them."""
    return int(chars / 3 if lang == "en" else chars * 1.2) + 40


def budget_warnings(roles: dict[str, Any], settings: RPCSettings, languages: list[str]) -> list[str]:
    """Roles whose max_tokens look too small for the longest answer the settings allow: a guided answer that runs
    out of tokens is cut off and cannot be parsed."""
    inj = settings.injection
    answers = {
        "profiler": ("stages.rpc.profile.field_max_chars x 5", lambda lang: 5 * settings.profile.field_max_chars),
        "rewriter": ("stages.rpc.injection.reasoning_max_chars x 3 + response_max_chars",
                     lambda lang: 3 * inj.reasoning_max_chars + inj.response_max_chars(lang)),
        "labeler": ("stages.rpc.labeler.reason_max_chars", lambda lang: settings.labeler.reason_max_chars + 30),
    }
    out = []
    for role, (what, chars) in answers.items():
        for lang in languages:
            need = _tokens(chars(lang), lang)
            if role in roles and roles[role].max_tokens < need:
                out.append(f"roles.{role}.max_tokens={roles[role].max_tokens} may cut off {lang} answers of up to "
                           f"{chars(lang)} characters ({what}); about {need} tokens are needed")
    return out
