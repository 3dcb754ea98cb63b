"""Builders for RPC tests: a small generated session to rewrite and an RPC config over a scripted model."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from counselsim.config import PipelineConfig
from counselsim.schemas import RoleModel, Session, Turn
from counselsim.schemas.role_card import Level
from helpers import card

CLIENT = ["Hello", "I cannot sleep before exams.", "My mother calls every night to ask about grades.",
          "I study until two and then lie awake.", "My friend says I should just relax.", "I guess that is all."]
COUNSELOR = ["Hi, what brings you here today?", "What happens on those nights?", "How do those calls feel to you?",
             "What would help you rest a little earlier?", "What do you make of your friend's advice?",
             "Thank you for sharing today. Take care, good bye."]


def make_session(session_id: str = "s-1", slot: int = 0, pairs: int = 6, level: str = "high",
                 termination: str = "farewell", language: str = "en") -> Session:
    texts = []
    for k in range(pairs):
        texts += [CLIENT[k % len(CLIENT)], COUNSELOR[k % len(COUNSELOR)] if k < pairs - 1 else COUNSELOR[-1]]
    turns = [Turn(index=i, speaker="client" if i % 2 == 0 else "counselor", text=t, attempts=1, prompt_tokens=3,
                  completion_tokens=5, latency_s=0.1) for i, t in enumerate(texts)]
    c = card(f"{language}-card-{session_id}", language,
             complaint="我考试前总是失眠，整夜担心考不好。" if language == "zh" else None,
             resistance={"level": level, "reasoning": "doubts that talking helps"})
    rm = RoleModel(model="m", backend="scripted", temperature=0.8, top_p=0.9, max_tokens=64)
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return Session(session_id=session_id, run_id="gen", slot=slot, role_card_id=c.id, language=language, role_card=c,
                   client=rm, counselor=rm, seed=7, turns=turns, termination_reason=termination,
                   num_turn_pairs=pairs, regenerations=0, prompt_tokens=1, completion_tokens=1, started_at=now,
                   finished_at=now, duration_s=1.0, config_hash="h", package_version="0")


def rpc_config(input_path: str = "in", output: str = "out", **rpc: Any) -> PipelineConfig:
    injection = {"rate": 1.0, "level_weights": {lvl.value: 1.0 for lvl in Level}, "planner_can_decline": True,
                 **rpc.pop("injection", {})}
    return PipelineConfig.model_validate({
        "pipeline": "rpc",
        "run": {"sessions": 1, "input": input_path, "output": output, "progress": False},
        "models": {"m": {"path": "scripted", "backend": "scripted"}},
        "roles": {r: {"model": "m", "max_tokens": 256} for r in ("counselor", "profiler", "rewriter", "labeler")},
        "session": {"refinement": {"max_attempts": 3}},
        "stages": {"dedup": {"enabled": False}, "rpc": {"injection": injection, **rpc}},
    })
