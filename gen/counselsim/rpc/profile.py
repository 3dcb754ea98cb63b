"""The 5P profile builder: Presenting, Predisposing, Precipitating, Perpetuating and Protective factors, derived by
the profiler role from the role card and the session."""
from __future__ import annotations

from typing import Any

from counselsim.engines.base import Message
from counselsim.engines.parsing import json_object
from counselsim.engines.roles import RoleCaller, Unparseable
from counselsim.rpc.parsing import string_fields
from counselsim.rpc.render import prompt, transcript
from counselsim.rpc.settings import ProfileSettings
from counselsim.runtime.job import Dropped
from counselsim.schemas import RoleCard, Session
from counselsim.schemas.rpc import Profile5P
from counselsim.simpsydial.agents import render_role_card

STAGE = "profile"
ROLE = "profiler"
KEYS = tuple(Profile5P.model_fields)  # presenting, predisposing, precipitating, perpetuating, protective


def profile_schema(max_chars: int) -> dict[str, Any]:
    field = {"type": "string", "minLength": 1, "maxLength": max_chars}
    return {"type": "object", "properties": {k: field for k in KEYS}, "required": list(KEYS),
            "additionalProperties": False}


def profile_messages(session: Session, settings: ProfileSettings) -> list[Message]:
    lang = session.language
    lines = [(t.index, t.speaker, t.text) for t in session.turns[: settings.max_turns]]
    user = prompt(lang, "profile_5p_input", role_card=render_role_card(session.role_card),
                  transcript=transcript(lines, lang, settings.max_chars_per_turn))
    return [{"role": "system", "content": prompt(lang, "profile_5p")}, {"role": "user", "content": user}]


def card_profile_messages(card: RoleCard) -> list[Message]:
    """The profile request of a live session's client, made before its first turn: the role card alone."""
    lang = card.language
    user = prompt(lang, "profile_5p_input", role_card=render_role_card(card), transcript=transcript([], lang, 1))
    return [{"role": "system", "content": prompt(lang, "profile_5p")}, {"role": "user", "content": user}]


def parse_profile(text: str, max_chars: int) -> Profile5P:
    return Profile5P(**string_fields(json_object(text), KEYS, max_chars))


async def build_profile(calls: RoleCaller, session: Session, settings: ProfileSettings) -> Profile5P:
    """The session's 5P profile; a profile that cannot be parsed after `settings.attempts` calls drops the session
    (every RPC record has one)."""
    return await profile_from(calls, profile_messages(session, settings), settings.field_max_chars, settings.attempts)


async def profile_from(calls: RoleCaller, messages: list[Message], field_max_chars: int, attempts: int) -> Profile5P:
    """The profiler's answer to `messages`, or Dropped("profile_unparseable") after `attempts` calls."""
    try:
        result = await calls.parsed(ROLE, messages, lambda text: parse_profile(text, field_max_chars), STAGE,
                                    attempts=attempts, schema=profile_schema(field_max_chars), stage=STAGE)
    except Unparseable as e:
        raise Dropped("profile_unparseable", f"{e}; last output: {e.text[:200]!r}") from None
    calls.meter.count(STAGE)
    return result.value
