"""The feedback stage on the real vLLM backend with the embedded SmolLM2-135M, through the runner and staging, on
a small rpc corpus: guided JSON for the four levels and the explanation, then strict parsing on the same engine.
A 135M toy says nothing about the quality of the ratings, so this checks validity: every record either carries
four levels in 0-2 and an explanation, or is recorded unparseable with the raw output."""
from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from counselsim.config import parse_config
from counselsim.feedback.job import build_job
from counselsim.runtime.runner import run_items
from counselsim.runtime.staging import Staging
from counselsim.schemas.arrow import RPC_SESSION_SCHEMA
from counselsim.schemas.feedback import LEVELS, MECHANISMS
from feedback_builders import rpc_record, write_input

pytestmark = pytest.mark.engine


class Guided:
    """The engine harness with guided decoding switched on or off (to exercise the strict parser)."""

    def __init__(self, harness, structured: bool) -> None:
        self.harness = harness
        self.structured = structured
        self.samplings = []

    async def call(self, role, key, messages, sampling):
        self.samplings.append(sampling)
        return await self.harness.call(role, key, messages, sampling)

    def supports_structured_output(self, role: str) -> bool:
        return self.structured


@pytest.mark.parametrize("structured", [True, False])
def test_feedback_records_on_the_embedded_model(vllm_engine, tmp_path, structured):
    source = write_input(tmp_path / "rpc", [rpc_record("s-1", 0), rpc_record("s-2", 1)], RPC_SESSION_SCHEMA, "rpc")
    cfg = parse_config({
        "pipeline": "feedback",
        "run": {"input": source, "output": str(tmp_path / "out"), "progress": False},
        "models": {"m": {"path": "embedded:smollm2", "backend": "vllm"}},
        # Short explanations: the toy fills whatever room it gets, and two shared cores decode slowly.
        "roles": {"judge": {"model": "m", "temperature": 0.0, "top_p": 1.0, "max_tokens": 160}},
        "stages": {"feedback": {"explanation_max_chars": 300, "context_turns": 4, "attempts": 2}},
    }, "test_feedback_engine")
    job = build_job(cfg)
    job.validate()
    caller = Guided(vllm_engine, structured)
    job.bind(caller, "engine-run")
    staging = Staging.for_job(tmp_path / "staging", job, 16)
    stats = vllm_engine.run(run_items(job, staging, max_in_flight=4, max_attempts_factor=1, show_progress=False))
    assert (stats.written, stats.dropped) == (2, 0)
    records = [job.model.model_validate(r) for p in staging.part_paths() for r in pq.read_table(p).to_pylist()]
    assert sorted(r.item_id for r in records) == ["s-1#00005", "s-2#00005"]
    for r in records:
        assert r.resistance_label == "denying.disagreeing" and r.label_source == "corpus"
        if r.judge_status == "ok":
            assert all(r.levels()[m] in LEVELS for m in MECHANISMS) and r.explanation
            assert len(r.explanation) <= 300
        else:
            assert r.judge_output is not None and all(v is None for v in r.levels().values())
    assert all((s.json_schema is not None) == structured for s in caller.samplings)
    summary = job.summary(staging.part_paths())["feedback"]
    assert summary["judged"] == 2
    print({"structured": structured, "statuses": [r.judge_status for r in records],
           "levels": [r.levels() for r in records], "explanations": [r.explanation for r in records],
           "outputs": [r.judge_output for r in records]})
