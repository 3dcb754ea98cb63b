"""Whether a session gets a resistance episode, where, and of which type: the planner's decision.

The planner (role `rewriter`) reads the 5P profile, the card's resistance level, the dialogue with numbered client
turns, the five resistant reaction types with their definitions (data/taxonomies/rpc_reactions.yaml) and the target
share of sessions like this one that get an episode (rate x level weight, as guidance). It answers
{reason, inject, reaction_type, start_turn, num_turns} and may always decline. No random draw decides whether or
which type: the configured rate is a target the run manifest reports the achieved share against (rpc/job.py). Only
the window a long session is shown through is placed by the session seed.

Which turns an episode may change (`eligible_turns`) is decided here too; how they are rewritten is rpc/rewriter.py.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from counselsim.engines.base import Message
from counselsim.engines.parsing import ParseError, json_object
from counselsim.engines.roles import RoleCaller, Unparseable
from counselsim.resources import render
from counselsim.rpc.parsing import AliasIndex, string_fields
from counselsim.rpc.render import (
    profile_text,
    prompt,
    reaction_type_lines,
    terms,
    transcript,
)
from counselsim.rpc.settings import InjectionSettings
from counselsim.rpc.taxonomy import Taxonomy
from counselsim.schemas import RoleCard, Session
from counselsim.schemas.role_card import Level
from counselsim.schemas.rpc import RESISTANT_REACTIONS, Profile5P
from counselsim.seeds import derive_seed
from counselsim.simpsydial.agents import resistance_text
from counselsim.simpsydial.termination import is_closing

ROLE = "rewriter"
STAGE = "plan"


# --- which turns ---------------------------------------------------------------------------------------------------

def eligible_turns(session: Session) -> list[int]:
    """Client turns an episode may change: ones answering a counselor turn and followed by one (whose reply is
    then regenerated). The client turn before a closing farewell is left alone, so the session keeps its ending."""
    turns = session.turns
    last = len(turns) - 1
    farewell = ends_with_farewell(session)
    out = []
    for t in turns:
        i = t.index
        if t.speaker != "client" or i == 0 or i >= last:
            continue
        if turns[i - 1].speaker != "counselor" or turns[i + 1].speaker != "counselor":
            continue
        if farewell and i + 1 == last:
            continue
        out.append(i)
    return out


def ends_with_farewell(session: Session) -> bool:
    """A generated session says how it ended; an imported one does not, so its last turn is read by g."""
    if session.origin == "imported":
        if not session.turns:
            return False
        last = session.turns[-1]
        return last.speaker == "counselor" and is_closing(last.text, session.language)
    return session.termination_reason == "farewell"


def episode_window(session: Session, eligible: list[int], start: int, max_turns: int) -> list[int]:
    """Up to `max_turns` consecutive client turns from `start`, all eligible."""
    clients = [t.index for t in session.turns if t.speaker == "client"]
    allowed = set(eligible)
    window = []
    for i in clients[clients.index(start):]:
        if i not in allowed or len(window) == max_turns:
            break
        window.append(i)
    return window


def planner_view(session: Session, settings: InjectionSettings, eligible: list[int],
                 seed: int) -> tuple[int, int, list[int]]:
    """The turns the planner sees, [lo, hi), a window placed by the session seed when the session is longer than
    `window_turns`, and the start turns it may choose."""
    n = len(session.turns)
    lo = 0
    if n > settings.window_turns:
        lo = random.Random(derive_seed(seed, "plan-window")).randrange(n - settings.window_turns + 1)
    hi = min(n, lo + settings.window_turns)
    return lo, hi, [i for i in eligible if lo <= i < hi]


def card_level(session: Session) -> Level | None:
    """The card's resistance level; None for a partial card (an imported session), which has none."""
    card = session.role_card
    return card.resistance.level if isinstance(card, RoleCard) else None


# --- the plan ------------------------------------------------------------------------------------------------------

@dataclass
class Plan:
    reason: str
    inject: bool
    reaction_type: str | None  # None when declined
    start: int | None
    num_turns: int | None


def plan_schema(candidates: list[int], max_turns: int, reason_max: int) -> dict[str, Any]:
    """Every key is required under guided decoding, so a decline fills them too; they are then ignored."""
    props: dict[str, Any] = {
        "reason": {"type": "string", "minLength": 1, "maxLength": reason_max},
        "inject": {"type": "boolean"},
        "reaction_type": {"type": "string", "enum": list(RESISTANT_REACTIONS)},
        "start_turn": {"type": "integer", "enum": candidates},
        "num_turns": {"type": "integer", "enum": list(range(1, max_turns + 1))},
    }
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def parse_plan(text: str, candidates: list[int], max_turns: int, reason_max: int, names: AliasIndex) -> Plan:
    """The planner's answer; a decline needs only its reason (the strict parser does not ask for the rest)."""
    obj = json_object(text)
    reason = string_fields(obj, ["reason"], reason_max)["reason"]
    inject = obj.get("inject")
    if not isinstance(inject, bool):
        raise ParseError("field 'inject' is not true or false")
    if not inject:
        return Plan(reason, False, None, None, None)
    reaction = obj.get("reaction_type")
    reaction = names.match(reaction) if isinstance(reaction, str) else None
    if reaction not in RESISTANT_REACTIONS:
        raise ParseError(f"reaction_type {obj.get('reaction_type')!r} is not one of {list(RESISTANT_REACTIONS)}")
    start, num = obj.get("start_turn"), obj.get("num_turns")
    if isinstance(start, bool) or not isinstance(start, int) or start not in candidates:
        raise ParseError(f"start_turn {start!r} is not one of {candidates}")
    if isinstance(num, bool) or not isinstance(num, int) or not 1 <= num <= max_turns:
        raise ParseError(f"num_turns {num!r} is not 1..{max_turns}")
    return Plan(reason, True, reaction, start, num)


def target_text(session: Session, settings: InjectionSettings) -> str:
    """The target share for this card's level, worded as guidance."""
    level = card_level(session)
    percent = round(100 * settings.target(level))
    return render(terms(session.language)["plan_target" if level is not None else "plan_target_unknown"],
                  percent=percent)


def plan_messages(session: Session, profile: Profile5P, settings: InjectionSettings, taxonomy: Taxonomy,
                  lo: int, hi: int, candidates: list[int]) -> list[Message]:
    lang = session.language
    fmt = render(terms(lang)["plan_format"], max_turns=settings.max_turns,
                 type_ids=", ".join(f'"{r}"' for r in RESISTANT_REACTIONS))
    system = prompt(lang, "rpc_plan", reaction_types=reaction_type_lines(taxonomy, lang, RESISTANT_REACTIONS),
                    max_turns=settings.max_turns, answer_format=fmt)
    lines = [(t.index, t.speaker, t.text) for t in session.turns[lo:hi]]
    user = prompt(lang, "rpc_plan_input", profile=profile_text(profile.model_dump(), lang),
                  resistance=resistance_text(session.role_card), target=target_text(session, settings),
                  transcript=transcript(lines, lang, settings.max_chars_per_turn, numbered=True),
                  candidates=", ".join(f"#{i}" for i in candidates))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


# --- the decision --------------------------------------------------------------------------------------------------

@dataclass
class Decision:
    outcome: str  # "planned", or why there is no episode: "declined", "no_eligible_turn", "plan_unparseable"
    plan: Plan | None = None
    window: list[int] | None = None  # the client turns to rewrite, when planned


async def decide(calls: RoleCaller, session: Session, profile: Profile5P, settings: InjectionSettings,
                 taxonomy: Taxonomy) -> Decision:
    """One planner call (no call when no turn is eligible); counted in the `plan` stage's outcomes."""
    eligible = eligible_turns(session)
    lo, hi, candidates = planner_view(session, settings, eligible, calls.seed)
    if not candidates:
        return Decision("no_eligible_turn")
    names = taxonomy.reaction_index  # ids and names of the seven types; a plan must name a resistant one
    try:
        planned = await calls.parsed(
            ROLE, plan_messages(session, profile, settings, taxonomy, lo, hi, candidates),
            lambda text: parse_plan(text, candidates, settings.max_turns, settings.reasoning_max_chars, names),
            STAGE, attempts=settings.attempts, stage=STAGE,
            schema=plan_schema(candidates, settings.max_turns, settings.reasoning_max_chars))
    except Unparseable:
        return Decision("plan_unparseable")
    calls.meter.count(STAGE)
    plan = planned.value
    if not plan.inject:
        return Decision("declined", plan)
    assert plan.start is not None and plan.num_turns is not None
    # Shortened where the eligible turns end (the planner may ask for more than fit).
    return Decision("planned", plan, episode_window(session, eligible, plan.start, plan.num_turns))
