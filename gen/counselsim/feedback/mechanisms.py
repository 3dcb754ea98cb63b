"""The four communication mechanisms and their three levels, loaded from `data/taxonomies/communication_mechanisms.yaml`
and validated once. Mechanism ids are the level fields of the feedback record (counselsim.schemas.feedback)."""
from __future__ import annotations

from functools import cache

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from counselsim.config import format_validation_error
from counselsim.errors import InputError
from counselsim.resources import read_text
from counselsim.schemas.feedback import LEVELS, MECHANISMS

MECHANISMS_FILE = "communication_mechanisms.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Localized(_Strict):
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


class Aliases(_Strict):
    en: list[str] = Field(default_factory=list)
    zh: list[str] = Field(default_factory=list)


class LevelSpec(_Strict):
    value: int
    names: Localized
    anchor: Localized


class MechanismSpec(_Strict):
    id: str
    names: Localized
    aliases: Aliases = Field(default_factory=Aliases)
    definition: Localized

    def spellings(self) -> list[str]:
        """Every key a judge may use for this mechanism: its id, names and aliases in both languages."""
        return [self.id, self.names.en, self.names.zh, *self.aliases.en, *self.aliases.zh]


class MechanismsFile(_Strict):
    name: str
    version: int
    source: str
    levels: list[LevelSpec]
    mechanisms: list[MechanismSpec]

    @model_validator(mode="after")
    def _complete(self) -> "MechanismsFile":
        if [lvl.value for lvl in self.levels] != list(LEVELS):
            raise ValueError(f"levels must be exactly {list(LEVELS)} in order, got {[lvl.value for lvl in self.levels]}")
        if [m.id for m in self.mechanisms] != list(MECHANISMS):
            raise ValueError(f"mechanisms must be exactly {list(MECHANISMS)} in order (the record's fields), got "
                             f"{[m.id for m in self.mechanisms]}")
        return self


def build_mechanisms(data: dict) -> MechanismsFile:
    try:
        return MechanismsFile.model_validate(data)
    except ValidationError as e:
        raise InputError(format_validation_error(f"counselsim/taxonomies/{MECHANISMS_FILE}", e)) from None


@cache
def load_mechanisms() -> MechanismsFile:
    where = f"counselsim/taxonomies/{MECHANISMS_FILE}"
    try:
        data = yaml.safe_load(read_text("taxonomies", MECHANISMS_FILE))
    except FileNotFoundError:
        raise InputError(f"{where}: file not found") from None
    except yaml.YAMLError as e:
        raise InputError(f"{where}: invalid YAML: {e}") from None
    return build_mechanisms(data)
