"""The two role-players: system prompts and how each one sees the shared history.

Each model sees the other party as `user` and itself as `assistant`.
"""
from __future__ import annotations

from collections.abc import Sequence

from counselsim.engines.base import Message
from counselsim.resources import prompt, read_yaml
from counselsim.schemas import Level, RoleCard, TraitAssessment
from counselsim.schemas.imported import PartialRoleCard

HistoryItem = tuple[str, str]  # (speaker, text), speaker in {"client", "counselor"}


def trait_text(level: Level, note: str | None, language: str) -> str:
    """A trait or the resistance as the prompts word it: the level's phrase (prompts/levels.yaml), then the note."""
    phrase = read_yaml("prompts", "levels.yaml")[language][level.value]
    if not note:
        return phrase
    return f"{phrase}。{note}" if language == "zh" else f"{phrase}. {note}"


def render_role_card(card: RoleCard | PartialRoleCard) -> str:
    """The card as every prompt shows it (client, profiler, rewriter). A partial card (an imported session) has its
    own template: the chief complaint when it has one (prompts/<lang>/role_card_complaint.txt), else a note that
    nothing beyond the dialogue is known (role_card_unknown.txt), so no prompt shows empty profile fields."""
    lang = card.language
    if isinstance(card, PartialRoleCard):
        if card.chief_complaint is None:
            return prompt(lang, "role_card_unknown")
        return prompt(lang, "role_card_complaint", chief_complaint=card.chief_complaint)
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
        resistance=resistance_text(card),
        chief_complaint=card.chief_complaint,
    )


def resistance_text(card: RoleCard | PartialRoleCard) -> str:
    """The card's resistance to counseling as the prompts word it; a partial card has no level, and says so
    (the `unknown` phrase of prompts/levels.yaml)."""
    if isinstance(card, PartialRoleCard):
        return read_yaml("prompts", "levels.yaml")[card.language]["unknown"]
    return trait_text(card.resistance.level, card.resistance.reasoning, card.language)


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
