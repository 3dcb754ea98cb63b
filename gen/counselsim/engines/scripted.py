"""A scripted engine: replies come from a function of the messages. For orchestration tests and dry runs only;
it says nothing about model quality."""
from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable
from typing import Any

from counselsim.engines.base import Completion, Message, Sampling

Script = Callable[[list[Message], Sampling], str]


_WORDS = ("work", "sleep", "mother", "exam", "friend", "money", "home", "school", "partner", "health", "weekend",
          "brother", "office", "night", "future", "past", "habit", "choice", "fear", "hope")


def default_script(messages: list[Message], sampling: Sampling) -> str:
    """A counselor that asks questions for a while and then says goodbye; a client that answers. The words
    depend on the call's seed, so different sessions do not read as duplicates."""
    if sampling.choices:
        return sampling.choices[0]
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
    n = sum(1 for m in messages if m["role"] == "assistant")
    words = " ".join(random.Random(sampling.seed).sample(_WORDS, 4))
    if "counselor" in system.lower() or "咨询师" in system:
        return "Take care, good bye." if n >= 11 else f"What happened next with the {words}, and how did it feel?"
    return f"It started a while ago with the {words} and it still bothers me."


class ScriptedEngine:
    supports_structured_output = False
    last_output_at = None  # replies are not streamed: the stall watch goes by finished calls

    def __init__(self, script: Script | None = None, delay_s: float = 0.0, max_batch: int | None = None,
                 **_: Any) -> None:
        self.script = script or default_script
        self.delay_s = delay_s
        self.max_batch = max_batch  # as a real engine would report it
        self.calls = itertools.count()
        self.in_flight = 0
        self.peak_in_flight = 0

    async def generate(self, messages: list[Message], sampling: Sampling) -> Completion:
        next(self.calls)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            text = self.script(messages, sampling)
            cut = min((i for s in sampling.stop if (i := text.find(s)) >= 0), default=-1)
            text = text if cut < 0 else text[:cut]  # as a real engine ends a reply on a stop string
        finally:
            self.in_flight -= 1
        prompt_tokens = sum(len(m["content"].split()) for m in messages)
        return Completion(text=text, prompt_tokens=prompt_tokens, completion_tokens=len(text.split()))

    async def stats(self) -> dict[str, Any]:
        return {"peak_in_flight": self.peak_in_flight}

    async def close(self) -> None:
        return None
