"""One judgement: the judge model rates a counselor reply on the four mechanisms and explains the rating.

Where the judge's engine has guided decoding the call carries the output schema (four integers restricted to 0, 1,
2 and a bounded explanation) and the answer is then only checked; elsewhere the strict parser decides. An item
without a parseable answer within `attempts` calls is returned as unparseable with the last raw output.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from counselsim.engines.roles import RoleCaller, Unparseable
from counselsim.feedback import prompts
from counselsim.feedback.mechanisms import load_mechanisms
from counselsim.feedback.parsing import KeyIndex, parse_judgement, output_schema
from counselsim.feedback.settings import FeedbackSettings

ROLE = "judge"
STAGE = "feedback"


@dataclass
class Rating:
    levels: dict[str, int] | None  # None: unparseable
    explanation: str | None
    attempts: int
    raw: str | None  # the last output of an unparseable judgement

    @property
    def status(self) -> str:
        return "ok" if self.levels is not None else "unparseable"


class Judge:
    def __init__(self, settings: FeedbackSettings) -> None:
        self.settings = settings
        self.keys = KeyIndex(load_mechanisms())
        self.schema = output_schema(settings.explanation_max_chars)

    def messages(self, lang: str, rows: Sequence[dict[str, Any]], turn: int, label_display: str | None):
        s = self.settings
        resistance = prompts.resistance_text(lang, label_display, s.show_resistance_label)
        return prompts.messages(lang, rows, turn, resistance, s.context_turns, s.max_chars_per_turn)

    async def rate(self, caller: RoleCaller, lang: str, rows: Sequence[dict[str, Any]], turn: int,
                   label_display: str | None) -> Rating:
        max_chars = self.settings.explanation_max_chars
        try:
            result = await caller.parsed(ROLE, self.messages(lang, rows, turn, label_display),
                                         lambda text: parse_judgement(text, self.keys, max_chars), STAGE, turn,
                                         attempts=self.settings.attempts, schema=self.schema, stage=STAGE)
        except Unparseable as e:
            caller.meter.outcome(STAGE, "unparseable")
            return Rating(None, None, self.settings.attempts, e.text)
        caller.meter.count(STAGE)
        return Rating(result.value.levels, result.value.explanation, result.attempts, None)
