"""The feedback record (`feedback`): one counselor reply that follows a resistant client turn, rated by a judge
model on four communication mechanisms (Li et al. 2026) at three levels, with an explanation.

Fields:
  item_id              "<session_id>#<turn, 5 digits>": the record's key, and the order of the final shards
  session_id, slot     the input session, and its slot in the input corpus
  language             the session's language
  turn                 index of the counselor reply rated; the resistant client turn is `turn - 1`
  client_text          the resistant client turn; `reply_text` the counselor reply rated
  counselor_model      the model that played the counselor (session.counselor.model; "unknown" when the input
                       does not say, e.g. an imported corpus)
  resistance_label     fine-grained PsyFIRE id of the client turn ("denying.blaming"); null when only the binary
                       label "resistance" is known (the fine-grained step was unparseable)
  resistance_group     its PsyFIRE group ("arguing" | "denying" | "avoiding" | "ignoring"); null with the label
  label_source         "corpus": the input's RPC labels; "labeler": labeled by this run (RECAP-style labeler)
  respect_for_autonomy, stance_alignment, emotional_resonance, conversational_orientation
                       0 no expression, 1 weak, 2 strong; null when the judge's output was unparseable
  explanation          the judge's explanation; null when unparseable
  judge_status         "ok" | "unparseable" (no parseable answer within the attempts; recorded, never guessed)
  judge_output         the last raw output of an unparseable judgement; null when ok
  judge                the judge model ("<path> (<backend> backend)")
"""
from __future__ import annotations

from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

MECHANISMS: tuple[str, ...] = ("respect_for_autonomy", "stance_alignment", "emotional_resonance",
                               "conversational_orientation")
LEVELS: tuple[int, ...] = (0, 1, 2)  # no expression, weak expression, strong expression

JudgeStatus = Literal["ok", "unparseable"]
LabelSource = Literal["corpus", "labeler"]


def item_id(session_id: str, turn: int) -> str:
    return f"{session_id}#{turn:05d}"


class FeedbackRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: str
    session_id: str
    slot: int = Field(ge=0)
    language: str
    turn: int = Field(ge=1)
    client_text: str
    reply_text: str
    counselor_model: str
    resistance_label: str | None = Field(default=None, pattern=r"^(?:arguing|denying|avoiding|ignoring)\.[a-z_]+$")
    resistance_group: Literal["arguing", "denying", "avoiding", "ignoring"] | None = None
    label_source: LabelSource
    respect_for_autonomy: int | None = Field(default=None, ge=0, le=2)
    stance_alignment: int | None = Field(default=None, ge=0, le=2)
    emotional_resonance: int | None = Field(default=None, ge=0, le=2)
    conversational_orientation: int | None = Field(default=None, ge=0, le=2)
    explanation: str | None = None
    judge_status: JudgeStatus
    judge_output: str | None = None
    judge: str
    judge_attempts: int = Field(ge=0)
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    feedback_run_id: str
    feedback_config_hash: str

    @model_validator(mode="after")
    def _consistent(self) -> "FeedbackRecord":
        if self.item_id != item_id(self.session_id, self.turn):
            raise ValueError(f"item_id '{self.item_id}' does not match session '{self.session_id}' turn {self.turn}")
        if (self.resistance_label is None) != (self.resistance_group is None) or (
                self.resistance_label is not None and self.resistance_label.split(".")[0] != self.resistance_group):
            raise ValueError(f"resistance_group '{self.resistance_group}' does not match label '{self.resistance_label}'")
        levels = [getattr(self, m) for m in MECHANISMS]
        if self.judge_status == "ok":
            if any(v is None for v in levels) or not self.explanation:
                raise ValueError("a judged item has all four levels and an explanation")
            if self.judge_output is not None:
                raise ValueError("judge_output is kept for unparseable items only")
        elif any(v is not None for v in levels) or self.explanation is not None:
            raise ValueError("an unparseable item has no levels and no explanation")
        return self

    def levels(self) -> dict[str, int | None]:
        return {m: getattr(self, m) for m in MECHANISMS}


FEEDBACK_FIELDS = [
    pa.field("item_id", pa.string(), nullable=False),
    pa.field("session_id", pa.string(), nullable=False),
    pa.field("slot", pa.int64(), nullable=False),
    pa.field("language", pa.string(), nullable=False),
    pa.field("turn", pa.int32(), nullable=False),
    pa.field("client_text", pa.string(), nullable=False),
    pa.field("reply_text", pa.string(), nullable=False),
    pa.field("counselor_model", pa.string(), nullable=False),
    pa.field("resistance_label", pa.string()),
    pa.field("resistance_group", pa.string()),
    pa.field("label_source", pa.string(), nullable=False),
    *(pa.field(m, pa.int8()) for m in MECHANISMS),
    pa.field("explanation", pa.string()),
    pa.field("judge_status", pa.string(), nullable=False),
    pa.field("judge_output", pa.string()),
    pa.field("judge", pa.string(), nullable=False),
    pa.field("judge_attempts", pa.int32(), nullable=False),
    pa.field("prompt_tokens", pa.int64(), nullable=False),
    pa.field("completion_tokens", pa.int64(), nullable=False),
    pa.field("feedback_run_id", pa.string(), nullable=False),
    pa.field("feedback_config_hash", pa.string(), nullable=False),
]

FEEDBACK_SCHEMA = pa.schema(FEEDBACK_FIELDS, metadata={"counselsim.record": "feedback", "counselsim.schema_version": "1"})
