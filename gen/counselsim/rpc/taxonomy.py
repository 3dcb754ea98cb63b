"""PsyFIRE (13 resistance behaviours in 4 groups, plus Collaboration) and the RPC reaction types, loaded from
`gen/taxonomies/*.yaml` and validated once at the start of a run. Errors name the file and the field.

Label ids are `<group>.<behaviour>` and `collaboration`; they and the group ids are the values of the
rpc_session record's `label` / `label_group` fields (counselsim.schemas.rpc).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from counselsim.config import format_validation_error
from counselsim.errors import InputError
from counselsim.resources import read_text
from counselsim.rpc.parsing import AliasIndex
from counselsim.schemas.rpc import (
    COOPERATIVE_REACTIONS,
    LABEL_GROUPS,
    RESISTANT_REACTIONS,
    ReactionType,
)

PSYFIRE_FILE = "psyfire.yaml"
REACTIONS_FILE = "rpc_reactions.yaml"
LANGUAGES = ("en", "zh")
COLLABORATION = "collaboration"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Localized(_Strict):
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


class LocalizedList(_Strict):
    en: list[str] = Field(min_length=1)
    zh: list[str] = Field(min_length=1)


class Aliases(_Strict):
    en: list[str] = Field(default_factory=list)
    zh: list[str] = Field(default_factory=list)


_ID = r"^[a-z][a-z_]*$"


class BehaviourSpec(_Strict):
    id: str = Field(pattern=_ID)
    names: Localized
    aliases: Aliases = Field(default_factory=Aliases)
    definition: Localized
    examples: LocalizedList


class GroupSpec(_Strict):
    id: Literal["arguing", "denying", "avoiding", "ignoring"]
    names: Localized
    aliases: Aliases = Field(default_factory=Aliases)
    definition: Localized
    behaviours: list[BehaviourSpec] = Field(min_length=1)


class CollaborationSpec(_Strict):
    id: Literal["collaboration"]
    names: Localized
    aliases: Aliases = Field(default_factory=Aliases)
    definition: Localized
    examples: LocalizedList


class BinaryNames(_Strict):
    resistance: Localized
    collaboration: Localized


class PsyfireFile(_Strict):
    name: str
    version: int
    source: str
    binary: BinaryNames
    groups: list[GroupSpec]
    collaboration: CollaborationSpec

    @model_validator(mode="after")
    def _groups(self) -> PsyfireFile:
        ids = [g.id for g in self.groups]
        expected = [g for g in LABEL_GROUPS if g != COLLABORATION]
        if sorted(ids) != sorted(expected):
            raise ValueError(f"groups must be exactly {expected} (the record's label_group values), got {ids}")
        behaviours = [f"{g.id}.{b.id}" for g in self.groups for b in g.behaviours]
        duplicates = sorted({b for b in behaviours if behaviours.count(b) > 1})
        if duplicates:
            raise ValueError(f"behaviours defined twice: {duplicates}")
        return self


class PsyfireLink(_Strict):
    primary: list[str] = Field(min_length=1)
    related: list[str] = Field(default_factory=list)


class ReactionSpec(_Strict):
    id: ReactionType
    stance: Literal["resistant", "cooperative"]
    names: Localized
    definition: Localized
    examples: LocalizedList
    psyfire: PsyfireLink

    @model_validator(mode="after")
    def _stance(self) -> ReactionSpec:
        expected = "resistant" if self.id in RESISTANT_REACTIONS else "cooperative"
        if self.stance != expected:
            raise ValueError(f"'{self.id}' is a {expected} reaction type, not {self.stance}")
        return self


class ReactionsFile(_Strict):
    name: str
    version: int
    source: str
    reaction_types: list[ReactionSpec]

    @model_validator(mode="after")
    def _all_types(self) -> ReactionsFile:
        ids = [r.id for r in self.reaction_types]
        expected = list(RESISTANT_REACTIONS + COOPERATIVE_REACTIONS)
        if sorted(ids) != sorted(expected):
            raise ValueError(f"reaction_types must be exactly {expected}, got {ids}")
        return self


@dataclass(frozen=True)
class Label:
    id: str  # "denying.blaming" or "collaboration"
    group: str  # "denying" or "collaboration"
    names: Localized
    group_names: Localized | None
    definition: Localized
    examples: LocalizedList
    aliases: tuple[str, ...]  # every accepted spelling, both languages


class Taxonomy:
    """Both taxonomies, with the lookups the labeler, the rewriter and the self-check need."""

    def __init__(self, psyfire: PsyfireFile, reactions: ReactionsFile) -> None:
        self.psyfire = psyfire
        self.reaction_specs = {r.id: r for r in reactions.reaction_types}
        self.groups = {g.id: g for g in psyfire.groups}
        self.behaviours: dict[str, Label] = {}
        for g in psyfire.groups:
            for b in g.behaviours:
                label_id = f"{g.id}.{b.id}"
                self.behaviours[label_id] = Label(label_id, g.id, b.names, g.names, b.definition, b.examples,
                                                  _spellings(label_id, b.names, b.aliases, g.names, g.aliases))
        c = psyfire.collaboration
        self.collaboration = Label(COLLABORATION, COLLABORATION, c.names, None, c.definition, c.examples,
                                   _spellings(COLLABORATION, c.names, c.aliases, None, None))
        self.labels: dict[str, Label] = {**self.behaviours, COLLABORATION: self.collaboration}
        # Fine-grained answers: the behaviours only. Binary answers: resistance / collaboration.
        self.fine_index = AliasIndex({i: lab.aliases for i, lab in self.behaviours.items()})
        binary = psyfire.binary
        self.binary_index = AliasIndex({
            "resistance": ["resistance", "resistant", binary.resistance.en, binary.resistance.zh, "抗拒"],
            COLLABORATION: [*self.collaboration.aliases, binary.collaboration.en, binary.collaboration.zh],
        })
        self.primary_reaction: dict[str, str] = {}
        self._check_relation()
        # Reaction-type answers (the labeler's third step): the id, the names, and the Chinese name without 型.
        self.reaction_index = AliasIndex({r.id: [r.id, r.names.en, r.names.zh, r.names.zh.removesuffix("型")]
                                          for r in self.reaction_specs.values()})

    # --- the relation between the two taxonomies -------------------------------------------------------------
    def _check_relation(self) -> None:
        for r in self.reaction_specs.values():
            for label_id in r.psyfire.primary + r.psyfire.related:
                if label_id not in self.labels:
                    raise ValueError(f"reaction type '{r.id}' names unknown PsyFIRE label '{label_id}'")
            if r.stance == "cooperative" and r.psyfire.primary != [COLLABORATION]:
                raise ValueError(f"cooperative reaction type '{r.id}' must map to collaboration only")
            if r.stance == "resistant":
                if COLLABORATION in r.psyfire.primary:
                    raise ValueError(f"resistant reaction type '{r.id}' cannot map to collaboration as primary")
                for label_id in r.psyfire.primary:
                    if label_id in self.primary_reaction:
                        raise ValueError(f"PsyFIRE behaviour '{label_id}' is primary for both "
                                         f"'{self.primary_reaction[label_id]}' and '{r.id}'")
                    self.primary_reaction[label_id] = r.id
        unmapped = sorted(set(self.behaviours) - set(self.primary_reaction))
        if unmapped:
            raise ValueError(f"PsyFIRE behaviours without a primary reaction type: {unmapped}")

    def reaction_of(self, label_id: str | None) -> str | None:
        """The resistant reaction type a PsyFIRE behaviour primarily shows; None for collaboration or no label."""
        return self.primary_reaction.get(label_id) if label_id else None

    # --- names as prompts show them --------------------------------------------------------------------------
    def display(self, label_id: str, lang: str) -> str:
        label = self.labels[label_id]
        if label.group_names is None:
            return getattr(label.names, lang)
        return f"{getattr(label.group_names, lang)} - {getattr(label.names, lang)}"

    def binary_display(self, kind: str, lang: str) -> str:
        return getattr(getattr(self.psyfire.binary, kind), lang)

    def binary_choices(self, lang: str) -> dict[str, str]:
        return {self.binary_display(k, lang): k for k in ("resistance", COLLABORATION)}

    def fine_choices(self, lang: str) -> dict[str, str]:
        return {self.display(i, lang): i for i in self.behaviours}

    def render(self, lang: str, binary: bool) -> str:
        """The taxonomy section of RECAP's prompts: Table 8 (binary: resistance groups numbered 1.x under
        Resistance, then Collaboration) or Table 9 (fine-grained: the four groups)."""
        colon = "：" if lang == "zh" else ": "
        lines = []
        if binary:
            lines.append(f"1. {self.binary_display('resistance', lang)}{colon.strip()}")
        for n, g in enumerate(self.psyfire.groups, 1):
            number = f"1.{n}" if binary else f"{n}."
            lines.append(f"{number} {getattr(g.names, lang)}{colon}{getattr(g.definition, lang)}")
            for b in g.behaviours:
                label_id = f"{g.id}.{b.id}"
                lines.append(f"{self.display(label_id, lang)}{colon}{getattr(b.definition, lang)}")
        if binary:
            c = self.collaboration
            lines.append(f"2. {getattr(c.names, lang)}{colon}{getattr(c.definition, lang)}")
        return "\n".join(lines)

    def examples(self, lang: str, binary: bool, shots: int) -> list[tuple[str, str]]:
        """(client response, answer) pairs, `shots` per category: RECAP's one-shot prompts use one per category."""
        out = []
        if shots <= 0:
            return out
        for label_id, label in self.behaviours.items():
            answer = self.binary_display("resistance", lang) if binary else self.display(label_id, lang)
            out += [(text, answer) for text in getattr(label.examples, lang)[:shots]]
        if binary:
            answer = self.binary_display(COLLABORATION, lang)
            out += [(text, answer) for text in getattr(self.collaboration.examples, lang)[:shots]]
        return out

    def reaction(self, reaction_id: str) -> ReactionSpec:
        return self.reaction_specs[reaction_id]

    # --- the seven reaction types as the labeler's prompt shows them ------------------------------------------
    def reaction_choices(self, lang: str) -> dict[str, str]:
        """Display name -> id, resistant types first (taxonomy order)."""
        return {getattr(self.reaction_specs[r].names, lang): r for r in RESISTANT_REACTIONS + COOPERATIVE_REACTIONS}

    def render_reactions(self, lang: str) -> str:
        """The seven types numbered 1-7, the five resistant ones first (the prompt says which are which)."""
        colon = "：" if lang == "zh" else ": "
        return "\n".join(f"{n}. {name}{colon}{getattr(self.reaction_specs[r].definition, lang)}"
                         for n, (name, r) in enumerate(self.reaction_choices(lang).items(), 1))

    def reaction_examples(self, lang: str, shots: int) -> list[tuple[str, str]]:
        """(client response, type name) pairs, `shots` per type."""
        if shots <= 0:
            return []
        return [(text, name) for name, r in self.reaction_choices(lang).items()
                for text in getattr(self.reaction_specs[r].examples, lang)[:shots]]


def _spellings(label_id: str, names: Localized, aliases: Aliases, group_names: Localized | None,
               group_aliases: Aliases | None) -> tuple[str, ...]:
    """Every spelling a model may use for a label: its names and aliases, alone and after each group spelling, in
    both languages, and the id itself."""
    out = [label_id]
    own = [names.en, names.zh, *aliases.en, *aliases.zh]
    out += own
    if group_names is not None:
        groups = [group_names.en, group_names.zh, *(group_aliases.en if group_aliases else []),
                  *(group_aliases.zh if group_aliases else [])]
        for g in groups:
            for name in own:
                out += [f"{g} - {name}", f"{g}{name}", f"{name} ({g})"]
    return tuple(dict.fromkeys(out))


def _load(name: str, model: type[BaseModel]) -> BaseModel:
    where = f"counselsim/taxonomies/{name}"
    try:
        data = yaml.safe_load(read_text("taxonomies", name))
    except FileNotFoundError:
        raise InputError(f"{where}: taxonomy file not found") from None
    except yaml.YAMLError as e:
        raise InputError(f"{where}: invalid YAML: {e}") from None
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise InputError(format_validation_error(where, e)) from None


def build_taxonomy(psyfire: dict | None = None, reactions: dict | None = None) -> Taxonomy:
    """The taxonomies from the packaged files, or from the given data (tests)."""
    try:
        p = PsyfireFile.model_validate(psyfire) if psyfire is not None else _load(PSYFIRE_FILE, PsyfireFile)
        r = ReactionsFile.model_validate(reactions) if reactions is not None else _load(REACTIONS_FILE, ReactionsFile)
        return Taxonomy(p, r)
    except ValidationError as e:
        raise InputError(format_validation_error("taxonomy", e)) from None
    except ValueError as e:
        raise InputError(f"counselsim/taxonomies: {e}") from None


@cache
def load_taxonomy() -> Taxonomy:
    return build_taxonomy()
