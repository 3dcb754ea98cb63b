"""One counseling session (SimPsyDial Algorithm 1): the client opens, turns alternate, and the session ends on a
counselor closing or at the turn cap. Counselor replies pass the refinement check σ or are regenerated."""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from counselsim import __version__
from counselsim.simpsydial.agents import client_system_prompt, counselor_system_prompt, messages_for
from counselsim.config import PipelineConfig, RoleConfig
from counselsim.engines.base import Completion, ContextOverflowError, Message, Sampling
from counselsim.simpsydial.refinement import clean, rejection_reason
from counselsim.schemas import RoleCard, RoleModel, Session, Turn
from counselsim.seeds import derive_seed
from counselsim.simpsydial.termination import is_closing

# (role, session_id, messages, sampling) -> completion; retries and routing live behind it.
Caller = Callable[[str, str, list[Message], Sampling], Awaitable[Completion]]


class SessionDropped(Exception):
    """The session cannot be completed; `reason` is counted in the run manifest."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class SessionPlan:
    slot: int
    session_id: str
    card: RoleCard
    seed: int


@dataclass
class _Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    regenerations: int = 0
    rejections: dict[str, int] = field(default_factory=dict)


def role_model(cfg: PipelineConfig, role: RoleConfig) -> RoleModel:
    model = cfg.models[role.model]
    return RoleModel(model=model.path, backend=model.backend, temperature=role.temperature, top_p=role.top_p,
                     max_tokens=role.max_tokens)


async def simulate(plan: SessionPlan, cfg: PipelineConfig, call: Caller, run_id: str) -> Session:
    """Run one session to completion or raise SessionDropped."""
    lang = plan.card.language
    scfg = cfg.session
    systems = {
        "client": client_system_prompt(plan.card, scfg.max_turn_pairs),
        "counselor": counselor_system_prompt(lang),
    }
    usage = _Usage()
    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    turns: list[Turn] = [Turn(index=0, speaker="client", text=scfg.opening[lang], attempts=1,
                              prompt_tokens=0, completion_tokens=0, latency_s=0.0)]

    async def speak(speaker: str) -> Turn:
        role_cfg: RoleConfig = cfg.roles[speaker]
        history = [(t.speaker, t.text) for t in turns]
        messages = messages_for(speaker, systems[speaker], history)
        max_attempts = scfg.refinement.max_attempts
        t_start = time.monotonic()
        prompt_tokens = completion_tokens = 0
        for attempt in range(1, max_attempts + 1):
            sampling = Sampling(temperature=role_cfg.temperature, top_p=role_cfg.top_p, max_tokens=role_cfg.max_tokens,
                                repetition_penalty=role_cfg.repetition_penalty,
                                seed=derive_seed(plan.seed, len(turns), attempt))
            try:
                out = await call(speaker, plan.session_id, messages, sampling)
            except ContextOverflowError as e:
                raise SessionDropped("context_overflow", str(e)) from None
            prompt_tokens += out.prompt_tokens
            completion_tokens += out.completion_tokens
            text = clean(out.text)
            # σ applies to the counselor; a client turn only has to be non-empty.
            reason = rejection_reason(text, lang, scfg.refinement) if speaker == "counselor" else (
                None if text else "empty")
            if reason is None:
                usage.prompt_tokens += prompt_tokens
                usage.completion_tokens += completion_tokens
                usage.regenerations += attempt - 1
                return Turn(index=len(turns), speaker=speaker, text=text, attempts=attempt, prompt_tokens=prompt_tokens,
                            completion_tokens=completion_tokens, latency_s=time.monotonic() - t_start)
            usage.rejections[reason] = usage.rejections.get(reason, 0) + 1
        raise SessionDropped("refinement_exhausted", f"{speaker} turn {len(turns)}: last rejection '{reason}'")

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
        turns.append(await speak("client"))

    pairs = len(turns) // 2
    if pairs < scfg.min_turn_pairs:
        raise SessionDropped("too_short", f"{pairs} turn pairs < {scfg.min_turn_pairs}")
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
        regenerations=usage.regenerations,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        started_at=started,
        finished_at=datetime.now(timezone.utc),
        duration_s=time.monotonic() - t0,
        config_hash=cfg.generation_hash(),
        package_version=__version__,
    )
