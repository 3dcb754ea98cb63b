"""Builders for small test records and configs."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from counselsim.config import SimPsyDialConfig, parse_config
from counselsim.schemas import RoleCard, RoleModel, Session, Turn

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLE = SHARED / "data" / "interactive-agents-sample"

TRAIT = {"level": "moderate", "note": "steady"}


def card(card_id: str = "en-t-1", language: str = "en", complaint: str | None = None, **kw: Any) -> RoleCard:
    data = {
        "id": card_id, "language": language, "gender": "female", "age": 30, "education": "bachelor",
        "occupation": "clerk", "marital_status": "single", "family_relationships": "close to her sister",
        "big_five": {t: TRAIT for t in ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")},
        "resistance": {"level": "low", "reasoning": "wants help"},
        "chief_complaint": complaint or "I cannot sleep before exams and I worry all night about failing.",
    }
    data.update(kw)
    return RoleCard.model_validate(data)


def session(session_id: str = "s-1", slot: int = 0, texts: list[str] | None = None, c: RoleCard | None = None) -> Session:
    texts = texts or ["Hello", "Hi, what brings you here?", "I cannot sleep.", "Take care, good bye."]
    turns = [Turn(index=i, speaker="client" if i % 2 == 0 else "counselor", text=t, attempts=1, prompt_tokens=3,
                  completion_tokens=len(t.split()), latency_s=0.1, finish_reason="stop") for i, t in enumerate(texts)]
    rm = RoleModel(model="m", backend="scripted", temperature=0.8, top_p=0.9, max_tokens=64, repetition_penalty=1.0)
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    c = c or card()
    return Session(session_id=session_id, run_id="r", slot=slot, role_card_id=c.id, language=c.language, role_card=c,
                   client=rm, counselor=rm, seed=1, turns=turns, termination_reason="farewell",
                   num_turn_pairs=len(texts) // 2, regenerations=0, rejections=[], prompt_tokens=10, completion_tokens=10,
                   started_at=now, finished_at=now, duration_s=1.0, config_hash="h", package_version="0")


def config(**overrides: Any) -> SimPsyDialConfig:
    data: dict[str, Any] = {
        "pipeline": "simpsydial",
        "run": {"sessions": 4, "output": "out", "progress": False},
        "role_cards": {"pools": [str(REPO / "role_cards" / "en" / "train.jsonl")], "languages": ["en"]},
        "models": {"m": {"path": "scripted", "backend": "scripted"}},
        "roles": {"client": {"model": "m"}, "counselor": {"model": "m"}},
        "session": {"max_turn_pairs": 20, "min_turn_pairs": 3},
        "retry": {"attempts": 2, "initial_backoff_s": 0, "max_backoff_s": 0, "timeout_s": 5},
    }
    for key, value in overrides.items():
        node = data
        parts = key.split("__")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return parse_config(data, "helpers.config")
