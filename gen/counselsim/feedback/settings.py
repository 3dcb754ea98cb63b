"""The `stages.feedback` section of a feedback pipeline config (validated when the config loads). Every setting
but the expert file shapes what the judge or the labeler produce, so those are in the resume identity."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from counselsim.identity import ConfigSection
from counselsim.rpc.settings import LabelerSettings


class FeedbackSettings(ConfigSection):
    IDENTITY = ("labels", "context_turns", "max_chars_per_turn", "show_resistance_label", "explanation_max_chars",
                "attempts", "labeler")
    OUTSIDE_IDENTITY = ("expert_ratings",)  # read for the manifest's agreement section only

    labels: Literal["auto", "corpus", "labeler"] = Field(default="auto", description=(
        "where the resistant client turns come from: 'corpus' reads the PsyFIRE labels of an rpc corpus, "
        "'labeler' labels client turns with the RECAP-style labeler (needs a labeler role), 'auto' uses the "
        "corpus labels when the input has them and the labeler otherwise"))
    context_turns: int = Field(default=8, ge=0, description=(
        "dialogue turns the judge sees before the resistant client turn (how many the paper keeps is unknown)"))
    max_chars_per_turn: int = Field(default=400, ge=20)
    show_resistance_label: bool = Field(default=True, description=(
        "name the client's PsyFIRE behaviour in the prompt; whether the paper's model saw it is unknown"))
    explanation_max_chars: int = Field(default=600, ge=20, description="longest accepted explanation")
    attempts: int = Field(default=2, ge=1, description="judge calls per item before it is recorded unparseable")
    expert_ratings: str | None = Field(default=None, description=(
        "JSONL file of expert ratings of the same items, for per-mechanism macro-F1 and confusion matrices in the "
        "manifest (one object per line: session_id, turn and the four mechanism levels)"))
    labeler: LabelerSettings = Field(default_factory=LabelerSettings)
