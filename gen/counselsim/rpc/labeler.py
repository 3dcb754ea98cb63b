"""RECAP-style labeling of every client turn: first resistance vs collaboration (RECAP Table 8), then, for a
resistant turn, the fine-grained PsyFIRE behaviour (Table 9), each with a rationale.

The model sees a snippet (the last `context_turns` turns and the client response), zero-shot or with `shots`
taxonomy examples per category. Labels are always taxonomy members: with guided decoding the answer is a JSON
object whose behaviour is an enum of the category names; otherwise the strict parser reads "Behavior:/Reason:"
lines. A step that yields no parseable answer within its attempts leaves the turn `unparseable`.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from counselsim.engines.base import Message
from counselsim.engines.roles import RoleCaller, Unparseable
from counselsim.resources import render
from counselsim.rpc.parsing import AliasIndex, LabelParse, parse_label
from counselsim.rpc.render import choices, prompt, terms, transcript
from counselsim.rpc.settings import LabelerSettings
from counselsim.rpc.taxonomy import COLLABORATION, Taxonomy

ROLE = "labeler"
BINARY, FINE = "label_binary", "label_fine"  # the two stages


@dataclass
class TurnLabel:
    label_binary: str | None
    label: str | None
    label_group: str | None
    label_rationale: str | None
    label_status: str

    def fields(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Labeler:
    def __init__(self, taxonomy: Taxonomy, settings: LabelerSettings) -> None:
        self.taxonomy = taxonomy
        self.settings = settings
        # A plain dict, not functools.cache: the job holding this labeler is pickled to the session workers.
        self._systems: dict[tuple[str, bool, bool], str] = {}

    def _names(self, lang: str, binary: bool) -> list[str]:
        return list((self.taxonomy.binary_choices if binary else self.taxonomy.fine_choices)(lang))

    def _index(self, binary: bool) -> AliasIndex:
        return self.taxonomy.binary_index if binary else self.taxonomy.fine_index

    def _system(self, lang: str, binary: bool, guided: bool) -> str:
        key = (lang, binary, guided)
        if key not in self._systems:
            self._systems[key] = self._system_prompt(lang, binary, guided)
        return self._systems[key]

    def _system_prompt(self, lang: str, binary: bool, guided: bool) -> str:
        words = terms(lang)
        shots = self.taxonomy.examples(lang, binary, self.settings.shots)
        examples = ""
        if shots:
            blocks = [render(words["example"], response=r, behavior=b) for r, b in shots]
            examples = "\n" + words["examples_header"] + "\n" + "\n\n".join(blocks) + "\n"
        fmt = prompt(lang, "label_format_json" if guided else "label_format_lines",
                     choices=choices(self._names(lang, binary), lang))
        return prompt(lang, "label_binary" if binary else "label_fine",
                      taxonomy=self.taxonomy.render(lang, binary), examples=examples, output_format=fmt)

    def schema(self, lang: str, binary: bool) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "behavior": {"type": "string", "enum": self._names(lang, binary)},
                "reason": {"type": "string", "minLength": 1, "maxLength": self.settings.reason_max_chars},
            },
            "required": ["behavior", "reason"],
            "additionalProperties": False,
        }

    def messages(self, lang: str, binary: bool, guided: bool, rows: list[dict[str, Any]], i: int) -> list[Message]:
        """The system message (role, task, taxonomy, examples, format) is the same for every turn of a language
        and step, so engines with prefix caching compute it once; the snippet is the user message."""
        before = rows[max(0, i - self.settings.context_turns): i] if self.settings.context_turns else []
        lines = [(r["index"], r["speaker"], r["text"]) for r in before]
        user = prompt(lang, "label_input", context=transcript(lines, lang, self.settings.max_chars_per_turn),
                      response=rows[i]["text"])
        return [{"role": "system", "content": self._system(lang, binary, guided)}, {"role": "user", "content": user}]

    async def _step(self, calls: RoleCaller, lang: str, binary: bool, rows: list[dict[str, Any]],
                    i: int) -> LabelParse | None:
        stage = BINARY if binary else FINE
        guided = calls.guided(ROLE)
        index = self._index(binary)
        try:
            result = await calls.parsed(ROLE, self.messages(lang, binary, guided, rows, i),
                                        lambda text: parse_label(text, index), stage, i,
                                        attempts=self.settings.attempts, schema=self.schema(lang, binary), stage=stage)
        except Unparseable:
            calls.meter.outcome(stage, "unparseable")
            return None
        calls.meter.count(stage)
        return result.value

    async def label_turn(self, calls: RoleCaller, lang: str, rows: list[dict[str, Any]], i: int) -> TurnLabel:
        binary = await self._step(calls, lang, True, rows, i)
        if binary is None:
            return TurnLabel(None, None, None, None, "unparseable")
        if binary.category == COLLABORATION:
            return TurnLabel(COLLABORATION, COLLABORATION, COLLABORATION, binary.reason, "ok")
        fine = await self._step(calls, lang, False, rows, i)
        if fine is None:  # the binary label stands; the behaviour is not guessed
            return TurnLabel("resistance", None, None, binary.reason, "unparseable")
        return TurnLabel("resistance", fine.category, self.taxonomy.labels[fine.category].group, fine.reason, "ok")

    async def label_session(self, calls: RoleCaller, lang: str, rows: list[dict[str, Any]]) -> None:
        """Label every client turn of `rows` in place; a session's turns are labeled concurrently."""
        clients = [i for i, r in enumerate(rows) if r["speaker"] == "client"]
        labels = await asyncio.gather(*(self.label_turn(calls, lang, rows, i) for i in clients))
        for i, label in zip(clients, labels):
            rows[i].update(label.fields())
        for r in rows:
            if r["speaker"] != "client":
                r.update(label_binary=None, label=None, label_group=None, label_rationale=None, label_status=None)
