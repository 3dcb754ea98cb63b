"""A dialogue as text inside a prompt: one `Client: ...` / `Counselor: ...` line per turn, with the speaker names
of the session's language (data/prompts/speakers.yaml). Every prompt that shows a dialogue renders it here."""
from __future__ import annotations

from collections.abc import Iterable

from counselsim.errors import InputError
from counselsim.resources import read_yaml

Line = tuple[int, str, str]  # (turn index, speaker, text)


def speaker_names(language: str) -> dict[str, str]:
    names = read_yaml("prompts", "speakers.yaml").get(language)
    if names is None:
        raise InputError(f"no speaker names for language '{language}' in data/prompts/speakers.yaml")
    return names


def clip(text: str, max_chars: int | None) -> str:
    return text if max_chars is None or len(text) <= max_chars else text[: max_chars - 1] + "…"


def transcript(lines: Iterable[Line], language: str, max_chars: int | None = None, numbered: bool = False) -> str:
    """One line per turn, each text clipped to `max_chars`; with `numbered`, client lines carry their turn index
    as [#i] (so a model can name a turn). No lines: the empty string."""
    names = speaker_names(language)
    out = []
    for index, speaker, text in lines:
        tag = f"[#{index}] " if numbered and speaker == "client" else ""
        out.append(f"{tag}{names[speaker]}{names['colon']}{clip(text, max_chars)}")
    return "\n".join(out)
