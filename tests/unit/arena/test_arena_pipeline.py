"""The arena pipeline end to end (`counselsim run`) against scripted entrants of known quality: a scripted pool
stands in for the engines; everything else (σ, shuffling, verdicts, staging, resume, shards, ratings) is real."""
from __future__ import annotations

import pytest
from arena_builders import run_arena as run
from counselsim.arena.corpus import load_arena
from counselsim.arena.ratings import bootstrap, bradley_terry
from counselsim.cli import main


def test_the_preferred_entrant_ranks_first_with_a_separate_interval(repo, tmp_path, scripted):
    out = tmp_path / "arena"
    assert run(repo, out, "--sessions", "12") == 0
    arena = load_arena(str(out))
    assert len(arena.dialogues) == 12
    assert {frozenset(d.entrants) for d in arena.dialogues} == {frozenset(p) for p in
                                                                 [("good", "mid"), ("good", "bad"), ("mid", "bad")]}
    assert all(sum(set(d.entrants) == pair for d in arena.dialogues) == 4
               for pair in ({"good", "mid"}, {"good", "bad"}, {"mid", "bad"}))
    assert all(b.winner == "good" for b in arena.battles if "good" in (b.a, b.b))
    assert {b.winner_position for b in arena.battles if b.winner == "good"} == {"A", "B"}  # shuffled, undone
    ratings = bradley_terry(arena.battles)
    intervals = bootstrap(arena.battles, bradley_terry, rounds=200)
    assert max(ratings, key=ratings.get) == "good"
    assert intervals["good"].low > max(intervals["mid"].high, intervals["bad"].high)
    # Three calls per battle at least (two entrants, the supervisor), the two entrants in flight together.
    calls = scripted[0].calls
    assert calls.count("supervisor") >= len(arena.battles) + arena.unjudged
    assert scripted[0].peak >= 2


def test_records_hold_both_candidates_and_sigma(repo, tmp_path, scripted):
    import polars as pl

    out = tmp_path / "arena"
    assert run(repo, out, "--sessions", "6") == 0
    rows = pl.read_parquet(out / "data" / "*.parquet").to_dicts()
    for row in rows:
        pair = [e["name"] for e in row["entrants"]]
        for turn in row["turns"]:
            if turn["speaker"] == "client":
                assert turn["battle"] is None
                continue
            battle = turn["battle"]
            assert [c["entrant"] for c in battle["candidates"]] == pair
            assert sorted(c["position"] for c in battle["candidates"]) == ["A", "B"]
            assert all(len(c["text"].split()) <= 120 for c in battle["candidates"])
            if battle["status"] == "ok":
                chosen = next(c for c in battle["candidates"] if c["position"] == battle["choice"])
                assert chosen["entrant"] == battle["winner"] == battle["continued_with"]
            else:
                assert battle["winner"] is None and battle["judge_output"] == "I cannot decide."
            assert turn["text"] == next(c["text"] for c in battle["candidates"]
                                        if c["entrant"] == battle["continued_with"])
        if "bad" in pair:
            bad = [c for t in row["turns"] if t["battle"] for c in t["battle"]["candidates"] if c["entrant"] == "bad"]
            assert any(c["attempts"] > 1 for c in bad)  # σ rejected and regenerated


def test_rerun_resumes_and_extends(repo, tmp_path, scripted):
    out = tmp_path / "arena"
    assert run(repo, out, "--sessions", "3") == 0
    first = load_arena(str(out))
    assert run(repo, out, "--sessions", "5") == 0
    again = load_arena(str(out))
    assert len(again.dialogues) == 5
    assert again.battles[:len(first.battles)] == first.battles


@pytest.mark.parametrize("sets, message", [
    (["stages.arena.entrants=[{name: good}]"], "at least two entrants"),
    (["roles.good={model: nowhere}"], "which is not under models"),
    (["stages.arena.entrants=[{name: good}, {name: mid, system_prompt: no/such/file.txt}]"], "not found"),
    (["stages.arena.entrants=[{name: good}, {name: ghost}]"], "needs roles"),
])
def test_bad_input_exits_2_and_writes_nothing(repo, tmp_path, scripted, capsys, sets, message):
    out = tmp_path / "arena"
    extra = [x for s in sets for x in ("--set", s)]
    assert run(repo, out, "--sessions", "2", *extra) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and not scripted


def test_preference_export_in_trl_layout(repo, tmp_path, scripted):
    import json

    import pyarrow.parquet as pq

    out = tmp_path / "arena"
    assert run(repo, out, "--sessions", "4") == 0
    arena = load_arena(str(out))
    jsonl = tmp_path / "pref.jsonl"
    assert main(["export", "--format", "preference", "--input", str(out), "--out", str(jsonl)]) == 0
    samples = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(samples) == len(arena.battles)
    for s in samples:
        assert s["prompt"][0]["role"] == "system" and s["prompt"][-1]["role"] == "user"
        assert [m["role"] for m in s["prompt"][1:]] == ["user", "assistant"] * (len(s["prompt"]) // 2 - 1) + ["user"]
        assert s["chosen"][0]["role"] == s["rejected"][0]["role"] == "assistant"
        assert s["chosen"][0]["content"] != s["rejected"][0]["content"]
        if "good" in (s["chosen_entrant"], s["rejected_entrant"]):
            assert s["chosen_entrant"] == "good"
    parquet = tmp_path / "pref.parquet"
    assert main(["export", "--format", "preference", "--input", str(out), "--out", str(parquet)]) == 0
    assert pq.read_table(parquet).num_rows == len(samples)
