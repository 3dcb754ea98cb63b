"""The judge's messages: a system message with the role, the task, the four mechanisms and the three levels (the
same for every item of a language, so engines with prefix caching compute it once), and the dialogue snippet as
the user message. Templates: data/prompts/{en,zh}/feedback*.txt, words: data/prompts/feedback_terms.yaml."""
from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from counselsim.engines.base import Message
from counselsim.feedback.mechanisms import load_mechanisms
from counselsim.resources import prompt, read_text, read_yaml, render
from counselsim.schemas.feedback import MECHANISMS
from counselsim.transcript import speaker_names, transcript

PROMPTS = ("feedback", "feedback_input")


def terms(lang: str) -> dict[str, str]:
    return read_yaml("prompts", "feedback_terms.yaml")[lang]


def check_prompts(languages: Sequence[str]) -> None:
    """Every template and term the judge uses exists for these languages (FileNotFoundError/KeyError)."""
    for lang in languages:
        terms(lang)
        speaker_names(lang)
        for name in PROMPTS:
            read_text("prompts", lang, f"{name}.txt")


@cache
def system_prompt(lang: str) -> str:
    spec, words = load_mechanisms(), terms(lang)
    mechanisms = "\n".join(
        render(words["mechanism"], number=n, name=getattr(m.names, lang), key=m.id,
               definition=getattr(m.definition, lang)) for n, m in enumerate(spec.mechanisms, 1))
    levels = "\n".join(render(words["level"], value=lvl.value, name=getattr(lvl.names, lang),
                              anchor=getattr(lvl.anchor, lang)) for lvl in spec.levels)
    keys = ", ".join(f'"{k}"' for k in (*MECHANISMS, "explanation"))
    return prompt(lang, "feedback", mechanisms=mechanisms, levels=levels, keys=keys)


def resistance_text(lang: str, label_display: str | None, show_label: bool) -> str:
    """What the prompt says about the client turn: its PsyFIRE behaviour, or only that it resists."""
    words = terms(lang)
    if not show_label:
        return words["resistance_hidden"]
    return label_display or words["resistance_unknown"]


def messages(lang: str, rows: Sequence[dict[str, Any]], turn: int, resistance: str, context_turns: int,
             max_chars: int) -> list[Message]:
    """The judge's messages for the counselor reply `rows[turn]`, which follows the client turn `rows[turn - 1]`."""
    client = turn - 1
    before = rows[max(0, client - context_turns): client] if context_turns else []
    context = transcript([(r["index"], r["speaker"], r["text"]) for r in before], lang, max_chars) or terms(lang)["no_context"]
    user = prompt(lang, "feedback_input", context=context, response=rows[client]["text"], resistance=resistance,
                  reply=rows[turn]["text"])
    return [{"role": "system", "content": system_prompt(lang)}, {"role": "user", "content": user}]
