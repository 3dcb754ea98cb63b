"""An arena dialogue (SimPsyDial Algorithm 2): a session whose every counselor turn is a battle between two
entrants' candidate replies, judged by the supervisor; the chosen reply is the turn's text.

Turns keep the fields of a session turn, so dedup, the audit and the SFT export read an arena corpus as they
read a session corpus; a counselor turn adds its `battle`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from counselsim.schemas.arrow import ROLE_CARD, ROLE_MODEL, TIMESTAMP, TURN
from counselsim.schemas.role_card import Language, RoleCard
from counselsim.schemas.session import RoleModel, Turn

Position = Literal["A", "B"]
VerdictStatus = Literal["ok", "unparseable"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Entrant(_Strict):
    """A counselor in the arena: its roster name, the model and sampling behind it, its system prompt."""

    name: str
    model: RoleModel
    system_prompt: str


class Candidate(_Strict):
    entrant: str
    position: Position = Field(description="where the supervisor saw this reply: option A or option B")
    text: str
    attempts: int = Field(ge=1, description="generations until the reply passed σ")
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    latency_s: float = Field(ge=0)


class Battle(_Strict):
    candidates: list[Candidate] = Field(min_length=2, max_length=2, description="entrant a's reply, then b's")
    status: VerdictStatus = Field(description="ok: a verdict was read; unparseable: no output of the supervisor "
                                              "held a single choice")
    choice: Position | None = Field(description="the option the supervisor chose; None unless status is ok")
    winner: str | None = Field(description="the entrant behind the chosen option; None unless status is ok")
    reason: str = Field(description="the supervisor's basis for selection")
    continued_with: str = Field(description="the entrant whose reply the dialogue went on with: the winner, "
                                            "or a seeded coin's pick when there is no verdict")
    judge_output: str = Field(description="the supervisor's last raw output")
    judge_attempts: int = Field(ge=0)
    judge_guided: bool = Field(description="the verdict came from guided JSON decoding")
    judge_prompt_tokens: int = Field(ge=0)
    judge_completion_tokens: int = Field(ge=0)


class ArenaTurn(Turn):
    """A session turn; a counselor turn's text is the reply the dialogue went on with, its tokens and latency
    those of both candidates and the supervisor."""

    battle: Battle | None = Field(default=None, description="counselor turns only")


class ArenaDialogue(_Strict):
    session_id: str
    run_id: str
    slot: int = Field(ge=0, description="position in the run's plan; fixes role card, seed and the pair")
    role_card_id: str
    language: Language
    role_card: RoleCard
    client: RoleModel
    entrants: list[Entrant] = Field(min_length=2, max_length=2, description="entrant a, entrant b")
    supervisor: RoleModel
    supervisor_prompt: int = Field(description="1 or 2: the paper's Figure 12 or 13")
    seed: int
    turns: list[ArenaTurn]
    termination_reason: Literal["farewell", "turn_cap"]
    num_turn_pairs: int = Field(ge=0)
    battles: int = Field(ge=0, description="counselor turns with a verdict")
    unjudged: int = Field(ge=0, description="counselor turns without a verdict (unparseable)")
    regenerations: int = Field(ge=0, description="candidate and client generations rejected by the checks")
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    started_at: datetime
    finished_at: datetime
    duration_s: float = Field(ge=0)
    config_hash: str
    package_version: str


ENTRANT = pa.struct([("name", pa.string()), ("model", ROLE_MODEL), ("system_prompt", pa.string())])

CANDIDATE = pa.struct([
    ("entrant", pa.string()),
    ("position", pa.string()),
    ("text", pa.string()),
    ("attempts", pa.int32()),
    ("prompt_tokens", pa.int32()),
    ("completion_tokens", pa.int32()),
    ("latency_s", pa.float64()),
])

BATTLE = pa.struct([
    ("candidates", pa.list_(CANDIDATE)),
    ("status", pa.string()),
    ("choice", pa.string()),
    ("winner", pa.string()),
    ("reason", pa.string()),
    ("continued_with", pa.string()),
    ("judge_output", pa.string()),
    ("judge_attempts", pa.int32()),
    ("judge_guided", pa.bool_()),
    ("judge_prompt_tokens", pa.int32()),
    ("judge_completion_tokens", pa.int32()),
])

ARENA_TURN = pa.struct(list(TURN) + [("battle", BATTLE)])

ARENA_DIALOGUE_SCHEMA = pa.schema([
    pa.field("session_id", pa.string(), nullable=False),
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("slot", pa.int64(), nullable=False),
    pa.field("role_card_id", pa.string(), nullable=False),
    pa.field("language", pa.string(), nullable=False),
    pa.field("role_card", ROLE_CARD, nullable=False),
    pa.field("client", ROLE_MODEL, nullable=False),
    pa.field("entrants", pa.list_(ENTRANT), nullable=False),
    pa.field("supervisor", ROLE_MODEL, nullable=False),
    pa.field("supervisor_prompt", pa.int32(), nullable=False),
    pa.field("seed", pa.int64(), nullable=False),
    pa.field("turns", pa.list_(ARENA_TURN), nullable=False),
    pa.field("termination_reason", pa.string(), nullable=False),
    pa.field("num_turn_pairs", pa.int32(), nullable=False),
    pa.field("battles", pa.int32(), nullable=False),
    pa.field("unjudged", pa.int32(), nullable=False),
    pa.field("regenerations", pa.int32(), nullable=False),
    pa.field("prompt_tokens", pa.int64(), nullable=False),
    pa.field("completion_tokens", pa.int64(), nullable=False),
    pa.field("started_at", TIMESTAMP, nullable=False),
    pa.field("finished_at", TIMESTAMP, nullable=False),
    pa.field("duration_s", pa.float64(), nullable=False),
    pa.field("config_hash", pa.string(), nullable=False),
    pa.field("package_version", pa.string(), nullable=False),
], metadata={"counselsim.record": "arena_dialogue", "counselsim.schema_version": "1"})
