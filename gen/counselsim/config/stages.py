"""The typed `stages:` sections: one model per pipeline kind, naming the stages that kind runs.

Stage settings with a home of their own live there (dedup/config.py, rpc/settings.py); the judge's and the card
builder's are small enough to live here, where their modules import them from.
"""
from __future__ import annotations

from pydantic import Field, field_validator

from counselsim.dedup.config import DedupConfig
from counselsim.feedback.settings import FeedbackSettings
from counselsim.identity import ConfigSection
from counselsim.resources import read_yaml
from counselsim.rpc.settings import RPCSettings


class WaiSettings(ConfigSection):
    """`stages.wai`: the WAI-O-S judge (audit --wai)."""

    IDENTITY = ("rounds",)
    OUTSIDE_IDENTITY = ("concurrency", "max_sessions")  # max_sessions: like run.sessions, how much to judge

    rounds: int = Field(default_factory=lambda: read_yaml("wai_items.yaml")["rounds"], ge=1,
                        description="independent rounds per item")
    concurrency: int = Field(default=64, ge=1, description="judge calls in flight at once")
    max_sessions: int | None = Field(default=None, ge=1, description="judge only the first N sessions")


class BuildSettings(ConfigSection):
    """`stages.build`: role cards built from chief complaints (role-cards build)."""

    IDENTITY = ("max_attempts", "id_prefix")
    OUTSIDE_IDENTITY = ("concurrency",)

    max_attempts: int = Field(default=3, ge=1, description="calls per complaint before it is recorded as failed")
    concurrency: int = Field(default=64, ge=1, description="builder calls in flight at once")
    id_prefix: str = Field(default="built", min_length=1, description="card ids are <prefix>-<index>")


class SimPsyDialStages(ConfigSection):
    IDENTITY = ("dedup",)

    dedup: DedupConfig = Field(default_factory=DedupConfig)


class RPCStages(ConfigSection):
    IDENTITY = ("dedup", "rpc")

    dedup: DedupConfig = Field(default_factory=DedupConfig)
    rpc: RPCSettings = Field(default_factory=RPCSettings)


class RoleCardsStages(ConfigSection):
    IDENTITY = ("build",)

    build: BuildSettings = Field(default_factory=BuildSettings)


class WaiStages(ConfigSection):
    IDENTITY = ("wai",)

    wai: WaiSettings = Field(default_factory=WaiSettings)


class FeedbackStages(ConfigSection):
    IDENTITY = ("dedup", "feedback")

    dedup: DedupConfig = Field(default_factory=lambda: DedupConfig(enabled=False))
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)

    @field_validator("dedup")
    @classmethod
    def _no_dedup(cls, value: DedupConfig) -> DedupConfig:
        if value.enabled:
            raise ValueError("feedback records rate single replies; dedup works on sessions and must stay disabled")
        return value
