"""The resume identity: declared by the config sections, content only (files by sha256), and what a resume with
more replicas, another KV cache size, another temperature or an edited role-card pool does."""
from __future__ import annotations

import json
import os

import polars as pl
import pytest
from counselsim.cli import main
from counselsim.config import PIPELINES, load_config
from counselsim.corpus.shards import load_manifest
from counselsim.errors import OutputError
from counselsim.identity import ConfigSection, changes, check_resume
from helpers import REPO, config
from pydantic import BaseModel
from rpc_builders import rpc_config

SCRIPTED = ["--set", "models.default.backend=scripted", "--set", "models.default.path=none",
            "--set", "run.executor=local", "--set", "run.progress=false"]

# Placement and capacity: none of these may change a session's id or refuse a resume.
PLACEMENT = ["models.default.replicas=2", "models.default.num_cpus=2", "models.default.num_gpus=1",
             "models.default.max_concurrency=8", "models.default.env.VLLM_CPU_KVCACHE_SPACE='8'",
             "models.default.ray_resources={node: 1}", "models.default.options.max_num_seqs=32", "retry.attempts=9",
             "faults.error_share=0.1", "run.executor=local", "run.max_in_flight=3", "run.rows_per_shard=7",
             "run.progress=false", "run.output=elsewhere", "run.sessions=99", "run.license=mit",
             "run.max_attempts_factor=5", "stages.dedup.threshold=0.5"]
# Fields that shape records, each with the dotted path the identity names it by.
CONTENT = [("roles.counselor.temperature=0.5", "roles.counselor.temperature"),
           ("roles.client.repetition_penalty=1.3", "roles.client.repetition_penalty"),
           ("roles.client.model=other", "roles.client.model"),
           ("models.default.path=/models/other", "models.default.path"),
           ("models.default.options.dtype=bfloat16", "models.default.options.dtype"),
           ("session.max_turn_pairs=30", "session.max_turn_pairs"),
           ("session.refinement.max_words_en=80", "session.refinement.max_words_en"),
           ("session.opening={zh: 您好, en: Hello}", "session.opening.zh"),
           ("run.seed=3", "run.seed"),
           ("role_cards.languages=[en, zh]", "role_cards.languages.1")]


def shipped(repo, *overrides):
    extra = ["models.other={path: none, backend: scripted}"]
    return load_config(repo / "pipelines" / "simpsydial.yaml", [*extra, *overrides])


def test_placement_and_capacity_leave_the_identity_alone(repo):
    assert shipped(repo, *PLACEMENT).resume_identity() == shipped(repo).resume_identity()


@pytest.mark.parametrize("override, path", CONTENT)
def test_fields_that_shape_records_change_it_and_are_named(repo, override, path):
    before, after = shipped(repo).resume_identity(), shipped(repo, override).resume_identity()
    assert before.digest != after.digest
    assert [c.split(" ")[0] for c in changes(before.fields, after.fields)] == [path]


def test_prompts_and_taxonomies_enter_by_content(repo):
    fields = shipped(repo).resume_identity().fields
    assert fields["data.prompts/en/counselor.txt"].startswith("sha256:")
    assert fields["data.taxonomies/psyfire.yaml"].startswith("sha256:")
    old = {**fields, "data.prompts/en/counselor.txt": "sha256:" + "0" * 64}
    now = fields["data.prompts/en/counselor.txt"][:19]
    assert changes(old, fields) == [f"data.prompts/en/counselor.txt sha256:000000000000 -> {now}"]


def test_a_role_card_pool_enters_by_content_not_by_path(repo, tmp_path):
    original = repo / "role_cards" / "en" / "train.jsonl"
    moved = tmp_path / "moved.jsonl"
    moved.write_bytes(original.read_bytes())
    here, there = shipped(repo).resume_identity(), shipped(repo, f"role_cards.pools=[{moved}]").resume_identity()
    assert here == there
    moved.write_bytes(original.read_bytes().replace(b'"age": 2', b'"age": 3', 1))
    assert shipped(repo, f"role_cards.pools=[{moved}]").resume_identity().fields["role_cards.pools.0"] != \
        here.fields["role_cards.pools.0"]


def test_an_input_corpus_enters_by_its_manifest(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "manifest.json").write_text(json.dumps({"shards": [{"sha256": "a"}]}))
    first = rpc_config(str(corpus)).resume_identity()
    assert first.fields["run.input"].startswith("sha256:")
    (corpus / "manifest.json").write_text(json.dumps({"shards": [{"sha256": "b"}]}))
    second = rpc_config(str(corpus)).resume_identity()
    assert [c.split(" ")[0] for c in changes(first.fields, second.fields)] == ["run.input"]
    moved = tmp_path / "moved"
    corpus.rename(moved)
    assert rpc_config(str(moved)).resume_identity() == second


def test_rpc_settings_are_in_it_and_dedup_is_not(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "manifest.json").write_text("{}")
    base = rpc_config(str(corpus)).resume_identity()
    rate = rpc_config(str(corpus), injection={"rate": 0.3}).resume_identity()
    assert [c.split(" ")[0] for c in changes(base.fields, rate.fields)] == ["stages.rpc.injection.rate"]
    assert base.fields["stages.rpc.injection.level_weights.high"] == 1.0  # enum keys by value
    assert not any(path.startswith("stages.dedup") for path in base.fields)


def _sections(model: type[BaseModel]):
    """Every config section class reachable from a config model's fields."""
    for field in model.model_fields.values():
        for candidate in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, ConfigSection):
                yield candidate
                yield from _sections(candidate)


@pytest.mark.parametrize("kind", sorted(PIPELINES))
def test_every_field_is_declared_in_or_outside_the_identity(kind):
    for section in {PIPELINES[kind], *_sections(PIPELINES[kind])}:
        inside, outside = set(section.IDENTITY), set(section.OUTSIDE_IDENTITY)
        assert not inside & outside, section.__name__
        assert inside | outside == set(section.model_fields), (
            f"{section.__name__}: declare {sorted(set(section.model_fields) - inside - outside)} in IDENTITY "
            f"(shapes records) or OUTSIDE_IDENTITY (placement, capacity, reporting)")


def test_a_refusal_names_the_fields():
    pools = [str(REPO / "role_cards" / "en" / "train.jsonl")]
    cfg = config(role_cards__pools=pools)
    recorded = {"config_hash": "old", "identity": {**cfg.resume_identity().fields, "roles.counselor.temperature": 0.7}}
    with pytest.raises(OutputError, match=r"^out holds a run made with another configuration: "
                                          r"roles\.counselor\.temperature 0\.7 -> 0\.8; choose another output"):
        check_resume(recorded, cfg.resume_identity(), "out")
    with pytest.raises(OutputError, match="predates recorded identities"):
        check_resume({"config_hash": "old"}, cfg.resume_identity(), "out")
    check_resume(None, cfg.resume_identity(), "out")
    check_resume({"config_hash": cfg.generation_hash()}, cfg.resume_identity(), "out")


# --- end to end with the scripted engine ------------------------------------------------------------------

def run(repo, out, *extra):
    return main(["run", str(repo / "pipelines" / "simpsydial.yaml"), "--out", str(out), *SCRIPTED, *extra])


def test_more_replicas_and_another_kv_cache_extend_the_corpus(repo, tmp_path, monkeypatch):
    # The local pool puts the model's env into this process; restore it afterwards.
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"))
    out = tmp_path / "corpus"
    assert run(repo, out, "--sessions", "4") == 0
    first = pl.read_parquet(out / "data" / "*.parquet")
    run_json = json.loads((out / "staging" / "run.json").read_text())
    assert run_json["identity"]["roles.counselor.temperature"] == 0.7
    assert not any("replicas" in path or "env" in path for path in run_json["identity"])

    assert run(repo, out, "--sessions", "8", "--set", "models.default.replicas=2",
               "--set", "models.default.env.VLLM_CPU_KVCACHE_SPACE='8'", "--set", "run.rows_per_shard=3") == 0
    manifest = load_manifest(str(out))
    more = pl.read_parquet(out / "data" / "*.parquet")
    assert more.height == 8 and more["session_id"].n_unique() == 8  # nothing twice
    assert set(first["session_id"]) <= set(more["session_id"])  # the same ids, kept
    assert all(sid.startswith(f"sps-{run_json['config_hash'][:8]}-") for sid in more["session_id"])
    assert manifest["throughput"]["new_records"] == 4 and manifest["config_hash"] == run_json["config_hash"]


def test_a_changed_sampling_field_is_refused_naming_it(repo, tmp_path, capsys):
    out = tmp_path / "corpus"
    assert run(repo, out, "--sessions", "2") == 0
    before = sorted(p.name for p in (out / "data").iterdir())
    assert run(repo, out, "--sessions", "2", "--set", "roles.counselor.temperature=0.5") == 2
    err = capsys.readouterr().err
    assert f"{out} holds a run made with another configuration: roles.counselor.temperature 0.7 -> 0.5;" in err
    assert sorted(p.name for p in (out / "data").iterdir()) == before


def test_an_edited_role_card_pool_is_refused(repo, tmp_path, capsys):
    pool = tmp_path / "pool.jsonl"
    pool.write_bytes((repo / "role_cards" / "en" / "train.jsonl").read_bytes())
    out = tmp_path / "corpus"
    assert run(repo, out, "--sessions", "2", "--set", f"role_cards.pools=[{pool}]") == 0
    cards = [json.loads(line) for line in pool.read_text().splitlines()]
    cards[0]["occupation"] = "lighthouse keeper"
    pool.write_text("".join(json.dumps(c) + "\n" for c in cards))
    assert run(repo, out, "--sessions", "4", "--set", f"role_cards.pools=[{pool}]") == 2
    assert "another configuration: role_cards.pools.0 sha256:" in capsys.readouterr().err
    assert load_manifest(str(out))["counts"]["rows"] == 2
