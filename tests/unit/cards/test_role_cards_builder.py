"""Role cards from free-text complaints: parsing and retries with a scripted model, then the real engine path."""
from __future__ import annotations

import asyncio
import json

import pytest
from counselsim.cards.build_job import BuildJob
from counselsim.cards.builder import Complaint, read_complaints
from counselsim.config import load_config
from counselsim.engines.base import Completion
from counselsim.errors import InputError
from counselsim.runtime.runner import run_items
from counselsim.runtime.staging import Staging
from counselsim.schemas import RoleCard

TRAIT = {"level": "moderate", "note": "shows some"}
PROFILE = {"gender": "female", "age": 29, "education": "college", "occupation": "nurse", "marital_status": "single",
           "family_relationships": "distant from her father",
           "big_five": {k: TRAIT for k in ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")},
           "resistance": {"level": "high", "reasoning": "doubts that talking helps"}, "topic": "burnout"}
COMPLAINTS = [Complaint("c-1", "I work night shifts and I can no longer sleep or feel anything at all.", "f:1"),
              Complaint("c-2", "我和父亲三年没有说话了，最近他生病住院，我不知道该不该去看他。", "f:2")]


def cfg(repo, *overrides):
    return load_config(repo / "pipelines" / "role_cards.yaml", list(overrides))


async def build(config, pool, folder, complaints=COMPLAINTS):
    """The build job over `complaints` through the runner: (cards, failures) as the command writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "complaints.jsonl"
    path.write_text("".join(json.dumps({"id": c.id, "complaint": c.text}, ensure_ascii=False) + "\n"
                            for c in complaints), encoding="utf-8")
    job = BuildJob(config, path)
    job.validate()
    job.bind(pool, "run-1")
    staging = Staging.for_job(folder / "staging", job, rows_per_part=8)
    await run_items(job, staging, max_in_flight=4, max_attempts_factor=1, show_progress=False)
    return sorted(staging.records(), key=lambda c: c.id), job.failures(staging.drops())


class Scripted:
    def __init__(self, outputs):
        self.outputs = outputs
        self.calls = 0

    def supports_structured_output(self, role):
        return False

    async def call(self, role, key, messages, sampling):
        text = self.outputs(key, self.calls)
        self.calls += 1
        return Completion(text=text, prompt_tokens=1, completion_tokens=1)


def test_valid_and_messy_outputs_become_cards(repo, tmp_path):
    fenced = "Here it is:\n```json\n" + json.dumps(PROFILE) + "\n```"
    pool = Scripted(lambda key, n: fenced if key == "c-1" else "Sure! " + json.dumps(PROFILE, ensure_ascii=False))
    cards, failures = asyncio.run(build(cfg(repo), pool, tmp_path))
    assert [c.id for c in cards] == ["c-1", "c-2"] and not failures
    assert cards[1].language == "zh" and cards[1].chief_complaint == COMPLAINTS[1].text
    assert cards[0].resistance.level.value == "high"


def test_invalid_outputs_are_retried_then_recorded(repo, tmp_path):
    bad_age = {**PROFILE, "age": 7}
    outputs = {"c-1": ["not json", json.dumps(bad_age), json.dumps(PROFILE)]}
    pool = Scripted(lambda key, n: outputs["c-1"].pop(0) if key == "c-1" else '{"gender": "x"}')
    cards, failures = asyncio.run(build(cfg(repo, "stages.build.max_attempts=3"), pool, tmp_path))
    assert [c.id for c in cards] == ["c-1"]
    (failure,) = failures
    assert failure["id"] == "c-2" and failure["input"].endswith("complaints.jsonl:record 2")
    assert failure["reason"].count("attempt") == 3 and "Field required" in failure["reason"]


def test_complaint_files(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"question": "Why can I not sleep?", "description": "Every night I lie awake."}\n{"complaint": "x"}\n')
    with pytest.raises(InputError, match=r"c.jsonl:record 2: field 'complaint'"):
        read_complaints(path, "b")
    path.write_text('["I cannot stop worrying about my health every day."]')
    path = path.rename(tmp_path / "c.json")
    assert read_complaints(path, "b")[0].id == "b-00000"


@pytest.mark.engine
def test_builder_on_the_real_engine(repo, vllm_engine, tmp_path):
    config = cfg(repo, "roles.builder.max_tokens=512", "stages.build.max_attempts=2")
    cards, failures = vllm_engine.run(build(config, vllm_engine, tmp_path))
    assert len(cards) + len(failures) == len(COMPLAINTS)
    for card in cards:
        RoleCard.model_validate(card.model_dump())  # every card written is schema-valid
    for failure in failures:
        assert failure["reason"].startswith("attempt 1:")
