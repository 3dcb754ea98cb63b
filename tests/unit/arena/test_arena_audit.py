"""`counselsim audit` of an arena corpus (ratings, matrices, Table 4, position bias, agreement with human choices),
and the SFT export and dataset card of one. The corpus comes from the scripted roster of tests/arena_builders.py,
where 'good' wins every battle it is in."""
from __future__ import annotations

import json

import pytest
from arena_builders import run_arena
from audit_builders import session, write_corpus
from counselsim.arena.corpus import load_arena
from counselsim.cli import main

SECTION = "Arena (SimPsyDial Algorithm 2)"


@pytest.fixture
def corpus(repo, tmp_path, scripted):
    out = tmp_path / "arena"
    assert run_arena(repo, out, "--sessions", "12") == 0
    return out


def audit(corpus, out, *extra):
    return main(["audit", "--input", str(corpus), "--out", str(out), "--embedding-model", "none", *extra])


def test_audit_rates_the_entrants_with_intervals_and_matrices(corpus, tmp_path):
    arena = load_arena(str(corpus))
    report = tmp_path / "report"
    assert audit(corpus, report) == 0
    tables = json.loads((report / "metrics.json").read_text())[SECTION]
    ratings = tables["Ratings with intervals"]
    assert ratings[0]["entrant"] == "good" and [r["rank"] for r in ratings] == [1, 2, 3]
    good, *others = ratings
    assert good["bt_low"] <= good["bradley_terry"] <= good["bt_high"]
    assert good["bt_low"] > max(r["bt_high"] for r in others)
    assert good["elo_low"] > max(r["elo_high"] for r in others)
    assert good["win_share"] == 1.0 and good["wins"] == good["battles"]
    assert sum(r["wins"] for r in ratings) == len(arena.battles)

    counts = {row["entrant"]: row for row in tables["Battle counts (Figure 14)"]}
    for a in counts:
        for b in counts:
            assert counts[a][b] == (0 if a == b else sum({x.a, x.b} == {a, b} for x in arena.battles))
    shares = {row["entrant"]: row for row in tables["Pairwise win share (row entrant against column entrant)"]}
    assert shares["good"]["good"] is None and shares["good"]["mid"] == 1.0 and shares["mid"]["good"] == 0.0
    assert shares["mid"]["bad"] + shares["bad"]["mid"] == pytest.approx(1.0)

    stats = {row["statistic"]: row["value"] for row in tables["Dialogue statistics (Table 4)"]}
    assert stats["# Dialogues"] == 12
    assert stats["# Utterances"] == stats["# Client utterances"] + stats["# Counselor utterances"]
    assert stats["# Battles (judged counselor turns)"] + stats["# Unjudged counselor turns"] \
        == stats["# Counselor utterances"]
    assert stats["Avg. turns per dialogue"] == stats["# Counselor utterances"] / 12
    upvotes = {row["entrant"]: row for row in tables["Upvotes (battles won) per entrant (Table 4)"]}
    assert upvotes["good"]["dialogues"] == 8
    assert upvotes["good"]["average_upvotes"] == upvotes["good"]["total_upvotes"] / 8

    (position,) = tables["Win rate by position"]
    assert position["battles"] == len(arena.battles)
    assert position["won_by_option_a"] == sum(b.winner_position == "A" for b in arena.battles)
    by_entrant = {row["entrant"]: row for row in tables["Win rate by position, per entrant"]}
    assert by_entrant["good"]["win_rate_as_a"] == by_entrant["good"]["win_rate_as_b"] == 1.0

    page = (report / "report.html").read_text()
    assert "Ratings with intervals" in page and 'alt="Share of their battles the row entrant won' in page
    assert (report / "figures" / "arena_win_share.png").stat().st_size > 0


def test_agreement_with_human_choices(corpus, tmp_path):
    arena = load_arena(str(corpus))
    battles = arena.battles[:10]
    # The people agree with the supervisor on the first seven battles and pick the other reply on three.
    lines = [{"session_id": b.dialogue, "turn_index": b.turn, "chosen": b.winner if i < 7 else b.loser}
             for i, b in enumerate(battles)]
    choices = tmp_path / "human.jsonl"
    choices.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = tmp_path / "report"
    assert audit(corpus, report, "--human-choices", str(choices)) == 0
    (row,) = json.loads((report / "metrics.json").read_text())[SECTION]["Supervisor agreement with human choices"]
    assert row == {"battles_with_human_choice": 10, "agreed": 7, "agreement": 0.7}


@pytest.mark.parametrize("line, message", [
    ({"session_id": "nowhere", "turn_index": 1, "chosen": "good"}, "has no battle at counselor turn 1"),
    ({"session_id": None, "turn_index": 1, "chosen": "good"}, "field 'session_id'"),
    ("not json", "not JSON"),
])
def test_mismatched_human_choices_exit_2_and_write_nothing(corpus, tmp_path, capsys, line, message):
    choices = tmp_path / "human.jsonl"
    choices.write_text(line + "\n" if isinstance(line, str) else json.dumps(line) + "\n")
    report = tmp_path / "report"
    assert audit(corpus, report, "--human-choices", str(choices)) == 2
    err = capsys.readouterr().err
    assert message in err and f"{choices}:1" in err
    assert not report.exists()


def test_a_human_choice_for_an_entrant_not_in_the_battle_exits_2(corpus, tmp_path, capsys):
    battle = load_arena(str(corpus)).battles[0]
    outsider = next(name for name in ("good", "mid", "bad") if name not in (battle.a, battle.b))
    choices = tmp_path / "human.jsonl"
    choices.write_text(json.dumps({"session_id": battle.dialogue, "turn_index": battle.turn, "chosen": outsider}))
    assert audit(corpus, tmp_path / "report", "--human-choices", str(choices)) == 2
    assert "is not an entrant of this battle" in capsys.readouterr().err
    assert not (tmp_path / "report").exists()


def test_human_choices_need_an_arena_corpus(tmp_path, capsys):
    plain = tmp_path / "sessions"
    write_corpus(str(plain), [session("s-1", [("client", "Hello."), ("counselor", "Hi, what brings you here?")])])
    choices = tmp_path / "human.jsonl"
    choices.write_text(json.dumps({"session_id": "s-1", "turn_index": 1, "chosen": "good"}))
    assert audit(plain, tmp_path / "report", "--human-choices", str(choices)) == 2
    assert "needs an arena corpus" in capsys.readouterr().err
    assert not (tmp_path / "report").exists()


def test_sft_export_of_an_arena_corpus_trains_on_the_replies_it_went_on_with(corpus, tmp_path):
    import polars as pl

    out = tmp_path / "sft.jsonl"
    assert main(["export", "--format", "sft", "--input", str(corpus), "--out", str(out)]) == 0
    samples = [json.loads(line) for line in out.read_text().splitlines()]
    rows = pl.read_parquet(corpus / "data" / "*.parquet").to_dicts()
    chosen = {(r["session_id"], t["index"]): t["battle"]["continued_with"] for r in rows for t in r["turns"]
              if t["battle"]}
    texts = {(r["session_id"], t["index"]): {c["entrant"]: c["text"] for c in t["battle"]["candidates"]}
             for r in rows for t in r["turns"] if t["battle"]}
    assert len(samples) == len(chosen)
    for s in samples:
        key = (s["session_id"], s["turn_index"])
        assert s["messages"][-1] == {"role": "assistant", "content": texts[key][chosen[key]]}


def test_dataset_card_describes_the_arena(corpus):
    card = (corpus / "README.md").read_text()
    assert "tags:" in card and "- arena" in card
    assert "Algorithm 2" in card and "supervisor" in card
    for name in ("good", "mid", "bad"):
        assert f"`{name}`" in card
    assert "counselsim audit" in card and "--format preference" in card
