"""Labeling of every client turn in two ways, each with a rationale:
- RECAP style (PsyFIRE): first resistance vs collaboration (RECAP Table 8), then, for a resistant turn, the
  fine-grained behaviour (Table 9);
- ResistClient style: one of the seven RPC reaction types (rpc_reactions.yaml; five resistant, two cooperative).
The reaction step runs beside the PsyFIRE steps of the same turn (concurrently): neither reads the other's answer.

The model sees a snippet (the last `context_turns` turns and the client response), zero-shot or with `shots`
taxonomy examples per category. Labels are always taxonomy members: with guided decoding the answer is a JSON
object whose behaviour (reaction) is an enum of the category names; otherwise the strict parser reads
"Behavior:/Reason:" ("Reaction:/Reason:") lines. A step that yields no parseable answer within its attempts
leaves its label `unparseable`.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from counselsim.engines.base import Message
from counselsim.engines.roles import RoleCaller, Unparseable
from counselsim.resources import render
from counselsim.rpc.parsing import (
    BEHAVIOR_KEYS,
    REACTION_KEYS,
    AliasIndex,
    LabelParse,
    parse_label,
)
from counselsim.rpc.render import choices, prompt, terms, transcript
from counselsim.rpc.settings import LabelerSettings
from counselsim.rpc.taxonomy import COLLABORATION, Taxonomy

ROLE = "labeler"
BINARY, FINE, REACTION = "label_binary", "label_fine", "label_reaction"  # the three steps (meter stages)
NO_LABELS = {"label_binary": None, "label": None, "label_group": None, "label_rationale": None, "label_status": None,
             "reaction_label": None, "reaction_label_rationale": None, "reaction_label_status": None}


@dataclass
class TurnLabel:
    label_binary: str | None
    label: str | None
    label_group: str | None
    label_rationale: str | None
    label_status: str

    def fields(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ReactionLabel:
    reaction_label: str | None
    reaction_label_rationale: str | None
    reaction_label_status: str

    def fields(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Labeler:
    def __init__(self, taxonomy: Taxonomy, settings: LabelerSettings) -> None:
        self.taxonomy = taxonomy
        self.settings = settings
        # A plain dict, not functools.cache: the job holding this labeler is pickled to the session workers.
        self._systems: dict[tuple[str, str, bool], str] = {}

    def _names(self, lang: str, stage: str) -> list[str]:
        names = {BINARY: self.taxonomy.binary_choices, FINE: self.taxonomy.fine_choices,
                 REACTION: self.taxonomy.reaction_choices}[stage]
        return list(names(lang))

    def _index(self, stage: str) -> AliasIndex:
        return {BINARY: self.taxonomy.binary_index, FINE: self.taxonomy.fine_index,
                REACTION: self.taxonomy.reaction_index}[stage]

    def _system(self, lang: str, stage: str, guided: bool) -> str:
        key = (lang, stage, guided)
        if key not in self._systems:
            self._systems[key] = self._system_prompt(lang, stage, guided)
        return self._systems[key]

    def _system_prompt(self, lang: str, stage: str, guided: bool) -> str:
        words = terms(lang)
        names = choices(self._names(lang, stage), lang)
        if stage == REACTION:
            blocks = [render(words["reaction_example"], response=r, reaction=t)
                      for r, t in self.taxonomy.reaction_examples(lang, self.settings.shots)]
            taxonomy = self.taxonomy.render_reactions(lang)
            fmt = prompt(lang, "label_reaction_format_json" if guided else "label_reaction_format_lines",
                         choices=names)
        else:
            binary = stage == BINARY
            blocks = [render(words["example"], response=r, behavior=b)
                      for r, b in self.taxonomy.examples(lang, binary, self.settings.shots)]
            taxonomy = self.taxonomy.render(lang, binary)
            fmt = prompt(lang, "label_format_json" if guided else "label_format_lines", choices=names)
        examples = "\n" + words["examples_header"] + "\n" + "\n\n".join(blocks) + "\n" if blocks else ""
        template = {BINARY: "label_binary", FINE: "label_fine", REACTION: "label_reaction"}[stage]
        return prompt(lang, template, taxonomy=taxonomy, examples=examples, output_format=fmt)

    def schema(self, lang: str, stage: str) -> dict[str, Any]:
        key = "reaction" if stage == REACTION else "behavior"
        return {
            "type": "object",
            "properties": {
                key: {"type": "string", "enum": self._names(lang, stage)},
                "reason": {"type": "string", "minLength": 1, "maxLength": self.settings.reason_max_chars},
            },
            "required": [key, "reason"],
            "additionalProperties": False,
        }

    def messages(self, lang: str, stage: str, guided: bool, rows: list[dict[str, Any]], i: int) -> list[Message]:
        """The system message (role, task, taxonomy, examples, format) is the same for every turn of a language
        and step, so engines with prefix caching compute it once; the snippet is the user message."""
        before = rows[max(0, i - self.settings.context_turns): i] if self.settings.context_turns else []
        lines = [(r["index"], r["speaker"], r["text"]) for r in before]
        user = prompt(lang, "label_input", context=transcript(lines, lang, self.settings.max_chars_per_turn),
                      response=rows[i]["text"])
        return [{"role": "system", "content": self._system(lang, stage, guided)}, {"role": "user", "content": user}]

    async def _step(self, calls: RoleCaller, lang: str, stage: str, rows: list[dict[str, Any]],
                    i: int) -> LabelParse | None:
        guided = calls.guided(ROLE)
        index = self._index(stage)
        keys = REACTION_KEYS if stage == REACTION else BEHAVIOR_KEYS
        try:
            result = await calls.parsed(ROLE, self.messages(lang, stage, guided, rows, i),
                                        lambda text: parse_label(text, index, keys), stage, i,
                                        attempts=self.settings.attempts, schema=self.schema(lang, stage), stage=stage)
        except Unparseable:
            calls.meter.outcome(stage, "unparseable")
            return None
        calls.meter.count(stage)
        return result.value

    async def label_turn(self, calls: RoleCaller, lang: str, rows: list[dict[str, Any]], i: int) -> TurnLabel:
        """The PsyFIRE label of client turn i (binary, then fine-grained for a resistant turn)."""
        binary = await self._step(calls, lang, BINARY, rows, i)
        if binary is None:
            return TurnLabel(None, None, None, None, "unparseable")
        if binary.category == COLLABORATION:
            return TurnLabel(COLLABORATION, COLLABORATION, COLLABORATION, binary.reason, "ok")
        fine = await self._step(calls, lang, FINE, rows, i)
        if fine is None:  # the binary label stands; the behaviour is not guessed
            return TurnLabel("resistance", None, None, binary.reason, "unparseable")
        return TurnLabel("resistance", fine.category, self.taxonomy.labels[fine.category].group, fine.reason, "ok")

    async def label_reaction(self, calls: RoleCaller, lang: str, rows: list[dict[str, Any]], i: int) -> ReactionLabel:
        """The seven-type reaction label of client turn i."""
        reaction = await self._step(calls, lang, REACTION, rows, i)
        if reaction is None:
            return ReactionLabel(None, None, "unparseable")
        return ReactionLabel(reaction.category, reaction.reason, "ok")

    async def both_labels(self, calls: RoleCaller, lang: str, rows: list[dict[str, Any]], i: int) -> dict[str, Any]:
        """Both labels of client turn i, as record fields; the two run concurrently."""
        psyfire, reaction = await asyncio.gather(self.label_turn(calls, lang, rows, i),
                                                 self.label_reaction(calls, lang, rows, i))
        return {**psyfire.fields(), **reaction.fields()}

    async def label_session(self, calls: RoleCaller, lang: str, rows: list[dict[str, Any]]) -> None:
        """Label every client turn of `rows` in place; a session's turns are labeled concurrently. Counselor turns
        get null labels. A turn's declared or injected reaction_type is left as it is: the reaction label sits
        beside it (the self-check compares the two)."""
        clients = [i for i, r in enumerate(rows) if r["speaker"] == "client"]
        labels = await asyncio.gather(*(self.both_labels(calls, lang, rows, i) for i in clients))
        for i, label in zip(clients, labels):
            rows[i].update(label)
        for r in rows:
            if r["speaker"] != "client":
                r.update(NO_LABELS)
