"""The RPC record (`rpc_session`): a session with a 5P profile, at most one injected resistance episode, and every
client turn labeled with a PsyFIRE behaviour and a rationale.

Turn fields beyond the session Turn:
  label_binary     "resistance" | "collaboration"; null on counselor turns, and on client turns whose binary label
                   could not be parsed
  label            fine-grained PsyFIRE id ("denying.blaming", ...) or "collaboration"; null when unparseable
  label_group      "arguing" | "denying" | "avoiding" | "ignoring" | "collaboration"; null when `label` is
  label_rationale  the labeler's reason for `label` (or for the binary label when no fine label was parsed)
  label_status     "ok" | "unparseable" on client turns (a label that could not be parsed is recorded as such,
                   never guessed; a parsed binary label is kept when only the fine-grained step failed); null on
                   counselor turns
  injected         the client turn was rewritten to resist (a gold label for the labeler's self-check)
  reaction_type    the RPC reaction type an injected turn was rewritten to show; null otherwise
  motivation       profile reflection -> situation awareness -> reaction decision behind an injected turn
  original_text    the text before rewriting (injected client turns, regenerated counselor turns); null otherwise
  regenerated      a counselor reply regenerated after an injected client turn, through the same check σ
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from counselsim.schemas.reasoning import (  # noqa: F401  (re-exported: the rpc stages import them from here)
    COOPERATIVE_REACTIONS,
    RESISTANT_REACTIONS,
    Motivation,
    Profile5P,
    ReactionType,
)
from counselsim.schemas.session import Session, Turn

LabelBinary = Literal["resistance", "collaboration"]
LabelGroup = Literal["arguing", "denying", "avoiding", "ignoring", "collaboration"]
LabelStatus = Literal["ok", "unparseable"]
LABEL_GROUPS: tuple[str, ...] = ("arguing", "denying", "avoiding", "ignoring", "collaboration")
MAX_EPISODE_TURNS = 3  # RPC: at most one episode per session, with at most three client turns changed


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Episode(_Strict):
    turn_indices: list[int] = Field(min_length=1, max_length=MAX_EPISODE_TURNS, description="injected client turns")
    reaction_type: ReactionType


class RPCTurn(Turn):
    label_binary: LabelBinary | None = None
    label: str | None = Field(default=None, pattern=r"^(?:collaboration|(?:arguing|denying|avoiding|ignoring)\.[a-z_]+)$")
    label_group: LabelGroup | None = None
    label_rationale: str | None = None
    label_status: LabelStatus | None = None
    injected: bool = False
    original_text: str | None = None
    regenerated: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> "RPCTurn":
        where = f"turn {self.index}"
        if self.speaker == "counselor":
            if any(v is not None for v in (self.label_binary, self.label, self.label_group, self.label_rationale,
                                           self.label_status, self.reaction_type, self.motivation)) or self.injected:
                raise ValueError(f"{where}: a counselor turn carries no label, injection or motivation")
            if self.regenerated and self.original_text is None:
                raise ValueError(f"{where}: a regenerated counselor turn keeps its original_text")
            if not self.regenerated and self.original_text is not None:
                raise ValueError(f"{where}: original_text is set but the turn was not regenerated")
            return self
        if self.regenerated:
            raise ValueError(f"{where}: only counselor turns are regenerated")
        if self.label_status is None:
            raise ValueError(f"{where}: every client turn has a label_status")
        if self.label is not None:
            group = self.label.split(".")[0]
            if self.label_group != group:
                raise ValueError(f"{where}: label_group '{self.label_group}' does not match label '{self.label}'")
            binary = "collaboration" if group == "collaboration" else "resistance"
            if self.label_binary != binary:
                raise ValueError(f"{where}: label_binary '{self.label_binary}' does not match label '{self.label}'")
        elif self.label_group is not None:
            raise ValueError(f"{where}: label_group without label")
        if self.label_status == "ok" and self.label is None:
            raise ValueError(f"{where}: label_status 'ok' without a label")
        if self.label_status == "unparseable" and self.label is not None:
            raise ValueError(f"{where}: an unparseable turn has no fine-grained label")
        if self.injected:
            if self.original_text is None or self.motivation is None or self.reaction_type is None:
                raise ValueError(f"{where}: an injected turn keeps original_text, motivation and reaction_type")
        elif self.original_text is not None or self.motivation is not None or self.reaction_type is not None:
            raise ValueError(f"{where}: original_text, motivation and reaction_type belong to injected turns")
        return self


class RPCSession(Session):
    turns: list[RPCTurn]
    profile_5p: Profile5P
    episode: Episode | None = None
    source_session_id: str = Field(min_length=1, description="the input session this record was made from")
    rpc_run_id: str = Field(description="the rpc run that made this record (run_id is the generation run)")
    rpc_config_hash: str
    rpc_prompt_tokens: int = Field(ge=0, description="tokens of every rpc stage's calls for this session")
    rpc_completion_tokens: int = Field(ge=0)

    @model_validator(mode="after")
    def _episode_matches_turns(self) -> "RPCSession":
        injected = [t.index for t in self.turns if t.injected]
        if self.episode is None:
            if injected:
                raise ValueError(f"turns {injected} are injected but the session has no episode")
            return self
        if sorted(self.episode.turn_indices) != injected:
            raise ValueError(f"episode turns {self.episode.turn_indices} differ from the injected turns {injected}")
        by_index = {t.index: t for t in self.turns}
        for i in self.episode.turn_indices:
            if by_index[i].speaker != "client":
                raise ValueError(f"episode turn {i} is not a client turn")
            if by_index[i].reaction_type != self.episode.reaction_type:
                raise ValueError(f"episode turn {i} shows '{by_index[i].reaction_type}', the episode "
                                 f"'{self.episode.reaction_type}'")
        return self
