"""Dialogue text as the rpc prompts show it, in the session's language (words from prompts/rpc_terms.yaml)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from counselsim.resources import prompt, read_yaml, read_text, render

PROMPTS = ("label_binary", "label_fine", "label_input", "label_format_lines", "label_format_json", "profile_5p",
           "profile_5p_input", "rpc_plan", "rpc_plan_input", "rpc_rewrite", "rpc_rewrite_input")

Line = tuple[int, str, str]  # (turn index, speaker, text)


def terms(lang: str) -> dict[str, Any]:
    return read_yaml("prompts", "rpc_terms.yaml")[lang]


def check_prompts(languages: Sequence[str]) -> None:
    """Every template and term the rpc stages use exists for these languages (FileNotFoundError/KeyError)."""
    for lang in languages:
        terms(lang)
        for name in PROMPTS:
            read_text("prompts", lang, f"{name}.txt")


def clip(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def transcript(lines: Sequence[Line], lang: str, max_chars: int, numbered: bool = False) -> str:
    """`Client: ...` / `Counselor: ...` lines; with `numbered`, client lines carry their turn index as [#i]."""
    words = terms(lang)
    colon = "：" if lang == "zh" else ": "
    out = []
    for index, speaker, text in lines:
        tag = f"[#{index}] " if numbered and speaker == "client" else ""
        out.append(f"{tag}{words[speaker]}{colon}{clip(text, max_chars)}")
    return "\n".join(out) if out else words["no_context"]


def choices(names: Sequence[str], lang: str) -> str:
    quoted = [render(terms(lang)["quote"], text=n) for n in names]
    if len(quoted) == 1:
        return quoted[0]
    sep = "、" if lang == "zh" else ", "
    last = f" {terms(lang)['or']} " if lang == "en" else terms(lang)["or"]
    return sep.join(quoted[:-1]) + ("," if lang == "en" and len(quoted) > 2 else "") + last + quoted[-1]


def profile_text(profile: dict[str, str], lang: str) -> str:
    names = terms(lang)["profile"]
    colon = "：" if lang == "zh" else ": "
    return "\n".join(f"- {names[k]}{colon}{v}" for k, v in profile.items())


__all__ = ["Line", "check_prompts", "choices", "clip", "profile_text", "prompt", "terms", "transcript"]
