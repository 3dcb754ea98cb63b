"""Words the rpc prompts put around dialogue text, in the session's language (prompts/rpc_terms.yaml); the
dialogue itself is rendered by counselsim.transcript."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from counselsim import transcript as dialogue
from counselsim.resources import prompt, read_text, read_yaml, render

PROMPTS = ("label_binary", "label_fine", "label_input", "label_format_lines", "label_format_json", "label_reaction",
           "label_reaction_format_lines", "label_reaction_format_json", "profile_5p", "profile_5p_input", "rpc_plan",
           "rpc_plan_input", "rpc_rewrite", "rpc_rewrite_input", "rpc_rejoin", "rpc_rejoin_input")


def terms(lang: str) -> dict[str, Any]:
    return read_yaml("prompts", "rpc_terms.yaml")[lang]


def check_prompts(languages: Sequence[str]) -> None:
    """Every template and term the rpc stages use exists for these languages (FileNotFoundError/KeyError)."""
    for lang in languages:
        terms(lang)
        dialogue.speaker_names(lang)
        for name in PROMPTS:
            read_text("prompts", lang, f"{name}.txt")


def transcript(lines: Sequence[dialogue.Line], lang: str, max_chars: int, numbered: bool = False) -> str:
    """The dialogue lines (see counselsim.transcript), or the note that the session starts here when there are
    none."""
    return dialogue.transcript(lines, lang, max_chars, numbered) or terms(lang)["no_context"]


def choices(names: Sequence[str], lang: str) -> str:
    quoted = [render(terms(lang)["quote"], text=n) for n in names]
    if len(quoted) == 1:
        return quoted[0]
    sep = "、" if lang == "zh" else ", "
    last = f" {terms(lang)['or']} " if lang == "en" else terms(lang)["or"]
    return sep.join(quoted[:-1]) + ("," if lang == "en" and len(quoted) > 2 else "") + last + quoted[-1]


def reaction_type_lines(taxonomy: Any, lang: str, reactions: Sequence[str]) -> str:
    """Reaction types as the prompts list them, one per line: id, localized name, definition (`taxonomy`: an
    rpc.taxonomy.Taxonomy)."""
    line = terms(lang)["reaction_type_line"]
    return "\n".join(render(line, id=r, name=getattr(taxonomy.reaction(r).names, lang),
                            definition=getattr(taxonomy.reaction(r).definition, lang).strip())
                     for r in reactions)


def profile_text(profile: dict[str, str], lang: str) -> str:
    names = terms(lang)["profile"]
    colon = "：" if lang == "zh" else ": "
    return "\n".join(f"- {names[k]}{colon}{v}" for k, v in profile.items())


__all__ = ["check_prompts", "choices", "profile_text", "prompt", "reaction_type_lines", "terms", "transcript"]
