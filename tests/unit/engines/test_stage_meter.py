"""StageMeter drain and merge: what session workers send the driver adds up to what one process would count."""
from __future__ import annotations

import time

from counselsim.engines.meter import StageMeter


def test_drained_parts_merge_into_the_totals_and_a_call_in_flight_spans_the_drain():
    worker, driver = StageMeter(), StageMeter()
    with worker.call("label") as stats:
        stats.completion_tokens += 5
    worker.count("label", 2)
    worker.outcome("label", "unparseable")
    with worker.call("label") as stats:  # in flight while the worker drains
        time.sleep(0.02)
        driver.merge(worker.drain())
        time.sleep(0.02)
        stats.completion_tokens += 3
    worker.outcome("label", "unparseable")
    driver.merge(worker.drain())

    label = driver.summary()["label"]
    assert (label["calls"], label["items"], label["completion_tokens"]) == (2, 2, 8)
    assert label["outcomes"] == {"unparseable": 2}
    assert label["busy_s"] >= 0.04  # both halves of the call that spanned the drain
    assert worker.drain()["label"]["calls"] == 0  # counting starts from zero after a drain
