"""One counseling session (SimPsyDial Algorithm 1): the client opens, turns alternate, and the session ends on a
counselor closing or at the turn cap. Counselor replies pass the refinement check σ or are regenerated."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

from counselsim import __version__
from counselsim.config import PipelineConfig, RoleConfig
from counselsim.engines.roles import Caller, Rejected, RoleCaller
from counselsim.runtime.job import Dropped
from counselsim.schemas import RoleCard, RoleModel, Session, Turn
from counselsim.schemas.session import RejectionCount
from counselsim.simpsydial.agents import (
    client_system_prompt,
    counselor_system_prompt,
    messages_for,
)
from counselsim.simpsydial.refinement import clean, rejection_reason
from counselsim.simpsydial.resistant_client import ResistantClient, start
from counselsim.simpsydial.termination import is_closing


@dataclass
class SessionPlan:
    slot: int
    session_id: str
    card: RoleCard
    seed: int


def role_model(cfg: PipelineConfig, role: RoleConfig) -> RoleModel:
    model = cfg.models[role.model]
    return RoleModel(model=model.path, backend=model.backend, temperature=role.temperature, top_p=role.top_p,
                     max_tokens=role.max_tokens, repetition_penalty=role.repetition_penalty, stop=role.stop)


async def simulate(plan: SessionPlan, cfg: PipelineConfig, pool: Caller, run_id: str) -> Session:
    """Run one session to completion or raise Dropped ("refinement_exhausted", "too_short"; with a resistant
    client also "profile_unparseable", "client_unparseable")."""
    lang = plan.card.language
    scfg = cfg.session
    systems = {
        "client": client_system_prompt(plan.card, scfg.max_turn_pairs),
        "counselor": counselor_system_prompt(lang),
    }
    calls = RoleCaller(pool, cfg.roles, plan.session_id, plan.seed)
    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    resistant: ResistantClient | None = None
    if scfg.client_mode == "resistant":
        resistant = await start(calls, plan.card, scfg.max_turn_pairs, scfg.resistant_client)
    turns: list[Turn] = [Turn(index=0, speaker="client", text=scfg.opening[lang], attempts=1, prompt_tokens=0,
                              completion_tokens=0, latency_s=0.0, finish_reason="opening")]

    # σ applies to the counselor; a client turn only has to be non-empty. Either is regenerated when truncated.
    checks = {"counselor": lambda text: rejection_reason(text, lang, scfg.refinement),
              "client": lambda text: None if text else "empty"}

    async def speak(speaker: str) -> Turn:
        messages = messages_for(speaker, systems[speaker], [(t.speaker, t.text) for t in turns])
        try:
            reply = await calls.reply(speaker, messages, checks[speaker], len(turns),
                                      max_attempts=scfg.refinement.max_attempts, clean=clean)
        except Rejected as e:
            raise Dropped("refinement_exhausted", f"{speaker} turn {len(turns)}: {e.rejections}, "
                                                  f"last rejection '{e.reason}'") from None
        return Turn(index=len(turns), speaker=speaker, text=reply.text, attempts=reply.attempts,
                    prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens,
                    latency_s=reply.latency_s, finish_reason=reply.finish_reason)

    termination = "turn_cap"
    while True:
        reply = await speak("counselor")
        turns.append(reply)
        pairs = len(turns) // 2
        if is_closing(reply.text, lang):
            termination = "farewell"
            break
        if pairs >= scfg.max_turn_pairs:
            break
        turns.append(await (resistant.speak(calls, turns) if resistant else speak("client")))

    pairs = len(turns) // 2
    if pairs < scfg.min_turn_pairs:
        raise Dropped("too_short", f"{pairs} turn pairs < {scfg.min_turn_pairs}")
    return Session(
        session_id=plan.session_id,
        run_id=run_id,
        slot=plan.slot,
        role_card_id=plan.card.id,
        language=lang,
        role_card=plan.card,
        client=role_model(cfg, cfg.roles["client"]),
        counselor=role_model(cfg, cfg.roles["counselor"]),
        seed=plan.seed,
        turns=turns,
        termination_reason=termination,
        num_turn_pairs=pairs,
        regenerations=sum(t.attempts - 1 for t in turns),
        rejections=[RejectionCount(reason=r, count=n) for r, n in sorted(calls.rejections.items())],
        prompt_tokens=sum(t.prompt_tokens for t in turns),
        completion_tokens=sum(t.completion_tokens for t in turns),
        started_at=started,
        finished_at=datetime.now(timezone.utc),
        duration_s=time.monotonic() - t0,
        config_hash=cfg.generation_hash(),
        package_version=__version__,
        client_profile=resistant.profile if resistant else None,
    )
