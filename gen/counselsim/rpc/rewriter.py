"""Resistance injection: at most one episode per session, at most three consecutive client turns rewritten.

Whether, where and which type is the planner's decision (rpc/planner.py). Here is how: each episode turn is
rewritten after explicit motivation reasoning (profile reflection -> situation awareness -> reaction decision); the
counselor reply that follows is regenerated through σ (rpc/continuation.py), so the next client turn is rewritten
against the new reply; after the episode the dialogue rejoins the original or is regenerated from there
(`injection.continuation`, rpc/continuation.py).

Imported sessions (`origin: imported`) have a partial role card: the prompts show it as render_role_card words a
partial one, the planner is told its resistance level is unknown, and their ending is kept when their last turn
closes the session by g (they record no termination reason).

A rewrite output that cannot be parsed within the bounded attempts ends the episode where it is (no episode if
nothing was rewritten) and is counted in the stage outcomes; a regenerated turn that never passes its check drops
the session, as in generation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from counselsim.config import RefinementConfig
from counselsim.engines.base import Message
from counselsim.engines.parsing import ParseError, json_object
from counselsim.engines.roles import RoleCaller, Unparseable
from counselsim.resources import render
from counselsim.rpc.continuation import continue_after, regenerate_counselor
from counselsim.rpc.parsing import normalize, string_fields
from counselsim.rpc.planner import decide
from counselsim.rpc.render import choices, profile_text, prompt, terms, transcript
from counselsim.rpc.settings import InjectionSettings
from counselsim.rpc.taxonomy import Taxonomy
from counselsim.schemas import Session
from counselsim.schemas.rpc import Episode, Motivation, Profile5P
from counselsim.simpsydial.agents import render_role_card
from counselsim.simpsydial.refinement import clean
from counselsim.simpsydial.termination import is_closing

ROLE = "rewriter"
MOTIVATION_KEYS = tuple(Motivation.model_fields)  # profile_reflection, situation_awareness, reaction_decision
EXTRA_FIELDS = {"injected": False, "original_text": None, "regenerated": False}


def draft_rows(session: Session) -> list[dict[str, Any]]:
    """The session's turns as mutable rows carrying the injection fields. A reaction type a live resistant client
    declared in the input is kept, as declared; the labeler adds its labels later."""
    return [{**t.model_dump(), **EXTRA_FIELDS, "reaction_source": "declared" if t.reaction_type else None}
            for t in session.turns]


# --- how ----------------------------------------------------------------------------------------------------------

def rewrite_schema(lang: str, settings: InjectionSettings) -> dict[str, Any]:
    step = {"type": "string", "minLength": 1, "maxLength": settings.reasoning_max_chars}
    props = {k: step for k in MOTIVATION_KEYS}
    props["response"] = {"type": "string", "minLength": 1, "maxLength": settings.response_max_chars(lang)}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def parse_rewrite(text: str, original: str, lang: str, settings: InjectionSettings) -> tuple[Motivation, str]:
    obj = json_object(text)
    motivation = Motivation(**string_fields(obj, MOTIVATION_KEYS, settings.reasoning_max_chars))
    response = clean(string_fields(obj, ["response"])["response"])
    if not response:
        raise ParseError("field 'response' is empty")
    if normalize(response) == normalize(original):
        raise ParseError("the response repeats the original utterance")
    limit = settings.response_max_chars(lang)
    if len(response) > limit:
        raise ParseError(f"the response is longer than {limit} characters")
    return motivation, response


def rewrite_messages(session: Session, rows: list[dict[str, Any]], i: int, profile: Profile5P, reaction: str,
                     settings: InjectionSettings, taxonomy: Taxonomy, position: int, total: int) -> list[Message]:
    lang = session.language
    spec = taxonomy.reaction(reaction)
    system = prompt(lang, "rpc_rewrite", reaction_name=getattr(spec.names, lang),
                    reaction_definition=getattr(spec.definition, lang),
                    reaction_examples=choices(getattr(spec.examples, lang), lang))
    before = rows[max(0, i - settings.context_turns): i]
    lines = [(r["index"], r["speaker"], r["text"]) for r in before]
    user = prompt(lang, "rpc_rewrite_input", role_card=render_role_card(session.role_card),
                  profile=profile_text(profile.model_dump(), lang),
                  context=transcript(lines, lang, settings.max_chars_per_turn), original=rows[i]["text"],
                  position=render(terms(lang)["episode_position"], position=position, total=total))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


@dataclass
class Injection:
    rows: list[dict[str, Any]]  # the session's turns after injection (rows with the injection fields)
    episode: Episode | None
    decision: str  # the record's episode_decision

    def termination(self, session: Session) -> tuple[str | None, int]:
        """The session's termination reason and turn pairs after a regenerated continuation (which may end on a
        new counselor closing, or run to the original length without one); as the input said otherwise."""
        if self.episode is None or self.episode.continuation != "regenerated":
            return session.termination_reason, session.num_turn_pairs
        last = self.rows[-1]
        closing = last["speaker"] == "counselor" and is_closing(last["text"], session.language)
        reason = session.termination_reason if session.origin == "imported" else "farewell" if closing else "turn_cap"
        return reason, len(self.rows) // 2


async def inject(calls: RoleCaller, session: Session, profile: Profile5P, settings: InjectionSettings,
                 taxonomy: Taxonomy, refinement: RefinementConfig) -> Injection:
    """The planner's decision carried out: the rewritten episode, the replies after it and the continuation."""
    rows = draft_rows(session)
    if not settings.enabled:
        return Injection(rows, None, "disabled")
    decision = await decide(calls, session, profile, settings, taxonomy)
    if decision.plan is None or decision.window is None:
        calls.meter.outcome("plan", decision.outcome)
        return Injection(rows, None, decision.outcome)
    plan = decision.plan
    reaction = plan.reaction_type
    assert reaction is not None
    lang = session.language
    done: list[int] = []
    for position, i in enumerate(decision.window, 1):
        original = rows[i]["text"]
        try:
            result = await calls.parsed(
                ROLE, rewrite_messages(session, rows, i, profile, reaction, settings, taxonomy, position,
                                       len(decision.window)),
                lambda text, original=original: parse_rewrite(text, original, lang, settings), "rewrite", i,
                attempts=settings.attempts, schema=rewrite_schema(lang, settings), stage="rewrite")
        except Unparseable:
            calls.meter.outcome("rewrite", "rewrite_unparseable")
            break
        motivation, response = result.value
        rows[i].update(original_text=original, text=response, injected=True, reaction_type=reaction,
                       reaction_source="injected", motivation=motivation.model_dump(), attempts=result.attempts,
                       prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
                       latency_s=result.latency_s, finish_reason=result.finish_reason)
        calls.meter.count("rewrite")
        # Original turns follow the reply, so it may not close the session, unless it is the last turn.
        await regenerate_counselor(calls, session, rows, i + 1, refinement, closing_allowed=i + 1 == len(rows) - 1)
        done.append(i)
    if not done:
        calls.meter.outcome("plan", "nothing_rewritten")
        return Injection(rows, None, "nothing_rewritten")
    continuation = await continue_after(calls, session, rows, done[-1], settings, refinement)
    calls.meter.outcome("plan", "injected")
    episode = Episode(
        turn_indices=done, reaction_type=reaction, planner_reason=plan.reason, continuation=continuation,
        counselor_regenerated=sum(1 for r in rows if r["speaker"] == "counselor" and r["regenerated"]),
        client_regenerated=sum(1 for r in rows if r["speaker"] == "client" and r["regenerated"]))
    return Injection(rows, episode, "injected")
