"""`counselsim role-cards stats` and `split` over pools imported from the shared Interactive Agents sample."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from counselsim.cards.pool import load_pool, write_pool
from counselsim.cards.stats import age_band
from counselsim.cli import main
from helpers import SAMPLE


@pytest.fixture
def sample_pool(tmp_path, capsys) -> Path:
    out = tmp_path / "sample.jsonl"
    assert main(["role-cards", "import", "--format", "interactive-agents", str(SAMPLE), "--out", str(out)]) == 0
    capsys.readouterr()
    return out


def _stats(capsys, *args: str) -> dict:
    assert main(["role-cards", "stats", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_stats_count_the_sample_pool(sample_pool, capsys):
    assert _stats(capsys, str(sample_pool)) == {
        "cards": 5,
        "language": {"zh": 5},
        "gender": {"女性": 4, "女": 1},
        "age_band": {"<18": 0, "18-24": 1, "25-34": 4, "35-44": 0, "45-59": 0, "60+": 0},
        "occupation": {"公司职员": 1, "幼儿园教师": 1, "办公室文员": 1, "学生": 1, "公务员（家在三、四线小城市，由父母安排）": 1},
        "resistance": {"low": 1, "moderately_low": 1, "moderate": 3, "moderately_high": 0, "high": 0},
        "topic": {"(none)": 5},
        "duplicate_complaints": [],
        "near_duplicate_complaints": [],
    }


def test_stats_flag_duplicate_and_near_duplicate_complaints(sample_pool, tmp_path, capsys):
    cards = load_pool(sample_pool)
    one_word_changed = cards[1].chief_complaint.replace("幼儿园", "小学", 1)
    spaced = cards[2].chief_complaint.replace("？ ", "？\n  ")
    extra = [
        cards[0].model_copy(update={"id": "copy-of-0", "topic": "family"}),
        cards[1].model_copy(update={"id": "near-1", "chief_complaint": one_word_changed}),
        cards[2].model_copy(update={"id": "spaced-2", "chief_complaint": spaced}),
    ]
    write_pool(cards + extra, tmp_path / "more.jsonl")
    stats = _stats(capsys, str(tmp_path / "more.jsonl"))
    assert stats["duplicate_complaints"] == [["ia-0", "copy-of-0"], ["ia-2", "spaced-2"]]
    # The exact duplicates are near-duplicates too, but are listed once, above.
    assert stats["near_duplicate_complaints"] == [["ia-1", "near-1"]]
    assert stats["topic"] == {"(none)": 7, "family": 1}
    # A threshold above the pair's similarity separates it.
    strict = _stats(capsys, str(tmp_path / "more.jsonl"), "--near-duplicate-threshold", "1.0")
    assert strict["near_duplicate_complaints"] == []


def test_stats_read_several_pools(sample_pool, tmp_path, capsys):
    other = [c.model_copy(update={"id": f"x-{c.id}", "language": "en", "chief_complaint": f"Complaint number {i}"})
             for i, c in enumerate(load_pool(sample_pool))]
    write_pool(other, tmp_path / "other.jsonl")
    stats = _stats(capsys, str(sample_pool), str(tmp_path / "other.jsonl"))
    assert stats["cards"] == 10 and stats["language"] == {"en": 5, "zh": 5}


def test_stats_table(sample_pool, capsys):
    assert main(["role-cards", "stats", str(sample_pool)]) == 0
    table = capsys.readouterr().out
    assert table.startswith("5 role cards\n")
    assert "  女性" in table and "      4   80.0%" in table
    assert "resistance to counseling" in table and "moderately_high" in table
    assert "duplicate chief complaints: none" in table


@pytest.mark.parametrize(("age", "band"), [(12, "<18"), (17, "<18"), (18, "18-24"), (24, "18-24"), (25, "25-34"),
                                           (44, "35-44"), (45, "45-59"), (59, "45-59"), (60, "60+"), (100, "60+")])
def test_age_bands(age, band):
    assert age_band(age) == band


@pytest.fixture
def pool_of_40(sample_pool, tmp_path) -> Path:
    cards = load_pool(sample_pool)
    path = tmp_path / "forty.jsonl"
    write_pool([cards[i % 5].model_copy(update={"id": f"card-{i:02d}"}) for i in range(40)], path)
    return path


def _split(pool: Path, out: Path, *args: str) -> tuple[list[str], list[str]]:
    train, test = out / "train.jsonl", out / "test.jsonl"
    assert main(["role-cards", "split", str(pool), "--train", str(train), "--test", str(test), "--overwrite",
                 *args]) == 0
    return [c.id for c in load_pool(train)], [c.id for c in load_pool(test)]


def test_split_is_a_partition_in_pool_order(pool_of_40, tmp_path):
    train, test = _split(pool_of_40, tmp_path, "--test-size", "10", "--seed", "3")
    assert len(train) == 30 and len(test) == 10
    assert sorted(train + test) == [f"card-{i:02d}" for i in range(40)]
    assert train == sorted(train) and test == sorted(test)


def test_split_depends_only_on_seed_and_ids(pool_of_40, tmp_path):
    first = _split(pool_of_40, tmp_path, "--test-size", "10", "--seed", "3")
    assert _split(pool_of_40, tmp_path, "--test-size", "10", "--seed", "3") == first
    reordered = tmp_path / "reordered.jsonl"
    write_pool(reversed(load_pool(pool_of_40)), reordered)
    train, test = _split(reordered, tmp_path, "--test-size", "10", "--seed", "3")
    assert (sorted(train), sorted(test)) == first
    assert _split(pool_of_40, tmp_path, "--test-size", "10", "--seed", "4")[1] != first[1]


def test_split_by_fraction(pool_of_40, tmp_path):
    assert len(_split(pool_of_40, tmp_path, "--test-size", "0.25")[1]) == 10
    # The default keeps 100 held-out cards, as the paper does; this pool is too small for it.
    assert main(["role-cards", "split", str(pool_of_40), "--train", str(tmp_path / "a.jsonl"),
                 "--test", str(tmp_path / "b.jsonl")]) == 2


@pytest.mark.parametrize("size", ["40", "0.999"])
def test_split_refuses_to_leave_a_side_empty(pool_of_40, tmp_path, capsys, size):
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    assert main(["role-cards", "split", str(pool_of_40), "--train", str(train), "--test", str(test),
                 "--test-size", size]) == 2
    assert "leaves no card on one side" in capsys.readouterr().err
    assert not train.exists() and not test.exists()


@pytest.mark.parametrize("size", ["0", "-3", "1.5", "ten"])
def test_split_rejects_a_bad_test_size(pool_of_40, tmp_path, size):
    with pytest.raises(SystemExit) as exit_:
        main(["role-cards", "split", str(pool_of_40), "--train", str(tmp_path / "a"), "--test", str(tmp_path / "b"),
              "--test-size", size])
    assert exit_.value.code == 2


def test_split_refuses_one_file_for_both_sides(pool_of_40, tmp_path):
    same = str(tmp_path / "same.jsonl")
    assert main(["role-cards", "split", str(pool_of_40), "--train", same, "--test", same, "--test-size", "5"]) == 2
