"""Building role cards from free-text chief complaints with an LLM: structured output into the role-card schema
where the backend has guided decoding, strict JSON parsing otherwise, validation, bounded retries, and why a
complaint did not become a card. `cards.build_job` runs it over a complaints file."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from counselsim.config import BuildSettings, PipelineConfig
from counselsim.engines.parsing import ParseError, json_object
from counselsim.engines.roles import Caller, RoleCaller, Unparseable
from counselsim.errors import InputError
from counselsim.resources import prompt
from counselsim.schemas import BigFive, Resistance, RoleCard

_CJK = re.compile(r"[\u4e00-\u9fff]")


class GeneratedProfile(BaseModel):
    """What the model fills in; id, language, chief complaint and source come from the input."""

    model_config = ConfigDict(extra="forbid")
    gender: str
    age: int
    education: str
    occupation: str
    marital_status: str
    family_relationships: str
    big_five: BigFive
    resistance: Resistance
    topic: str


@dataclass
class Complaint:
    id: str
    text: str
    where: str  # file:record, for messages


def read_complaints(path: str | Path, id_prefix: str) -> list[Complaint]:
    """A JSON list (strings, or objects with `complaint` or `question` + `description`, optional `id`) or JSONL of
    such objects."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: complaints file not found") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        records = json.loads(text) if path.suffix == ".json" else [
            json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
    if not isinstance(records, list) or not records:
        raise InputError(f"{path}: expected a non-empty list of complaints")
    out = []
    for i, rec in enumerate(records):
        where = f"{path}:record {i + 1}"
        if isinstance(rec, dict):
            body = rec.get("complaint") or "\n".join(str(rec[k]) for k in ("question", "description") if rec.get(k))
            cid = str(rec.get("id") or f"{id_prefix}-{i:05d}")
        else:
            body, cid = rec, f"{id_prefix}-{i:05d}"
        if not isinstance(body, str) or len(body.strip()) < 10:
            raise InputError(f"{where}: field 'complaint': missing or shorter than 10 characters")
        out.append(Complaint(cid, body.strip(), where))
    return out


def parse_card(text: str, complaint: Complaint, language: str) -> RoleCard:
    """The card the output describes (a JSON profile, possibly fenced or after prose), validated as a whole role
    card; ParseError naming the fields otherwise."""
    try:
        profile = GeneratedProfile.model_validate(json_object(text))
        return RoleCard(id=complaint.id, language=language, chief_complaint=complaint.text, source="counselsim-built",
                        **profile.model_dump())
    except ValidationError as e:
        raise ParseError("; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())) from None


async def build_card(complaint: Complaint, cfg: PipelineConfig, pool: Caller, settings: BuildSettings) -> RoleCard:
    """One card, or Unparseable holding why every attempt failed."""
    language = "zh" if _CJK.search(complaint.text) else "en"
    messages = [{"role": "user", "content": prompt(language, "build_card", complaint=complaint.text)}]
    calls = RoleCaller(pool, cfg.roles, complaint.id, cfg.run.seed)
    built = await calls.parsed("builder", messages, lambda text: parse_card(text, complaint, language), complaint.id,
                               attempts=settings.max_attempts, schema=GeneratedProfile.model_json_schema())
    return built.value


def failure_reason(error: Unparseable) -> str:
    return " | ".join(f"attempt {i}: {reason[:300]}" for i, reason in enumerate(error.errors, 1))
