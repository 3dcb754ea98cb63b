"""The supervisor's prompt (SimPsyDial Figures 12-13): the dialogue history and the two candidate replies in a
seeded random order. The order is recorded, so a verdict for option A or B is mapped back to its entrant."""
from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from counselsim.engines.base import Message
from counselsim.errors import InputError
from counselsim.resources import data_path, read_yaml, render
from counselsim.transcript import transcript

Label = Literal["A", "B"]
LABELS: tuple[Label, Label] = ("A", "B")
PROMPT_IDS = (1, 2)

# Guided decoding of a verdict: the reasoning first, so the model explains before it commits to a letter.
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"reason": {"type": "string"}, "choice": {"type": "string", "enum": list(LABELS)}},
    "required": ["reason", "choice"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Presentation:
    """The entrants in the order the supervisor saw their replies: shown[0] is option A, shown[1] option B."""

    shown: tuple[str, str]

    def entrant_of(self, label: Label) -> str:
        return self.shown[LABELS.index(label)]

    def position_of(self, entrant: str) -> Label:
        return LABELS[self.shown.index(entrant)]


def shuffle(pair: tuple[str, str], seed: int) -> Presentation:
    """A fair coin decides whether entrant a's reply is shown first."""
    a, b = pair
    return Presentation((a, b) if random.Random(seed).random() < 0.5 else (b, a))


def prompt_file(language: str, prompt_id: int) -> str:
    return f"prompts/{language}/arena_select_{prompt_id}.txt"


def check_prompt(language: str, prompt_id: int) -> None:
    """InputError when the supervisor prompt for this language and prompt id does not ship."""
    if prompt_id not in PROMPT_IDS:
        raise InputError(f"supervisor prompt {prompt_id}: must be one of {list(PROMPT_IDS)}")
    if not data_path(*prompt_file(language, prompt_id).split("/")).is_file():
        raise InputError(f"supervisor prompt {prompt_id} for language '{language}': "
                         f"missing data file counselsim/data/{prompt_file(language, prompt_id)}")
    if language not in read_yaml("prompts", "arena.yaml"):
        raise InputError(f"language '{language}': no entry in counselsim/data/prompts/arena.yaml")


@cache
def _template(language: str, prompt_id: int) -> str:
    return data_path(*prompt_file(language, prompt_id).split("/")).read_text(encoding="utf-8")


def language_rules(language: str) -> dict[str, Any]:
    return read_yaml("prompts", "arena.yaml")[language]


def render_history(history: Sequence[tuple[str, str]], language: str) -> str:
    return transcript(((i, who, text) for i, (who, text) in enumerate(history)), language)


def supervisor_messages(language: str, prompt_id: int, history: Sequence[tuple[str, str]],
                        replies: Mapping[str, str], presentation: Presentation) -> list[Message]:
    """One user message: the whole prompt, as the paper gives it. `replies` maps entrant -> candidate reply."""
    rules = language_rules(language)
    options = "\n".join(render(rules["candidate"], label=label, text=replies[presentation.entrant_of(label)])
                        for label in LABELS)
    text = render(_template(language, prompt_id), dialogue_history=render_history(history, language),
                  shuffled_candidates=options)
    return [{"role": "user", "content": text.strip()}]
