"""The end of every run: deduplicate the staged records and hand them to the corpus writer with the run's
manifest sections (config, counts, drops, dedup report, throughput, engines, the job's summary). Rerunning it
gives the same corpus; a kill in the middle is repaired by the next run (see `corpus.writer`)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from counselsim.config import PipelineConfig
from counselsim.corpus.writer import write_corpus
from counselsim.dedup import plan_dedup
from counselsim.runtime.job import Job
from counselsim.runtime.runner import RunStats
from counselsim.runtime.staging import Staging


def finalize(job: Job, cfg: PipelineConfig, staging: Staging, stats: RunStats, run_id: str,
             engine_stats: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    parts = [str(p) for p in staging.part_paths()]
    dedup_cfg = cfg.stages.dedup
    dedup = plan_dedup(parts, dedup_cfg) if dedup_cfg.enabled and parts else None
    removed = dedup.removed if dedup else {}
    removed_by: dict[str, int] = {}
    for reason in removed.values():
        removed_by[reason] = removed_by.get(reason, 0) + 1
    wall = max(stats.wall_s, 1e-9)
    fields = {
        "command": "run",
        "pipeline": cfg.pipeline,
        "run_id": run_id,
        "config_hash": cfg.generation_hash(),
        "config": cfg.model_dump(mode="json"),
        "counts": {
            "requested": job.target,
            "attempted": stats.attempted,
            "written": stats.written,
            "dropped": stats.dropped,
            "removed": removed_by,
        },
        "drops": dict(sorted(staging.drop_reasons.items())),
        "drop_examples": staging.drop_examples,
        "dedup": dedup.report if dedup else None,
        "throughput": {
            "wall_s": round(stats.wall_s, 2),
            "new_records": stats.written - stats.resumed,
            "records_per_hour": round((stats.written - stats.resumed) / wall * 3600, 1),
            **{f"{name}_per_s": round(total / wall, 2) for name, total in sorted(stats.counters.items())},
            "first_record_s": stats.first_record_s,
            "max_in_flight": stats.max_in_flight,
        },
        "engines": engine_stats or {},
        **(extra or {}),
    }
    tables = _kept(parts, job.key_column, set(removed))
    return write_corpus(cfg.run.output, job.schema, tables, fields, cfg.run.rows_per_shard, job.order_column)


def _kept(parts: list[str], key_column: str, removed: set[str]) -> Iterator[pa.Table]:
    """Each staged part without the records dedup removed."""
    value_set = pa.array(sorted(removed), type=pa.string())
    for part in parts:
        table = pq.read_table(part)
        yield table.filter(pc.invert(pc.is_in(table[key_column], value_set=value_set))) if removed else table
