"""Imported corpora through the rpc pipeline on the real engine path: two dialogues of the Interactive Agents
release imported with their chief complaints, then `counselsim run pipelines/rpc.yaml` on the embedded SmolLM2 on
vLLM (local executor). The 135M English toy says nothing about quality on Chinese; this checks that partial role
cards, the plain-rate draw and the regenerated replies work on a real engine, every client turn is labeled or
recorded unparseable, the corpus verifies and the card names its source."""
from __future__ import annotations

import json

import polars as pl
import pytest
from counselsim.cli import main
from counselsim.commands.verify import verify
from counselsim.rpc.taxonomy import load_taxonomy
from helpers import REPO, SAMPLE

pytestmark = pytest.mark.engine

DIALOGUES = (0, 2)
TURNS = 8  # the first 4 exchanges of each: room for an episode, short enough for two shared cores

# Small windows, fields and budgets: the toy fills whatever room it gets. Each max_tokens covers the longest answer
# its field limits allow in Chinese (the run warns otherwise; see rpc/settings.budget_warnings).
SMALL = {
    "run.executor": "local", "run.progress": "false",
    "models.default.env.VLLM_CPU_KVCACHE_SPACE": '"1"',
    "stages.rpc.injection.rate": "1.0",  # imported cards have no level: their target is the plain rate
    "stages.rpc.injection.max_turns": "1", "stages.rpc.injection.window_turns": "4",
    "stages.rpc.injection.context_turns": "4", "stages.rpc.injection.max_chars_per_turn": "100",
    "stages.rpc.injection.reasoning_max_chars": "40", "stages.rpc.injection.response_max_chars_zh": "40",
    "stages.rpc.profile.max_turns": "4", "stages.rpc.profile.max_chars_per_turn": "100",
    "stages.rpc.profile.field_max_chars": "40",
    # zero-shot: the one-shot Chinese label prompt is ~2,700 tokens for this tokenizer, zero-shot ~2,000
    "stages.rpc.labeler.shots": "0", "stages.rpc.labeler.context_turns": "2", "stages.rpc.labeler.max_chars_per_turn": "100",
    "stages.rpc.labeler.reason_max_chars": "40",
    "roles.profiler.max_tokens": "320", "roles.rewriter.max_tokens": "256", "roles.labeler.max_tokens": "128",
    "roles.counselor.max_tokens": "96", "roles.client.max_tokens": "96", "session.refinement.max_attempts": "6",
}


def test_rpc_on_imported_release_dialogues_on_the_embedded_model(tmp_path):
    release = tmp_path / "release"
    release.mkdir()
    for n in DIALOGUES:
        turns = json.loads((SAMPLE / "dialogues" / f"{n}.json").read_text(encoding="utf-8"))
        (release / f"{n}.json").write_text(json.dumps(turns[:TURNS], ensure_ascii=False), encoding="utf-8")
    imported = tmp_path / "ia"
    assert main(["import", "--format", "interactive-agents", str(release), "--out", str(imported),
                 "--complaints", str(SAMPLE / "chief_complaints.json")]) == 0

    out = tmp_path / "rpc"
    sets = [arg for key, value in SMALL.items() for arg in ("--set", f"{key}={value}")]
    assert main(["run", str(REPO / "pipelines" / "rpc.yaml"), "--input", str(imported), "--out", str(out),
                 *sets]) == 0
    assert verify(str(out)) == []

    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["attempted"] == 2 and counts["written"] + counts["dropped"] == 2 and counts["written"] >= 1
    assert manifest["input_corpus"]["import"]["format"] == "interactive-agents"
    rows = pl.read_parquet(f"{out}/data/*.parquet").to_dicts()
    taxonomy = load_taxonomy()
    for row in rows:
        assert row["origin"] == "imported" and row["role_card"]["chief_complaint"]
        for turn in row["turns"]:
            if turn["speaker"] == "client":
                assert turn["label_status"] in ("ok", "unparseable")
                assert (turn["label"] in taxonomy.labels) if turn["label_status"] == "ok" else turn["label"] is None
        episode = row["episode"]
        assert (episode is not None) == (row["episode_decision"] == "injected")
        if episode:
            regenerated = {t["index"] for t in row["turns"] if t["regenerated"]}
            assert {i + 1 for i in episode["turn_indices"]} <= regenerated
            if episode["continuation"] != "regenerated":
                assert regenerated == {i + 1 for i in episode["turn_indices"]}
    check = manifest["self_check"]
    assert check["client_turns"] == check["labeled"] + check["unparseable"] == sum(
        t["speaker"] == "client" for row in rows for t in row["turns"])

    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "imported by `counselsim import --format interactive-agents`" in readme and str(release) in readme
    print(json.dumps({"counts": counts, "drops": manifest["drops"], "plan": manifest["stage_throughput"].get("plan"),
                      "episodes": manifest["episodes"],
                      "self_check": {k: check[k] for k in ("client_turns", "labeled", "unparseable")},
                      "wall_s": manifest["throughput"]["wall_s"]}, ensure_ascii=False, indent=1))
