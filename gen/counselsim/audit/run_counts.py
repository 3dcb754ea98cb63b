"""What the run that wrote a corpus counted, from its manifest: sessions attempted, written and dropped, the drop
reasons, and the dedup stage's report."""
from __future__ import annotations

import json
from typing import Any

import polars as pl


def counts(manifest: dict[str, Any]) -> pl.DataFrame:
    """One row: attempted, written, dropped, and the yield written / attempted."""
    c = manifest.get("counts", {})
    frame = pl.DataFrame([{key: c.get(key) for key in ("attempted", "written", "dropped")}],
                         schema={"attempted": pl.Int64, "written": pl.Int64, "dropped": pl.Int64})
    return frame.with_columns(
        pl.when(pl.col("attempted") > 0).then(pl.col("written") / pl.col("attempted")).alias("yield")
    )


def drops(manifest: dict[str, Any]) -> pl.DataFrame:
    """reason, n, share of dropped sessions, share of attempted sessions."""
    by_reason = manifest.get("drops") or {}
    attempted = manifest.get("counts", {}).get("attempted")
    frame = pl.DataFrame(
        {"reason": list(by_reason), "n": list(by_reason.values())}, schema={"reason": pl.String, "n": pl.Int64}
    )
    return frame.with_columns(
        share_of_dropped=pl.col("n") / pl.col("n").sum(),
        share_of_attempted=pl.col("n") / attempted if attempted else pl.lit(None, pl.Float64),
    ).sort("n", "reason", descending=[True, False])


def flatten(report: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested keys joined by dots; strings as they are, other values as JSON."""
    rows = []
    for key, value in report.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(flatten(value, f"{name}."))
        elif isinstance(value, str):
            rows.append((name, value))
        else:
            rows.append((name, json.dumps(value, ensure_ascii=False, default=str)))
    return rows


def dedup(manifest: dict[str, Any], max_chars: int = 300) -> pl.DataFrame | None:
    """The dedup stage's report as key/value rows, long values cut to `max_chars` (the manifest keeps them whole),
    or None when the run had no dedup stage."""
    report = manifest.get("dedup")
    if not report:
        return None
    rows = [(key, value if len(value) <= max_chars else value[: max_chars - 1] + "…") for key, value in flatten(report)]
    return pl.DataFrame(rows, schema={"key": pl.String, "value": pl.String}, orient="row")
