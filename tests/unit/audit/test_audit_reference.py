"""`audit --reference`: two corpora side by side, each metric with Welch's t-test and Cohen's d, in Markdown, HTML
and metrics.json."""
import json
import math

import pytest
from audit_builders import card, session, write_corpus
from counselsim.audit import metrics
from counselsim.cli import main
import polars as pl
from scipy import stats


def test_two_samples_is_welch_with_cohens_d():
    row = metrics.two_samples(pl.Series([1.0, 2.0, 3.0]), pl.Series([2.0, 4.0, 6.0, None]))
    # corpus mean 2, var 1; reference mean 4, var 4. pooled s = sqrt((2*1 + 2*4) / 4) = sqrt(2.5).
    assert (row["corpus_n"], row["corpus_mean"], row["reference_n"], row["reference_mean"]) == (3, 2.0, 3, 4.0)
    expected = stats.ttest_ind([1, 2, 3], [2, 4, 6], equal_var=False)
    assert row["t"] == pytest.approx(expected.statistic) and row["p"] == pytest.approx(expected.pvalue)
    assert row["d"] == pytest.approx(-2 / math.sqrt(2.5))
    assert metrics.two_samples(pl.Series([1.0]), pl.Series([1.0, 2.0]))["t"] is None


def corpus(path, lengths):
    sessions = [session(f"s{i}", [("client", "Hello"), ("counselor", "Hi there"), ("client", "word " * n),
                                  ("counselor", "Tell me more please")],
                        role_card=card(f"c{i}", complaint=f"I worry about my exams number {i} a lot."))
                for i, n in enumerate(lengths)]
    write_corpus(str(path), sessions, manifest={"record_type": "session"})


def test_audit_puts_the_reference_beside_the_corpus(tmp_path):
    corpus(tmp_path / "a", [3, 4, 5, 6])
    corpus(tmp_path / "b", [10, 12, 14])
    out = tmp_path / "report"
    assert main(["audit", "--input", str(tmp_path / "a"), "--reference", str(tmp_path / "b"), "--out", str(out),
                 "--embedding-model", "none"]) == 0
    section = json.loads((out / "metrics.json").read_text())["Comparison with the reference corpus"]
    side = {row["statistic"]: row for row in section["SimPsyDial Table 1, corpus and reference"]}
    assert side["# Conversations"]["en corpus"] == "4" and side["# Conversations"]["en reference"] == "3"
    tests = {row["metric"]: row for row in section["Corpus against reference"]}
    client = tests["Client utterance length"]
    # client lengths: corpus 1 (Hello) x4 and 3..6; reference 1 x3 and 10, 12, 14
    a, b = [1, 1, 1, 1, 3, 4, 5, 6], [1, 1, 1, 10, 12, 14]
    assert client["corpus_n"] == 8 and client["reference_n"] == 6
    assert client["p"] == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert client["d"] < 0
    assert "Vocabulary overlap rate (true mapping)" in tests
    md = (out / "report.md").read_text()
    assert "## Comparison with the reference corpus" in md and "reference_client_en.png" in md
    assert (out / "figures" / "reference_turn_en.png").exists()
    assert "Comparison with the reference corpus" in (out / "report.html").read_text()


def test_with_a_judge_both_corpora_are_judged_and_wai_stands_in_the_comparison(repo, tmp_path, monkeypatch):
    """`audit --reference --wai`: the reference is judged too (its calls staged apart), so the comparison holds a
    row per WAI factor."""
    from counselsim.engines import scripted

    monkeypatch.setattr(scripted, "default_script", lambda messages, sampling: "Score 6 of 7")
    corpus(tmp_path / "a", [3, 4])
    corpus(tmp_path / "b", [10, 12])
    out = tmp_path / "report"
    judge = ["--wai", str(repo / "pipelines" / "wai.yaml"), "--set", "models.default.backend=scripted",
             "--set", "models.default.path=scripted", "--set", "run.executor=local", "--set", "stages.wai.rounds=1"]
    assert main(["audit", "--input", str(tmp_path / "a"), "--reference", str(tmp_path / "b"), "--out", str(out),
                 "--embedding-model", "none", *judge]) == 0
    section = json.loads((out / "metrics.json").read_text())["Comparison with the reference corpus"]
    tests = {row["metric"]: row for row in section["Corpus against reference"]}
    wai_rows = [m for m in tests if m.startswith("WAI ")]
    assert wai_rows and all(tests[m]["corpus_n"] == 2 and tests[m]["reference_n"] == 2 for m in wai_rows)
    assert (tmp_path / "report.staging").is_dir() and (tmp_path / "report.reference.staging").is_dir()
