"""The `stages.rpc` section of a pipeline config (validated when the config loads) and its token-budget check.
Every setting changes what the profiler, rewriter or labeler produce, so all are in the resume identity."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from counselsim.identity import ConfigSection
from counselsim.schemas.role_card import Level
from counselsim.schemas.rpc import MAX_EPISODE_TURNS


class ProfileSettings(ConfigSection):
    IDENTITY = ("max_turns", "max_chars_per_turn", "field_max_chars", "attempts")

    max_turns: int = Field(default=30, ge=2, description="session turns the profiler reads, from the start")
    max_chars_per_turn: int = Field(default=400, ge=20)
    field_max_chars: int = Field(default=300, ge=20, description="longest accepted 5P field")
    attempts: int = Field(default=3, ge=1, description="calls before the session is dropped as unparseable")


class InjectionSettings(ConfigSection):
    """Whether a session gets a resistance episode, where, of which type, and how the dialogue goes on after it.

    The planner (role `rewriter`, counselsim.rpc.planner) decides whether, where and which type from the 5P profile,
    the card's resistance level and the dialogue; it may always decline. No random draw decides: `rate` x
    level_weights[level] (capped at 1) is the TARGET share of sessions with an episode, shown to the planner as
    guidance and reported in the run manifest against the share it achieved. A card without a resistance level (an
    imported session's partial card) has the plain `rate` as its target: nothing is known to raise or lower it.
    `enabled: false` makes no planner call at all (episode_decision "disabled"): a label-only pass, e.g. to label a
    plain corpus for comparison.

    After the episode, `continuation` keeps the transcript coherent where an original client turn follows the last
    regenerated counselor reply: `check` asks the rewriter whether that turn still follows naturally (kept if so,
    else as `regenerate`); `regenerate` regenerates every later turn, client by the client role and counselor
    through σ, until a counselor closing or the original length (counselsim.rpc.rewriter).

    Removed settings: `type_mix` (the planner chooses the type) and `planner_can_decline` (it always may); a
    config that still sets either fails to load with "field 'stages.rpc.injection.type_mix': unknown key".
    """

    IDENTITY = ("enabled", "rate", "level_weights", "max_turns", "continuation", "window_turns", "max_chars_per_turn",
                "context_turns", "reasoning_max_chars", "response_max_chars_zh", "response_max_chars_en", "attempts")

    enabled: bool = Field(default=True, description="false: no planner call, no episode (a label-only pass)")
    rate: float = Field(default=0.5, ge=0, le=1, description="target share of sessions with an episode")
    level_weights: dict[Level, float] = Field(
        default_factory=lambda: {Level.low: 0.4, Level.moderately_low: 0.7, Level.moderate: 1.0,
                                 Level.moderately_high: 1.3, Level.high: 1.6},
        description="multiplies `rate` by the role card's resistance level (the target per level)")
    max_turns: int = Field(default=MAX_EPISODE_TURNS, ge=1, le=MAX_EPISODE_TURNS,
                           description="most client turns one episode changes")
    continuation: Literal["check", "regenerate"] = Field(
        default="check", description="after the episode: keep the original next client turn if it still follows "
                                     "(check), or regenerate everything after the episode (regenerate)")
    window_turns: int = Field(default=40, ge=4, description="session turns the planner sees (a seeded window)")
    max_chars_per_turn: int = Field(default=400, ge=20)
    context_turns: int = Field(default=12, ge=1, description="dialogue turns the rewriter sees before the turn")
    reasoning_max_chars: int = Field(default=240, ge=20, description="longest accepted motivation step or reason")
    response_max_chars_zh: int = Field(default=150, ge=10, description="longest rewritten client turn, Chinese")
    response_max_chars_en: int = Field(default=400, ge=10, description="longest rewritten client turn, English")
    attempts: int = Field(default=3, ge=1, description="calls per planner decision, rewritten turn or rejoin check")

    @field_validator("level_weights")
    @classmethod
    def _every_level(cls, value: dict[Level, float]) -> dict[Level, float]:
        missing = [lvl.value for lvl in Level if lvl not in value]
        if missing:
            raise ValueError(f"needs a weight for every level; missing {missing}")
        if any(w < 0 for w in value.values()):
            raise ValueError("weights must not be negative")
        return value

    def target(self, level: Level | None) -> float:
        """The target share of sessions with an episode for cards of this resistance level; None (unknown level)
        is the plain rate."""
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


class SelectionSettings(ConfigSection):
    """Which input sessions the run transforms, balanced across the role cards' topics (counselsim.rpc.selection).
    Both null (the default): every input session."""

    IDENTITY = ("per_topic", "max_sessions")

    per_topic: int | None = Field(default=None, ge=1, description="most sessions per topic; null = all")
    max_sessions: int | None = Field(default=None, ge=1, description="most sessions in all, topics interleaved")

    @property
    def active(self) -> bool:
        return self.per_topic is not None or self.max_sessions is not None


class RPCSettings(ConfigSection):
    IDENTITY = ("selection", "profile", "injection", "labeler")

    selection: SelectionSettings = Field(default_factory=SelectionSettings)
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
