"""Scripted arena entrants of known quality, for orchestration tests of the arena: a stand-in for the engine pool;
everything else (σ, shuffling, verdicts, staging, resume, shards, ratings) runs for real."""
from __future__ import annotations

import asyncio
import random
import re

from counselsim.cli import main
from counselsim.engines.base import Completion

WORDS = ("work", "sleep", "mother", "exam", "friend", "money", "home", "school", "partner", "health", "night", "fear")
LONG = " ".join(["really"] * 130)  # fails σ: over 120 English words


class ScriptedArena:
    """The pool's surface; 'good' always passes σ and is what the judge prefers, 'bad' fails σ on its first
    attempt, the judge picks between the others by a seeded coin and writes garbage for one seed in twenty."""

    size = 1

    def __init__(self, cfg):
        self.cfg = cfg
        self.calls: list[str] = []
        self.active = self.peak = 0
        self.bad_turns: set = set()

    def engine_batch(self):
        return None

    async def start(self):
        return None

    async def stats(self):
        return {"peak_in_flight": self.peak}

    async def close(self):
        return None

    def supports_structured_output(self, role):
        return False

    async def call(self, role, key, messages, sampling):
        self.calls.append(role)
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(0.001)
        self.active -= 1
        rng = random.Random(sampling.seed)
        words = " ".join(rng.sample(WORDS, 3))
        if role == "client":
            text = f"It is about the {words} and it keeps me awake."
        elif role == "good":
            text = f"What felt hardest about the {words}?"
        elif role == "bad":
            first = (key, len(messages)) not in self.bad_turns
            self.bad_turns.add((key, len(messages)))
            text = LONG if first else f"Maybe the {words} will sort itself out."
        elif role == "mid":
            text = f"Tell me more about the {words}."
        else:
            text = self.judge(messages[0]["content"], rng)
        return Completion(text=text, prompt_tokens=10, completion_tokens=len(text.split()))

    @staticmethod
    def judge(prompt, rng):
        options = dict(re.findall(r"^([AB])\. (.*)$", prompt, re.MULTILINE))
        good = [label for label, text in options.items() if text.startswith("What felt hardest")]
        if rng.random() < 0.05:
            return "I cannot decide."
        label = good[0] if good else rng.choice("AB")
        return f"- Basis for selection: option {label} explores.\n- Final choice: {label}"


ARGS = ["--set", "run.executor=local", "--set", "run.progress=false", "--set", "session.max_turn_pairs=4",
        "--set", "roles={client: {model: default}, supervisor: {model: default}, good: {model: default}, "
                 "mid: {model: default}, bad: {model: default}}",
        "--set", "stages.arena.entrants=[{name: good}, {name: mid}, {name: bad}]"]


def run_arena(repo, out, *extra):
    """`counselsim run pipelines/arena.yaml` with the scripted roster good / mid / bad."""
    return main(["run", str(repo / "pipelines" / "arena.yaml"), "--out", str(out), *ARGS, *extra])
