"""The reasoning client of `session.client_mode: resistant` (ResistClient's motivation reasoning).

Before its first turn the client is profiled once (5P, by the `profiler` role, from the role card). Before each
utterance one structured call returns the three reasoning steps (profile reflection, situation awareness, reaction
decision), the reaction type the decision amounts to (one of the seven RPC types) and then the utterance, in that
order, so the type is written after, and from, the reasoning. Only the utterance enters the dialogue; the type
and reasoning are kept on the turn. A turn that does not parse within `attempts` calls drops the session
("client_unparseable"): the reasoning is never guessed.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from counselsim.config.sections import ResistantClientConfig
from counselsim.engines.parsing import ParseError, json_object
from counselsim.engines.roles import RoleCaller, Unparseable
from counselsim.resources import prompt
from counselsim.rpc.parsing import string_fields
from counselsim.rpc.profile import card_profile_messages, profile_from
from counselsim.rpc.render import profile_text, reaction_type_lines
from counselsim.rpc.taxonomy import load_taxonomy
from counselsim.runtime.job import Dropped
from counselsim.schemas import RoleCard, Turn
from counselsim.schemas.reasoning import (
    COOPERATIVE_REACTIONS,
    RESISTANT_REACTIONS,
    Motivation,
    Profile5P,
)
from counselsim.simpsydial.agents import client_system_prompt, messages_for
from counselsim.simpsydial.refinement import clean

ROLE = "client"
REACTIONS = RESISTANT_REACTIONS + COOPERATIVE_REACTIONS
REASONING_KEYS = tuple(Motivation.model_fields)  # profile_reflection, situation_awareness, reaction_decision


def reaction_list(lang: str) -> str:
    """The seven types as the prompt lists them: id, localized name, definition."""
    return reaction_type_lines(load_taxonomy(), lang, REACTIONS)


def system_prompt(card: RoleCard, profile: Profile5P, max_turn_pairs: int) -> str:
    """The plain client's prompt (role card and dialogue requirements, one file for both modes), then the 5P
    profile and the reasoning steps of client_resistant.txt."""
    lang = card.language
    addendum = prompt(lang, "client_resistant", profile=profile_text(profile.model_dump(), lang),
                      reaction_types=reaction_list(lang))
    return client_system_prompt(card, max_turn_pairs) + "\n\n" + addendum


def turn_schema(reasoning_max_chars: int, utterance_max_chars: int) -> dict[str, Any]:
    """Guided decoding: the keys in reasoning order, the type as an enum of the seven ids."""
    step = {"type": "string", "minLength": 1, "maxLength": reasoning_max_chars}
    properties: dict[str, Any] = {key: step for key in REASONING_KEYS}
    properties["reaction_type"] = {"type": "string", "enum": list(REACTIONS)}
    properties["utterance"] = {"type": "string", "minLength": 1, "maxLength": utterance_max_chars}
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}


@dataclass(frozen=True)
class ReasonedTurn:
    motivation: Motivation
    reaction_type: str
    utterance: str


def parse_turn(text: str, reasoning_max_chars: int, utterance_max_chars: int) -> ReasonedTurn:
    """The reasoning, type and utterance of one answer (engines without guided decoding answer free text, so the
    type may be spelled as its name); ParseError when any part is missing, too long or names no single type."""
    obj = json_object(text)
    steps = string_fields(obj, REASONING_KEYS, reasoning_max_chars)
    raw_type = obj.get("reaction_type")
    reaction = load_taxonomy().reaction_index.match(raw_type) if isinstance(raw_type, str) else None
    if reaction is None:
        raise ParseError(f"field 'reaction_type': {raw_type!r} names none of {list(REACTIONS)}")
    utterance = clean(string_fields(obj, ("utterance",))["utterance"])
    if not utterance:
        raise ParseError("field 'utterance' is empty once cleaned")
    if len(utterance) > utterance_max_chars:
        raise ParseError(f"field 'utterance' is longer than {utterance_max_chars} characters")
    return ReasonedTurn(Motivation(**steps), reaction, utterance)


@dataclass(frozen=True)
class ResistantClient:
    """One session's reasoning client: its profile and the system prompt built from it."""

    profile: Profile5P
    system: str
    language: str
    settings: ResistantClientConfig

    async def speak(self, calls: RoleCaller, history: Sequence[Turn]) -> Turn:
        """The next client turn after `history` (the session so far), or Dropped("client_unparseable")."""
        index = len(history)
        messages = messages_for(ROLE, self.system, [(t.speaker, t.text) for t in history])
        reasoning_max = self.settings.reasoning_max_chars
        utterance_max = self.settings.utterance_max_chars(self.language)
        try:
            result = await calls.parsed(ROLE, messages, lambda text: parse_turn(text, reasoning_max, utterance_max),
                                        index, attempts=self.settings.attempts,
                                        schema=turn_schema(reasoning_max, utterance_max))
        except Unparseable as e:
            raise Dropped("client_unparseable", f"client turn {index}: {e}; last output: {e.text[:200]!r}") from None
        value: ReasonedTurn = result.value
        return Turn(index=index, speaker="client", text=value.utterance, attempts=result.attempts,
                    prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
                    latency_s=result.latency_s, finish_reason=result.finish_reason,
                    reaction_type=value.reaction_type, motivation=value.motivation)


async def start(calls: RoleCaller, card: RoleCard, max_turn_pairs: int,
                settings: ResistantClientConfig) -> ResistantClient:
    """Profile the client once (Dropped("profile_unparseable") when the profiler fails) and build its prompt."""
    profile = await profile_from(calls, card_profile_messages(card), settings.profile_field_max_chars,
                                 settings.profile_attempts)
    return ResistantClient(profile, system_prompt(card, profile, max_turn_pairs), card.language, settings)
