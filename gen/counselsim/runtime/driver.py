"""Driving one pipeline run: validate every input, place engines on the Ray cluster, run, finalize.

Nothing is written before the config and all inputs have been validated.
"""
from __future__ import annotations

import asyncio
import hashlib
import importlib
import logging
import math
import uuid
from pathlib import Path
from typing import Any, Callable

import ray

from counselsim.corpus import storage
from counselsim.cards.pool import load_pools
from counselsim.config import PipelineConfig
from counselsim.engines.pool import EnginePool, LocalEnginePool
from counselsim.errors import InputError, OutputError
from counselsim.corpus.finalize import finalize
from counselsim.simpsydial.job import SimPsyDialJob
from counselsim.logs import event
from counselsim.engines.models import cache_dir
from counselsim.runtime.runner import Job, run_items
from counselsim.runtime.staging import Staging

log = logging.getLogger(__name__)
DEFAULT_IN_FLIGHT = 64  # sessions per replica when neither the config nor the engine says (remote endpoints)
# Sessions per replica by default, per sequence the engine batches: the surplus waits in the engine's queue, so
# the batch stays full while sessions are between calls or starting (BENCHMARKS.md: mean running batch 48 vs 39
# of 64 with 1.5x vs 1x on the benchmark workload).
IN_FLIGHT_PER_BATCH = 1.5


def _simpsydial(cfg: PipelineConfig, pool: EnginePool | None, run_id: str) -> SimPsyDialJob:
    assert cfg.role_cards is not None
    cards = load_pools(cfg.role_cards.pools, cfg.role_cards.languages)
    return SimPsyDialJob(cfg, cards, pool, run_id)


# pipeline name -> job builder (cfg, pool, run_id) -> Job; a builder given pool=None only validates inputs.
JOB_BUILDERS: dict[str, str | Callable[..., Job]] = {
    "simpsydial": _simpsydial,
    "rpc": "counselsim.rpc.job:build_job",
}


def _builder(name: str) -> Callable[..., Job]:
    if name not in JOB_BUILDERS:
        commands = {"role_cards": "counselsim role-cards build", "wai": "counselsim audit --wai"}
        raise InputError(f"a '{name}' config is not run by `counselsim run`; use `{commands.get(name, '?')}`")
    builder = JOB_BUILDERS[name]
    if isinstance(builder, str):
        module, attr = builder.split(":")
        builder = getattr(importlib.import_module(module), attr)
    return builder


def staging_folder(output: str) -> Path:
    """Local outputs stage beside the corpus; remote ones stage in the local cache, since objects cannot be
    appended to."""
    if storage.is_remote(output):
        return cache_dir() / "staging" / hashlib.sha256(output.encode()).hexdigest()[:16]
    return storage.local_path(output) / "staging"


def init_ray(address: str | None) -> None:
    if ray.is_initialized():
        return
    ray.init(address=address, include_dashboard=False, configure_logging=False, log_to_driver=True)


def run_pipeline(cfg: PipelineConfig, address: str | None = None) -> dict[str, Any]:
    # Validate inputs before anything is created.
    check_output_place(cfg.run.output)
    job_builder = _builder(cfg.pipeline)
    validated = job_builder(cfg, None, "validate")
    staging = Staging(staging_folder(cfg.run.output), validated.schema, validated.model, cfg.run.rows_per_shard)
    previous = staging.read_run()
    if previous and previous["config_hash"] != cfg.generation_hash():
        raise OutputError(
            f"{cfg.run.output} holds a run made with another configuration (hash {previous['config_hash']}, "
            f"now {cfg.generation_hash()}); choose another output or delete it")
    run_id = previous["run_id"] if previous else uuid.uuid4().hex[:12]
    if not previous:
        staging.write_run({"run_id": run_id, "config_hash": cfg.generation_hash(), "pipeline": cfg.pipeline})
    return asyncio.run(_run(cfg, job_builder, staging, run_id, address))


def make_pool(cfg: PipelineConfig, address: str | None = None) -> EnginePool | LocalEnginePool:
    if cfg.run.executor == "local":
        return LocalEnginePool(cfg)
    init_ray(address)
    return EnginePool(cfg)


async def _run(cfg: PipelineConfig, job_builder, staging: Staging, run_id: str, address: str | None) -> dict[str, Any]:
    pool = make_pool(cfg, address)
    try:
        await pool.start()
        job = job_builder(cfg, pool, run_id)
        per_replica = cfg.run.max_in_flight or in_flight_for(pool.engine_batch())
        event(log, "run started", pipeline=cfg.pipeline, run_id=run_id, output=cfg.run.output, target=job.target,
              in_flight=per_replica * pool.size)
        stats = await run_items(job, staging, per_replica * pool.size, cfg.run.max_attempts_factor, cfg.run.progress)
        engine_stats = await pool.stats()
        extra = job.corpus_summary(staging.part_paths()) if hasattr(job, "corpus_summary") else None
    finally:
        await pool.close()
    manifest = finalize(job, cfg, staging, stats, run_id, engine_stats, extra)
    event(log, "run finished", rows=manifest["counts"]["rows"], dropped=stats.dropped, drops=stats.drops,
          wall_s=round(stats.wall_s, 1))
    if job.target is not None and manifest["counts"]["written"] < job.target:
        log.warning("run delivered fewer records than requested", extra={"fields": {
            "requested": job.target, "written": manifest["counts"]["written"], "drops": stats.drops}})
    return manifest


def in_flight_for(engine_batch: int | None) -> int:
    """The default sessions in flight per replica for an engine that batches `engine_batch` sequences."""
    return math.ceil(engine_batch * IN_FLIGHT_PER_BATCH) if engine_batch else DEFAULT_IN_FLIGHT


def check_output_place(output: str) -> None:
    if not storage.is_remote(output) and storage.local_path(output).is_file():
        raise InputError(f"{output}: the output must be a folder, not a file")
