"""One arena dialogue (SimPsyDial Algorithm 2). The client opens; at every counselor turn both entrants reply to
the same history, their two calls in flight at once, each reply passing σ or regenerated as in Algorithm 1; the
supervisor sees the history and the two candidates in a seeded random order and chooses; the chosen reply is
appended. The dialogue ends on g(chosen reply) or the turn cap.

An unparseable verdict is recorded as such and is no battle; the dialogue goes on with a seeded coin's pick, so
the verdict is never guessed and the coin is visible in the record.
"""
from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from counselsim import __version__
from counselsim.arena.settings import ArenaSettings
from counselsim.arena.supervisor import VERDICT_SCHEMA, shuffle, supervisor_messages
from counselsim.arena.verdict import Verdict, parse_verdict
from counselsim.config import PipelineConfig
from counselsim.engines.roles import (
    Caller,
    Parsed,
    Rejected,
    Reply,
    RoleCaller,
    Unparseable,
)
from counselsim.runtime.job import Dropped
from counselsim.schemas import RoleCard
from counselsim.schemas.arena import (
    ArenaDialogue,
    ArenaTurn,
    Battle,
    Candidate,
    Entrant,
)
from counselsim.seeds import derive_seed
from counselsim.simpsydial.agents import (
    client_system_prompt,
    counselor_system_prompt,
    messages_for,
)
from counselsim.simpsydial.refinement import clean, rejection_reason
from counselsim.simpsydial.session import role_model
from counselsim.simpsydial.termination import is_closing


@dataclass
class DialoguePlan:
    slot: int
    session_id: str
    card: RoleCard
    seed: int
    pair: tuple[str, str]  # entrant a, entrant b


def entrant_record(cfg: PipelineConfig, settings: ArenaSettings, name: str, language: str) -> Entrant:
    entrant = next(e for e in settings.entrants if e.name == name)
    return Entrant(name=name, model=role_model(cfg, cfg.roles[name]),
                   system_prompt=entrant.read_system_prompt() or counselor_system_prompt(language))


async def simulate_arena(plan: DialoguePlan, cfg, settings: ArenaSettings, pool: Caller, run_id: str) -> ArenaDialogue:
    """Run one dialogue to its end or raise Dropped ("refinement_exhausted", "too_short")."""
    lang = plan.card.language
    scfg = cfg.session
    entrants = [entrant_record(cfg, settings, name, lang) for name in plan.pair]
    client_system = client_system_prompt(plan.card, scfg.max_turn_pairs)
    calls = RoleCaller(pool, cfg.roles, plan.session_id, plan.seed)
    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    turns: list[ArenaTurn] = [ArenaTurn(index=0, speaker="client", text=scfg.opening[lang], attempts=1,
                                        prompt_tokens=0, completion_tokens=0, latency_s=0.0, finish_reason="opening")]

    def history() -> list[tuple[str, str]]:
        return [(t.speaker, t.text) for t in turns]

    async def reply(role: str, system: str, check) -> Reply:
        try:
            return await calls.reply(role, messages_for("client" if role == "client" else "counselor", system,
                                                        history()),
                                     check, len(turns), role, max_attempts=scfg.refinement.max_attempts, clean=clean)
        except Rejected as e:
            raise Dropped("refinement_exhausted", f"{role} turn {len(turns)}: {e.rejections}, "
                                                  f"last rejection '{e.reason}'") from None

    def sigma(text: str) -> str | None:
        return rejection_reason(text, lang, scfg.refinement)

    async def judge(replies: dict[str, str], presentation) -> Parsed[Verdict] | Unparseable:
        guided = calls.guided("supervisor")
        messages = supervisor_messages(lang, settings.supervisor_prompt, history(), replies, presentation)
        try:
            return await calls.parsed("supervisor", messages, lambda text: parse_verdict(text, lang, guided),
                                      len(turns), "judge", attempts=settings.judge_attempts, schema=VERDICT_SCHEMA)
        except Unparseable as e:
            return e

    async def battle_turn() -> ArenaTurn:
        t_start = time.monotonic()
        # Both entrants at once: the engines batch them, and the turn waits for the slower one only.
        results = await asyncio.gather(*(reply(e.name, e.system_prompt, sigma) for e in entrants))
        replies = {e.name: r.text for e, r in zip(entrants, results)}
        presentation = shuffle(plan.pair, derive_seed(plan.seed, "shuffle", len(turns)))
        verdict = await judge(replies, presentation)
        candidates = [Candidate(entrant=e.name, position=presentation.position_of(e.name), text=r.text,
                                attempts=r.attempts, prompt_tokens=r.prompt_tokens,
                                completion_tokens=r.completion_tokens, latency_s=r.latency_s)
                      for e, r in zip(entrants, results)]
        if isinstance(verdict, Unparseable):
            coin = random.Random(derive_seed(plan.seed, "no-verdict", len(turns))).choice(plan.pair)
            battle = Battle(candidates=candidates, status="unparseable", choice=None, winner=None,
                            reason=f"unparseable: {verdict.error}", continued_with=coin, judge_output=verdict.text,
                            judge_attempts=len(verdict.errors), judge_guided=calls.guided("supervisor"),
                            judge_prompt_tokens=0, judge_completion_tokens=0)
            judge_prompt = judge_completion = 0
        else:
            winner = presentation.entrant_of(verdict.value.label)
            battle = Battle(candidates=candidates, status="ok", choice=verdict.value.label, winner=winner,
                            reason=verdict.value.reason, continued_with=winner, judge_output=verdict.raw,
                            judge_attempts=verdict.attempts, judge_guided=verdict.guided,
                            judge_prompt_tokens=verdict.prompt_tokens,
                            judge_completion_tokens=verdict.completion_tokens)
            judge_prompt, judge_completion = verdict.prompt_tokens, verdict.completion_tokens
        chosen = results[plan.pair.index(battle.continued_with)]
        return ArenaTurn(index=len(turns), speaker="counselor", text=chosen.text, attempts=chosen.attempts,
                         prompt_tokens=sum(r.prompt_tokens for r in results) + judge_prompt,
                         completion_tokens=sum(r.completion_tokens for r in results) + judge_completion,
                         latency_s=time.monotonic() - t_start, finish_reason=chosen.finish_reason, battle=battle)

    async def client_turn() -> ArenaTurn:
        r = await reply("client", client_system, lambda text: None if text else "empty")
        return ArenaTurn(index=len(turns), speaker="client", text=r.text, attempts=r.attempts,
                         prompt_tokens=r.prompt_tokens, completion_tokens=r.completion_tokens,
                         latency_s=r.latency_s, finish_reason=r.finish_reason)

    termination = "turn_cap"
    while True:
        turns.append(await battle_turn())
        if is_closing(turns[-1].text, lang):
            termination = "farewell"
            break
        if len(turns) // 2 >= scfg.max_turn_pairs:
            break
        turns.append(await client_turn())

    pairs = len(turns) // 2
    if pairs < scfg.min_turn_pairs:
        raise Dropped("too_short", f"{pairs} turn pairs < {scfg.min_turn_pairs}")
    battles = [t.battle for t in turns if t.battle is not None]
    return ArenaDialogue(
        session_id=plan.session_id, run_id=run_id, slot=plan.slot, role_card_id=plan.card.id, language=lang,
        role_card=plan.card, client=role_model(cfg, cfg.roles["client"]), entrants=entrants,
        supervisor=role_model(cfg, cfg.roles["supervisor"]), supervisor_prompt=settings.supervisor_prompt,
        seed=plan.seed, turns=turns, termination_reason=termination, num_turn_pairs=pairs,
        battles=sum(b.status == "ok" for b in battles), unjudged=sum(b.status != "ok" for b in battles),
        regenerations=sum(calls.rejections.values()), prompt_tokens=calls.prompt_tokens,
        completion_tokens=calls.completion_tokens, started_at=started, finished_at=datetime.now(timezone.utc),
        duration_s=time.monotonic() - t0, config_hash=cfg.generation_hash(), package_version=__version__)
