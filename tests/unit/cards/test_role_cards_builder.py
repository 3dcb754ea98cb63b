"""Role cards from free-text complaints: parsing and retries with a scripted model, then the real engine path."""
from __future__ import annotations

import asyncio
import json

import pytest
from counselsim.cards.builder import (
    BuildSettings,
    Complaint,
    build_cards,
    read_complaints,
)
from counselsim.config import load_config
from counselsim.engines.base import Completion
from counselsim.errors import InputError
from counselsim.schemas import RoleCard

TRAIT = {"level": "moderate", "note": "shows some"}
PROFILE = {"gender": "female", "age": 29, "education": "college", "occupation": "nurse", "marital_status": "single",
           "family_relationships": "distant from her father",
           "big_five": {k: TRAIT for k in ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")},
           "resistance": {"level": "high", "reasoning": "doubts that talking helps"}, "topic": "burnout"}
COMPLAINTS = [Complaint("c-1", "I work night shifts and I can no longer sleep or feel anything at all.", "f:1"),
              Complaint("c-2", "我和父亲三年没有说话了，最近他生病住院，我不知道该不该去看他。", "f:2")]


def cfg(repo):
    return load_config(repo / "pipelines" / "role_cards.yaml")


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


def test_valid_and_messy_outputs_become_cards(repo):
    fenced = "Here it is:\n```json\n" + json.dumps(PROFILE) + "\n```"
    pool = Scripted(lambda key, n: fenced if key == "c-1" else "Sure! " + json.dumps(PROFILE, ensure_ascii=False))
    result = asyncio.run(build_cards(COMPLAINTS, cfg(repo), pool, BuildSettings()))
    assert [c.id for c in result.cards] == ["c-1", "c-2"] and not result.failures
    assert result.cards[1].language == "zh" and result.cards[1].chief_complaint == COMPLAINTS[1].text
    assert result.cards[0].resistance.level.value == "high"


def test_invalid_outputs_are_retried_then_recorded(repo):
    bad_age = {**PROFILE, "age": 7}
    outputs = {"c-1": ["not json", json.dumps(bad_age), json.dumps(PROFILE)]}
    pool = Scripted(lambda key, n: outputs["c-1"].pop(0) if key == "c-1" else '{"gender": "x"}')
    result = asyncio.run(build_cards(COMPLAINTS, cfg(repo), pool, BuildSettings(max_attempts=3)))
    assert [c.id for c in result.cards] == ["c-1"]
    (failure,) = result.failures
    assert failure["id"] == "c-2" and failure["input"] == "f:2"
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
def test_builder_on_the_real_engine(repo, vllm_engine):
    settings = BuildSettings(max_attempts=2)
    config = load_config(repo / "pipelines" / "role_cards.yaml", ["roles.builder.max_tokens=512"])
    result = vllm_engine.run(build_cards(COMPLAINTS, config, vllm_engine, settings))
    assert len(result.cards) + len(result.failures) == len(COMPLAINTS)
    for card in result.cards:
        RoleCard.model_validate(card.model_dump())  # every card written is schema-valid
    for failure in result.failures:
        assert failure["reason"].startswith("attempt 1:")
