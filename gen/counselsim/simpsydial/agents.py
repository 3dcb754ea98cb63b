"""The two role-players: system prompts and how each one sees the shared history.

Each model sees the other party as `user` and itself as `assistant`.
"""
from __future__ import annotations

from collections.abc import Sequence

from counselsim.engines.base import Message
from counselsim.resources import prompt, read_yaml
from counselsim.schemas import Level, RoleCard, TraitAssessment

HistoryItem = tuple[str, str]  # (speaker, text), speaker in {"client", "counselor"}


def trait_text(level: Level, note: str | None, language: str) -> str:
    """A trait or the resistance as the prompts word it: the level's phrase (prompts/levels.yaml), then the note."""
    phrase = read_yaml("prompts", "levels.yaml")[language][level.value]
    if not note:
        return phrase
    return f"{phrase}。{note}" if language == "zh" else f"{phrase}. {note}"


def render_role_card(card: RoleCard) -> str:
    lang = card.language
    traits: dict[str, TraitAssessment] = dict(card.big_five)
    return prompt(
        lang,
        "role_card",
        gender=card.gender,
        age=card.age,
        education=card.education,
        occupation=card.occupation,
        marital_status=card.marital_status,
        family_relationships=card.family_relationships,
        **{name: trait_text(t.level, t.note, lang) for name, t in traits.items()},
        resistance=trait_text(card.resistance.level, card.resistance.reasoning, lang),
        chief_complaint=card.chief_complaint,
    )


def client_system_prompt(card: RoleCard, max_turn_pairs: int) -> str:
    return prompt(card.language, "client", role_card=render_role_card(card), max_turn_pairs=max_turn_pairs)


def counselor_system_prompt(language: str) -> str:
    return prompt(language, "counselor")


def messages_for(speaker: str, system: str, history: Sequence[HistoryItem]) -> list[Message]:
    """The chat the model playing `speaker` sees: its own turns as assistant, the other party's as user."""
    messages: list[Message] = [{"role": "system", "content": system}]
    for who, text in history:
        messages.append({"role": "assistant" if who == speaker else "user", "content": text})
    return messages
