"""Run counts, drop reasons and the dedup report, from a manifest."""
from counselsim.audit import run_counts

MANIFEST = {
    "counts": {"attempted": 10, "written": 7, "dropped": 3},
    "drops": {"too_short": 1, "refinement_exhausted": 2},
    "dedup": {"removed": 2, "params": {"threshold": 0.8, "bands": [16, 8]}, "note": "x" * 400},
}


def test_counts():
    assert run_counts.counts(MANIFEST).to_dicts() == [{"attempted": 10, "written": 7, "dropped": 3, "yield": 0.7}]
    assert run_counts.counts({"counts": {"attempted": 0, "written": 0, "dropped": 0}})["yield"].to_list() == [None]


def test_drops():
    assert run_counts.drops(MANIFEST).to_dicts() == [
        {"reason": "refinement_exhausted", "n": 2, "share_of_dropped": 2 / 3, "share_of_attempted": 0.2},
        {"reason": "too_short", "n": 1, "share_of_dropped": 1 / 3, "share_of_attempted": 0.1},
    ]
    assert run_counts.drops({}).is_empty()


def test_dedup():
    rows = dict(run_counts.dedup(MANIFEST).iter_rows())
    assert rows["removed"] == "2" and rows["params.threshold"] == "0.8" and rows["params.bands"] == "[16, 8]"
    assert len(rows["note"]) == 300 and rows["note"].endswith("…")
    assert run_counts.dedup({"counts": {}}) is None
