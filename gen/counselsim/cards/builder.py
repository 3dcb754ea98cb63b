"""Building role cards from free-text chief complaints with an LLM: structured output into the role-card schema
where the backend has guided decoding, strict JSON parsing otherwise, validation, bounded retries, and a record
of every complaint that did not become a card and why."""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from counselsim.config import PipelineConfig
from counselsim.engines.base import Sampling
from counselsim.errors import InputError
from counselsim.resources import prompt
from counselsim.schemas import BigFive, Resistance, RoleCard
from counselsim.seeds import derive_seed

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


class BuildSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_attempts: int = 3
    concurrency: int = 64
    id_prefix: str = "built"


@dataclass
class Complaint:
    id: str
    text: str
    where: str  # file:record, for messages


@dataclass
class BuildResult:
    cards: list[RoleCard] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)


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


def _parse(text: str) -> dict[str, Any]:
    """Strict: the whole output, or one fenced/braced JSON object in it, must parse as an object."""
    candidate = text.strip()
    fenced = re.search(r"```(?:json)?\s*(\{.*\})\s*```", candidate, re.S)
    if fenced:
        candidate = fenced.group(1)
    elif not candidate.startswith("{") and "{" in candidate:
        candidate = candidate[candidate.index("{"): candidate.rindex("}") + 1]
    data = json.loads(candidate)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


async def build_card(complaint: Complaint, cfg: PipelineConfig, pool: Any, settings: BuildSettings) -> RoleCard:
    """One card, or raise ValueError listing why every attempt failed."""
    language = "zh" if _CJK.search(complaint.text) else "en"
    role = cfg.roles["builder"]
    messages = [{"role": "user", "content": prompt(language, "build_card", complaint=complaint.text)}]
    guided = pool.supports_structured_output("builder")
    reasons = []
    for attempt in range(1, settings.max_attempts + 1):
        sampling = Sampling(temperature=role.temperature, top_p=role.top_p, max_tokens=role.max_tokens,
                            seed=derive_seed(cfg.run.seed, complaint.id, attempt),
                            json_schema=GeneratedProfile.model_json_schema() if guided else None)
        out = await pool.call("builder", complaint.id, messages, sampling)
        try:
            profile = GeneratedProfile.model_validate(_parse(out.text))
            return RoleCard(id=complaint.id, language=language, chief_complaint=complaint.text,
                            source="counselsim-built", **profile.model_dump())
        except (ValueError, ValidationError) as e:
            detail = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()) \
                if isinstance(e, ValidationError) else f"unparseable output: {e}"
            reasons.append(f"attempt {attempt}: {detail[:300]}")
    raise ValueError(" | ".join(reasons))


async def build_cards(complaints: list[Complaint], cfg: PipelineConfig, pool: Any, settings: BuildSettings) -> BuildResult:
    gate = asyncio.Semaphore(settings.concurrency)
    result = BuildResult()

    async def one(c: Complaint) -> None:
        async with gate:
            try:
                result.cards.append(await build_card(c, cfg, pool, settings))
            except Exception as e:  # recorded per complaint; one bad output never stops the batch
                result.failures.append({"id": c.id, "input": c.where, "reason": str(e)})

    await asyncio.gather(*(one(c) for c in complaints))
    result.cards.sort(key=lambda c: c.id)
    result.failures.sort(key=lambda f: f["id"])
    return result
