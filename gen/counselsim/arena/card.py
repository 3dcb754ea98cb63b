"""What the dataset card of an arena corpus says beyond a SimPsyDial card: the roster, the supervisor and how to
read the battles (counselsim.corpus.card writes the rest)."""
from __future__ import annotations

from typing import Any

INTRO = ("Synthetic counseling dialogues from the multi-response arena of the SimPsyDial method (Algorithm 2): at "
         "every client turn two counselor entrants reply to the same history, a supervisor model chooses one, and "
         "the dialogue goes on with the chosen reply.")
ROW_DESCRIPTION = ("One row per dialogue: the client's role card, the two entrants (`entrants`: name, model and "
                   "sampling, system prompt), the supervisor, and the turns in order; each counselor turn's text is "
                   "the reply the dialogue went on with, and its `battle` holds both candidates (entrant, the "
                   "position A or B the supervisor saw it in, σ attempts), the verdict (`status`, `choice`, "
                   "`winner`, `reason`) and the supervisor's raw output. `status: unparseable` marks a verdict that "
                   "could not be read: no battle, and the dialogue went on with a seeded coin's pick "
                   "(`continued_with`).")

PROMPT_FIGURES = {1: 12, 2: 13}  # the supervisor prompts' figures in the paper


def method(config: dict[str, Any]) -> list[str]:
    arena = (config.get("stages") or {}).get("arena") or {}
    roster = arena.get("entrants") or []
    prompt = arena.get("supervisor_prompt")
    names = ", ".join(f"`{e.get('name')}`" + (f" (system prompt `{e['system_prompt']}`)" if e.get("system_prompt")
                                              else "") for e in roster)
    how = (f"Entrants ({len(roster)}; each plays the role of its name in the table above): {names}; an entrant "
           "without a system prompt file gets the paper's counselor prompt (Figure 9). Two entrants are drawn per "
           "dialogue, seeded and balanced so every pair meets about equally often; both candidates pass the check "
           "σ (regenerated when rejected), and the supervisor sees them in a seeded random order, with the paper's "
           f"Prompt {prompt} (Figure {PROMPT_FIGURES.get(prompt)}), up to {arena.get('judge_attempts')} calls per "
           "verdict.")
    use = ("Rate the entrants (Bradley-Terry and Elo with bootstrap intervals, battle counts, position bias, "
           "agreement with human choices) with `counselsim audit --input <corpus>`; turn the verdicts into DPO "
           "training pairs with `counselsim export --format preference`. The verdicts are one supervisor model's "
           "preferences, not people's.")
    return ["", how, "", use]
