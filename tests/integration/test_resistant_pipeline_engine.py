"""A live-resistant corpus through the commands a user runs, on the embedded SmolLM2-135M on vLLM (local executor):
`run pipelines/simpsydial.yaml` with `session.client_mode=resistant`, then `export --target client` (one sample per
reasoned client turn), then the rpc pipeline as a label-only pass, whose self-check scores the labeler against the
types the clients declared. The toy's figures say nothing about quality; this checks the path and the records."""
from __future__ import annotations

import json

import polars as pl
import pytest
from counselsim.cli import main
from counselsim.commands.verify import verify
from counselsim.schemas.reasoning import COOPERATIVE_REACTIONS, RESISTANT_REACTIONS
from helpers import REPO

pytestmark = pytest.mark.engine

COMMON = {"run.executor": "local", "run.progress": "false", "models.default.env.VLLM_CPU_KVCACHE_SPACE": '"1"'}
LIVE = {
    **COMMON, "run.sessions": "2", "session.max_turn_pairs": "2", "session.min_turn_pairs": "1",
    "stages.dedup.enabled": "false", "session.client_mode": "resistant",
    "roles.profiler": '{"model": "default", "temperature": 0.3, "max_tokens": 320}',
    "session.resistant_client": '{"profile_field_max_chars": 100, "reasoning_max_chars": 100, '
                                '"utterance_max_chars_en": 160}',
    "roles.client.max_tokens": "256", "roles.counselor.max_tokens": "128", "roles.counselor.stop": '["\\n"]',
}
LABEL_ONLY = {
    **COMMON, "stages.rpc.injection.enabled": "false", "stages.rpc.labeler.shots": "0",
    "stages.rpc.labeler.reason_max_chars": "100", "roles.labeler.max_tokens": "96",
}


def sets(values: dict[str, str]) -> list[str]:
    return [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]


def test_live_resistant_corpus_exports_client_samples_and_scores_the_labeler(tmp_path):
    live = tmp_path / "live"
    code = main(["run", str(REPO / "pipelines" / "simpsydial.yaml"), "--out", str(live), *sets(LIVE)])
    assert code == 0, "no live-resistant session was written"
    assert verify(str(live)) == []
    sessions = pl.read_parquet(live / "data" / "*.parquet").to_dicts()
    declared = [t for s in sessions for t in s["turns"] if t["reaction_type"] is not None]
    assert declared and all(t["reaction_type"] in RESISTANT_REACTIONS + COOPERATIVE_REACTIONS for t in declared)
    assert all(s["client_profile"] is not None for s in sessions)

    samples_path = tmp_path / "client.jsonl"
    assert main(["export", "--input", str(live), "--out", str(samples_path), "--format", "sft",
                 "--target", "client"]) == 0
    samples = [json.loads(line) for line in samples_path.read_text(encoding="utf-8").splitlines()]
    assert len(samples) == len(declared)
    for sample in samples:
        target = json.loads(sample["messages"][-1]["content"])  # --reasoning json: the live client's answer
        assert sample["messages"][-1]["role"] == "assistant" and target["reaction_type"] == sample["reaction_type"]
        assert target["utterance"] and all(target[k] for k in sample["motivation"])

    labeled = tmp_path / "labeled"
    assert main(["run", str(REPO / "pipelines" / "rpc.yaml"), "--input", str(live), "--out", str(labeled),
                 *sets(LABEL_ONLY)]) == 0
    manifest = json.loads((labeled / "manifest.json").read_text())
    records = pl.read_parquet(labeled / "data" / "*.parquet").to_dicts()
    assert {r["episode_decision"] for r in records} == {"disabled"}
    # The clients' own 5P profiles are kept: no profiler call.
    assert not (manifest["stage_throughput"].get("profile") or {}).get("items")
    clients = [t for r in records for t in r["turns"] if t["speaker"] == "client"]
    assert all(t["reaction_label_status"] in ("ok", "unparseable") for t in clients)
    check = manifest["self_check"]["reaction_label"]["declared"]
    assert check["support"] == len(declared)
    print(json.dumps({"declared": len(declared), "samples": len(samples), "declared_gold": check["macro"],
                      "confusion": check["confusion"]}))
