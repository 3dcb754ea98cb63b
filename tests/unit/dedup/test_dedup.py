"""The dedup stage: planted zh/en near-duplicates against exact-Jaccard ground truth, short and empty texts,
determinism under shard order, looping, Ray, and `counselsim dedup` end to end."""
from __future__ import annotations

import itertools
import json
import random
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from counselsim import cli
from counselsim.commands.verify import verify
from counselsim.corpus.shards import CorpusWriter, shard_paths
from counselsim.dedup import (
    DedupConfig,
    near_duplicate_clusters,
    plan_dedup,
    session_text,
)
from counselsim.dedup.looping import is_looping
from counselsim.dedup.minhash import Signer, shingle_hash
from counselsim.dedup.shingles import jaccard, shingles
from counselsim.errors import InputError
from counselsim.schemas import RoleCard, RoleModel, Session, Turn
from counselsim.schemas.arrow import SESSION_SCHEMA, sessions_to_table
from datasketch import MinHash

CFG = DedupConfig()
ZH = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def en_vocabulary(rng: random.Random) -> list[str]:
    return ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(2000)]


def zh_text(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(ZH) for _ in range(n)]


def en_text(rng: random.Random, vocab: list[str], n: int) -> list[str]:
    return [rng.choice(vocab) for _ in range(n)]


def edit(units: list[str], edits: int, pool: list[str], rng: random.Random) -> list[str]:
    """`units` (characters or words) with `edits` of them replaced at random positions."""
    out = list(units)
    for i in rng.sample(range(len(out)), edits):
        out[i] = rng.choice(pool)
    return out


def planted_pairs(seed: int = 7, pairs_per_language: int = 120) -> list[tuple[str, str, str, str]]:
    """(key_a, text_a, key_b, text_b): a random text and an edited copy, the number of edits spread so that the
    exact Jaccard of the pair ranges from about 0.5 to 1."""
    rng = random.Random(seed)
    vocab = en_vocabulary(rng)
    out = []
    for i in range(pairs_per_language):
        base = zh_text(rng, 300)
        out.append((f"zh{i:03d}a", "".join(base), f"zh{i:03d}b", "".join(edit(base, rng.randint(0, 18), ZH, rng))))
        base = en_text(rng, vocab, 120)
        out.append((f"en{i:03d}a", " ".join(base), f"en{i:03d}b", " ".join(edit(base, rng.randint(0, 12), vocab, rng))))
    return out


def predicted_pairs(clusters: list[list[str]]) -> set[tuple[str, str]]:
    return {pair for c in clusters for pair in itertools.combinations(sorted(c), 2)}


# --- signatures ---------------------------------------------------------------------------------------------------


def test_signatures_equal_plain_datasketch_with_the_same_shingle_hash():
    rng = random.Random(1)
    english = " ".join(en_text(rng, en_vocabulary(rng), 80))
    texts = ["", "嗯", "Hi", "".join(zh_text(rng, 200)), english, "ａＢｃ  Ｄｅｆ  ghi"]
    signatures, empty = Signer(CFG.num_perm, CFG.seed, CFG.ngram).signatures(texts)
    for text, signature in zip(texts, signatures):
        plain = MinHash(num_perm=CFG.num_perm, seed=CFG.seed, hashfunc=lambda s: shingle_hash(s, CFG.ngram))
        for s in shingles(text, CFG.ngram):
            plain.update(s)
        assert np.array_equal(plain.hashvalues, signature)
    assert empty.tolist() == [True, False, False, False, False, False]


def test_shingles_are_characters_after_normalisation():
    assert shingles("我很焦虑", 2) == {"我很", "很焦", "焦虑"}
    assert shingles("Ｉ  AM\nfine", 3) == shingles("i am fine", 3)
    assert shingles("", 5) == set() and shingles("   ", 5) == set()
    assert shingles("焦虑", 5) == {"焦虑"}


# --- near-duplicate clusters ---------------------------------------------------------------------------------------


def test_planted_near_duplicates_recall_and_precision_against_exact_jaccard():
    pairs = planted_pairs()
    items = [(ka, ta) for ka, ta, _, _ in pairs] + [(kb, tb) for _, _, kb, tb in pairs]
    exact = {(ka, kb): jaccard(shingles(ta, CFG.ngram), shingles(tb, CFG.ngram)) for ka, ta, kb, tb in pairs}
    assert min(exact.values()) < 0.6 and max(exact.values()) == 1.0  # the planted pairs span the threshold
    truth = {pair for pair, j in exact.items() if j >= CFG.threshold}

    found = predicted_pairs(near_duplicate_clusters(items, CFG))

    recall = len(found & truth) / len(truth)
    precision = len(found & truth) / len(found)
    assert recall >= 0.9 and precision >= 0.9, (recall, precision)
    # Away from the threshold, where the MinHash estimate cannot err, the answer is exact.
    assert {p for p, j in exact.items() if j >= CFG.threshold + 0.1} <= found
    assert not {p for p, j in exact.items() if j <= CFG.threshold - 0.1} & found
    assert found <= set(exact)  # never a pair of unrelated texts


def test_short_texts_do_not_all_collide():
    items = [("a", "焦虑"), ("b", "失眠"), ("c", "ok"), ("d", "no"), ("e", "Hi!"), ("f", "焦虑"), ("g", "ＯＫ")]
    assert near_duplicate_clusters(items, CFG) == [["a", "f"], ["c", "g"]]


def test_empty_texts_never_cluster():
    items = [("a", ""), ("b", ""), ("c", "   \n "), ("d", session_text([])), ("e", "a real sentence here")]
    assert near_duplicate_clusters(items, CFG) == []
    assert near_duplicate_clusters([], CFG) == []


def test_clusters_are_sorted_and_keys_unique():
    text = "我最近总是睡不着，工作压力很大，和家人的关系也很紧张。"
    assert near_duplicate_clusters([("z", text), ("m", text), ("b", text)], CFG) == [["b", "m", "z"]]
    with pytest.raises(ValueError):
        near_duplicate_clusters([("a", text), ("a", text)], CFG)


def test_session_text_joins_turn_texts_without_speakers():
    turns = [{"speaker": "counselor", "text": "你好"}, {"speaker": "client", "text": "我很焦虑"},
             {"speaker": "client", "text": None}]
    assert session_text(turns) == "你好\n我很焦虑\n"


# --- looping -------------------------------------------------------------------------------------------------------


def test_looping_needs_min_repeats_of_near_identical_long_utterances():
    loop = "I hear that you are feeling overwhelmed. Can you tell me more about that?"
    variant = loop.replace("more", "a bit more")
    assert jaccard(shingles(loop, 5), shingles(variant, 5)) >= 0.8  # near-identical, but below 0.9
    cfg = CFG.model_copy(update={"loop_similarity": 0.8})
    other = [("client", t) for t in ("My boss shouted at me again on Monday.", "I have not slept well for weeks.",
                                     "My sister thinks I should quit.", "Weekends are the only time I relax.")]
    assert is_looping(other + [("counselor", loop), ("counselor", variant), ("counselor", loop)], cfg)
    assert not is_looping(other + [("counselor", loop), ("counselor", variant)], cfg)
    # The same words from two different speakers are not one speaker looping.
    assert not is_looping(other + [("counselor", loop), ("client", loop), ("counselor", loop)], cfg)
    # Short acknowledgements repeat in every conversation.
    assert not is_looping([("client", "嗯。")] * 10 + [("client", "好的，谢谢")] * 5, cfg)


# --- plan_dedup over shards ----------------------------------------------------------------------------------------


def make_session(session_id: str, texts: list[str], language: str = "zh") -> Session:
    model = RoleModel(model="scripted", backend="scripted", temperature=0.8, top_p=0.9, max_tokens=128,
                      repetition_penalty=1.0)
    trait = {"level": "moderate", "note": ""}
    card = RoleCard(
        id="card-1", language=language, gender="female", age=30, education="college", occupation="teacher",
        marital_status="single", family_relationships="close to her parents",
        big_five={k: trait for k in ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")},
        resistance={"level": "low", "reasoning": "wants help"}, chief_complaint="I cannot sleep since my job changed.",
    )
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    turns = [
        Turn(index=i, speaker="counselor" if i % 2 == 0 else "client", text=t, attempts=1, prompt_tokens=0,
             completion_tokens=0, latency_s=0.0, finish_reason="stop")
        for i, t in enumerate(texts)
    ]
    return Session(
        session_id=session_id, run_id="run", slot=0, role_card_id=card.id, language=language, role_card=card,
        client=model, counselor=model, seed=0, turns=turns, termination_reason="farewell",
        num_turn_pairs=len(turns) // 2, regenerations=0, rejections=[], prompt_tokens=0, completion_tokens=0, started_at=now,
        finished_at=now, duration_s=0.0, config_hash="h", package_version="0.1.0",
    )


def corpus_sessions(seed: int = 3) -> tuple[list[Session], dict[str, str]]:
    """40 distinct sessions, 10 near-copies of some of them (a few edits per turn), 1 empty, 1 looping.
    Returns the sessions and the expected removals."""
    rng = random.Random(seed)
    vocab = en_vocabulary(rng)
    bases = []
    for i in range(40):
        if i % 2:
            turns = ["".join(zh_text(rng, 60)) for _ in range(8)]
        else:
            turns = [" ".join(en_text(rng, vocab, 25)) for _ in range(8)]
        bases.append(make_session(f"s{i:03d}", turns, "zh" if i % 2 else "en"))
    copies, expected = [], {}
    for k, base in enumerate(bases[:10]):
        lang_pool = ZH if base.language == "zh" else vocab
        sep = "" if base.language == "zh" else " "
        units = [list(t.text) if sep == "" else t.text.split() for t in base.turns]
        texts = [sep.join(u) if j % 4 else sep.join(edit(u, 1, lang_pool, rng)) for j, u in enumerate(units)]
        # Copies get ids after their base ("c" > "s") or before it ("a" < "s"): the smallest id survives.
        copy_id = f"c{k:03d}" if k % 2 else f"a{k:03d}"
        copies.append(make_session(copy_id, texts, base.language))
        expected[max(copy_id, base.session_id)] = "near_duplicate"
    loop = "Tell me more about what happens when you try to fall asleep at night."
    looping = make_session("s900", [loop, "I lie awake.", loop, "I think about work.", loop, "Nothing else."], "en")
    empty = make_session("s901", [], "zh")
    return bases + copies + [looping, empty], expected


def write_shards(folder, sessions: list[Session], rows_per_shard: int = 7) -> list[str]:
    writer = CorpusWriter(str(folder), SESSION_SCHEMA, rows_per_shard)
    writer.add(sessions_to_table(sessions))
    writer.close()
    return shard_paths(str(folder))


def test_plan_dedup_removes_planted_copies_and_keeps_smallest_id(tmp_path):
    sessions, expected = corpus_sessions()
    shards = write_shards(tmp_path, sessions)
    result = plan_dedup(shards, CFG)
    assert result.removed == expected
    report = result.report
    assert report["sessions"] == len(sessions) and report["empty_sessions"] == 1
    assert report["clusters"] == 10 and report["removed"] == {"near_duplicate": 10, "looping": 0}
    assert report["looping_sessions"] == 1 and report["looping_examples"] == ["s900"]
    assert len(report["examples"]) == CFG.examples
    for ex in report["examples"]:
        assert ex["kept"] < ex["removed"] and abs(ex["estimated_jaccard"] - ex["exact_jaccard"]) < 0.15
        assert ex["exact_jaccard"] >= 0.8
    json.dumps(report)


def test_plan_dedup_is_the_same_for_any_shard_order(tmp_path):
    sessions, _ = corpus_sessions()
    rng = random.Random(5)
    results = []
    for k in range(4):
        shuffled = list(sessions)
        rng.shuffle(shuffled)
        shards = write_shards(tmp_path / f"corpus{k}", shuffled, rows_per_shard=3 + k)
        rng.shuffle(shards)
        results.append(plan_dedup(shards, CFG))
    assert all(r.removed == results[0].removed for r in results)
    assert all(r.report["examples"] == results[0].report["examples"] for r in results)


def test_drop_looping_removes_looping_sessions_by_reason(tmp_path):
    sessions, expected = corpus_sessions()
    shards = write_shards(tmp_path, sessions)
    result = plan_dedup(shards, CFG.model_copy(update={"drop_looping": True}))
    assert result.removed == {**expected, "s900": "looping"}
    assert result.report["removed"] == {"near_duplicate": 10, "looping": 1}


def test_plan_dedup_disabled_and_duplicate_ids(tmp_path):
    sessions, _ = corpus_sessions()
    assert plan_dedup([], CFG).removed == {}
    assert plan_dedup(["/nonexistent.parquet"], CFG.model_copy(update={"enabled": False})).removed == {}
    shards = write_shards(tmp_path, sessions[:3] + sessions[:1], rows_per_shard=2)
    with pytest.raises(InputError, match="s000"):
        plan_dedup(shards, CFG)


@pytest.mark.slow
def test_plan_dedup_in_ray_tasks_matches_in_process(tmp_path):
    ray = pytest.importorskip("ray")
    sessions, _ = corpus_sessions()
    shards = write_shards(tmp_path, sessions)
    local = plan_dedup(shards, CFG)
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        remote = plan_dedup(shards, CFG)
        with pytest.raises(InputError, match="broken.parquet"):
            (tmp_path / "broken.parquet").write_text("not parquet")
            plan_dedup([*shards, str(tmp_path / "broken.parquet")], CFG)
    finally:
        ray.shutdown()
    assert remote.removed == local.removed
    assert remote.report["examples"] == local.report["examples"]


# --- the command line ----------------------------------------------------------------------------------------------


@pytest.fixture
def dedup_cli(monkeypatch):
    # Only this command: the test should not depend on the other subcommands' imports.
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["counselsim.commands.dedup"])
    return lambda *args: cli.main(["dedup", *map(str, args)])


def test_cli_writes_survivors_with_the_input_schema_and_a_manifest(tmp_path, dedup_cli):
    sessions, expected = corpus_sessions()
    inputs = write_shards(tmp_path / "in", sessions)
    out = tmp_path / "out"
    assert dedup_cli("--input", tmp_path / "in", "--out", out, "--rows-per-shard", 20, "--drop-looping") == 0

    files = shard_paths(str(out))
    table = pa.concat_tables(pq.read_table(f) for f in files)
    survivors = {s.session_id for s in sessions} - set(expected) - {"s900"}
    assert sorted(table["session_id"].to_pylist()) == sorted(survivors)
    for f in files:
        assert pq.read_schema(f).equals(pq.read_schema(inputs[0]), check_metadata=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"input": len(sessions), "rows": table.num_rows,
                                  "removed": {"near_duplicate": 10, "looping": 1}}
    assert manifest["record_type"] == "session" and [s["rows"] for s in manifest["shards"]] == [20, 20, 1]
    assert manifest["dedup"]["examples"][0].keys() >= {"estimated_jaccard", "exact_jaccard"}
    assert verify(str(out)) == []
    card = (out / "README.md").read_text()
    assert card.startswith("---") and f"{table.num_rows} of {len(sessions)} sessions kept" in card


def test_cli_refuses_bad_input_without_writing(tmp_path, dedup_cli, capsys):
    sessions, _ = corpus_sessions()
    good = write_shards(tmp_path / "in", sessions)
    out = tmp_path / "out"

    (tmp_path / "in" / "data" / "shard-99999.parquet").write_text("not parquet")
    assert dedup_cli("--input", tmp_path / "in", "--out", out) == 2
    assert "shard-99999.parquet" in capsys.readouterr().err

    pq.write_table(pa.table({"session_id": ["x"]}).replace_schema_metadata(SESSION_SCHEMA.metadata),
                   tmp_path / "in" / "data" / "shard-99999.parquet")
    assert dedup_cli("--input", tmp_path / "in", "--out", out) == 2
    assert "shard-99999.parquet: its schema differs" in capsys.readouterr().err

    assert dedup_cli("--input", good[0], "--out", out, "--threshold", 1.5) == 2
    assert "threshold" in capsys.readouterr().err
    assert not out.exists()

    assert dedup_cli("--input", good[0], "--out", out) == 0
    assert dedup_cli("--input", good[0], "--out", out) == 2
    assert "already holds a corpus" in capsys.readouterr().err


def test_cli_missing_columns(tmp_path, dedup_cli, capsys):
    pq.write_table(pa.table({"id": ["x"]}), tmp_path / "other.parquet")
    assert dedup_cli("--input", tmp_path / "other.parquet", "--out", tmp_path / "out") == 2
    assert "other.parquet: no column session_id, turns" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
