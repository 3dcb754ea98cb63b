"""Builders for RPC tests: a small generated session to rewrite, an RPC config over a scripted model, and a scripted
caller answering every rpc role."""
from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timezone
from typing import Any

from counselsim.config import RPCConfig, parse_config
from counselsim.engines.base import Completion, Sampling
from counselsim.schemas import RoleModel, Session, Turn
from counselsim.schemas.role_card import Level
from helpers import card

CLIENT = ["Hello", "I cannot sleep before exams.", "My mother calls every night to ask about grades.",
          "I study until two and then lie awake.", "My friend says I should just relax.", "I guess that is all."]
COUNSELOR = ["Hi, what brings you here today?", "What happens on those nights?", "How do those calls feel to you?",
             "What would help you rest a little earlier?", "What do you make of your friend's advice?",
             "Thank you for sharing today. Take care, good bye."]


def make_session(session_id: str = "s-1", slot: int = 0, pairs: int = 6, level: str = "high",
                 termination: str = "farewell", language: str = "en", topic: str | None = None) -> Session:
    texts = []
    for k in range(pairs):
        texts += [CLIENT[k % len(CLIENT)], COUNSELOR[k % len(COUNSELOR)] if k < pairs - 1 else COUNSELOR[-1]]
    turns = [Turn(index=i, speaker="client" if i % 2 == 0 else "counselor", text=t, attempts=1, prompt_tokens=3,
                  completion_tokens=5, latency_s=0.1, finish_reason="stop") for i, t in enumerate(texts)]
    c = card(f"{language}-card-{session_id}", language,
             complaint="我考试前总是失眠，整夜担心考不好。" if language == "zh" else None,
             resistance={"level": level, "reasoning": "doubts that talking helps"}, topic=topic)
    rm = RoleModel(model="m", backend="scripted", temperature=0.8, top_p=0.9, max_tokens=64, repetition_penalty=1.0)
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return Session(session_id=session_id, run_id="gen", slot=slot, role_card_id=c.id, language=language, role_card=c,
                   client=rm, counselor=rm, seed=7, turns=turns, termination_reason=termination,
                   num_turn_pairs=pairs, regenerations=0, rejections=[], prompt_tokens=1, completion_tokens=1, started_at=now,
                   finished_at=now, duration_s=1.0, config_hash="h", package_version="0")


RPC_ROLES = ("client", "counselor", "profiler", "rewriter", "labeler")


def rpc_config(input_path: str = "in", output: str = "out", **rpc: Any) -> RPCConfig:
    injection = {"rate": 1.0, "level_weights": {lvl.value: 1.0 for lvl in Level}, **rpc.pop("injection", {})}
    return parse_config({
        "pipeline": "rpc",
        "run": {"input": input_path, "output": output, "progress": False},
        "models": {"m": {"path": "scripted", "backend": "scripted"}},
        "roles": {r: {"model": "m", "max_tokens": 256} for r in RPC_ROLES},
        "session": {"refinement": {"max_attempts": 3}},
        "stages": {"dedup": {"enabled": False}, "rpc": {"injection": injection, **rpc}},
    }, "rpc_builders.rpc_config")


PROFILE = {"presenting": "Insomnia before exams.", "predisposing": "High standards at home.",
           "precipitating": "Midterms.", "perpetuating": "Studying late.", "protective": "A supportive friend."}


class Scripted:
    """The pool's caller interface, answering by role from small scripts; every call is recorded."""

    def __init__(self, structured: bool = True, plan: dict | None = None, follows: bool | None = True,
                 **overrides: Any) -> None:
        """`plan`: fields of the planner's answer over the default one; `follows`: the rejoin check's answer
        (None: an answer that does not parse)."""
        self.structured = structured
        self.plan = plan or {}
        self.follows = follows
        self.calls: list[tuple[str, list, Sampling]] = []
        self.scripts = {"profiler": self.profiler, "rewriter": self.rewriter, "counselor": self.counselor,
                        "client": self.client, "labeler": self.labeler, **overrides}
        self.rewrites = 0

    def supports_structured_output(self, role: str) -> bool:
        return self.structured

    async def call(self, role: str, key: str, messages: list, sampling: Sampling) -> Completion:
        await asyncio.sleep(0)
        self.calls.append((role, messages, sampling))
        text = self.scripts[role](messages, sampling)
        return Completion(text=text, prompt_tokens=10, completion_tokens=len(text.split()))

    # --- default scripts --------------------------------------------------------------------------------------
    def profiler(self, messages, sampling) -> str:
        return json.dumps(PROFILE) if self.structured else "Here you go:\n```json\n" + json.dumps(PROFILE) + "\n```"

    def rewriter(self, messages, sampling) -> str:
        system = messages[0]["content"]
        if "start_turn" in system:  # the planner: the first candidate turn, as many turns as allowed
            candidates = [int(x) for x in re.findall(r"#(\d+)", messages[1]["content"].rsplit("\n", 1)[-1])]
            most = int(re.search(r"1 to (\d+)", system).group(1))
            return json.dumps({"reason": "The counselor gives advice.", "inject": True, "reaction_type": "defensive",
                               "start_turn": candidates[0], "num_turns": most, **self.plan})
        if '"follows"' in system:  # the rejoin check: by default the original goes on
            if self.follows is None:
                return "It depends on how you read it."
            return json.dumps({"reason": "It still answers the question.", "follows": self.follows})
        self.rewrites += 1
        return json.dumps({"profile_reflection": "She fears failing.", "situation_awareness": "Advice feels like pressure.",
                           "reaction_decision": "She pushes it away.",
                           "response": f"I don't think that would work for me, honestly ({self.rewrites})."})

    def counselor(self, messages, sampling) -> str:
        return "What makes it hard to try something different?"

    def client(self, messages, sampling) -> str:
        return "Maybe, I have not really thought about it."

    def labeler(self, messages, sampling) -> str:
        response = messages[1]["content"].rsplit("Client Response:", 1)[-1]
        if "Reaction Types" in messages[0]["content"]:  # the seven-type step
            reaction = "Defensive" if "don't think" in response else "Non-resistant"
            if self.structured:
                return json.dumps({"reaction": reaction, "reason": "The client's words say so."})
            return f"Reaction: {reaction}\nReason: The client's words say so."
        binary = "Collaboration" in messages[0]["content"]
        if binary:
            behavior = "Resistance" if "don't think" in response else "Collaboration"
        else:
            behavior = "Denying - Disagreeing"
        if self.structured:
            return json.dumps({"behavior": behavior, "reason": "The client's words say so."})
        return f"Behavior: {behavior}\nReason: The client's words say so."


def is_plan(messages: list) -> bool:
    return "start_turn" in messages[0]["content"]


def is_rejoin(messages: list) -> bool:
    return '"follows"' in messages[0]["content"]


def transform_one(session: Session, caller: Scripted, cfg: RPCConfig | None = None, meter: Any = None) -> Any:
    """One session through every rpc stage against `caller`, with the config's roles as they are."""
    from counselsim.engines.roles import RoleCaller
    from counselsim.rpc.job import transform
    from counselsim.rpc.labeler import Labeler
    from counselsim.rpc.taxonomy import load_taxonomy

    cfg = cfg or rpc_config()
    settings = cfg.stages.rpc
    taxonomy = load_taxonomy()
    calls = RoleCaller(caller, cfg.roles, session.session_id, 11, meter)
    return asyncio.run(transform(session, calls, cfg, settings, taxonomy, Labeler(taxonomy, settings.labeler),
                                 "rpc-run", "hash"))
