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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import ray

from counselsim.config import PipelineConfig
from counselsim.corpus import storage
from counselsim.corpus.finalize import finalize
from counselsim.corpus.ownership import check_not_shrinking, claim_output, output_lock
from counselsim.engines.models import cache_dir
from counselsim.engines.pool import LocalEnginePool
from counselsim.errors import InputError
from counselsim.identity import Identity, check_resume
from counselsim.logs import event
from counselsim.runtime.dispatch import group_count, run_on_workers
from counselsim.runtime.job import Job
from counselsim.runtime.runner import RunStats, run_items
from counselsim.runtime.staging import Staging

log = logging.getLogger(__name__)
DEFAULT_IN_FLIGHT = 64  # sessions per replica when neither the config nor the engine says (remote endpoints)
# Sessions per replica by default, per sequence the engine batches: the surplus waits in the engine's queue, so
# the batch stays full while sessions are between calls or starting (BENCHMARKS.md: mean running batch 48 vs 39
# of 64 with 1.5x vs 1x on the benchmark workload).
IN_FLIGHT_PER_BATCH = 1.5


# pipeline name -> "module:callable" building its job from the config, without engines.
JOB_BUILDERS: dict[str, str] = {
    "simpsydial": "counselsim.simpsydial.job:SimPsyDialJob",
    "rpc": "counselsim.rpc.job:build_job",
    "arena": "counselsim.arena.job:ArenaJob",
    "feedback": "counselsim.feedback.job:build_job",
}


def _builder(name: str) -> Callable[[PipelineConfig], Job]:
    if name not in JOB_BUILDERS:
        commands = {"role_cards": "counselsim role-cards build", "wai": "counselsim audit --wai"}
        raise InputError(f"a '{name}' config is not run by `counselsim run`; use `{commands.get(name, '?')}`")
    module, attr = JOB_BUILDERS[name].split(":")
    return getattr(importlib.import_module(module), attr)


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
    claim_output(cfg.run.output, cfg.pipeline, cfg.run.inputs,
                 staging_folder(cfg.run.output))
    job = _builder(cfg.pipeline)(cfg)
    job.validate()
    if cfg.run.executor == "ray":
        group_count(cfg)  # the models must agree on their replicas
    check_not_shrinking(cfg.run.output, job.target)
    staging = Staging.for_job(staging_folder(cfg.run.output), job, cfg.run.rows_per_shard)
    with output_lock(staging.folder):
        run_id = open_run(staging, cfg.resume_identity(), cfg.run.output, cfg.pipeline)
        return asyncio.run(_run(cfg, job, staging, run_id, address))


def open_run(staging: Staging, identity: Identity, output: str, pipeline: str) -> str:
    """The run id of the run staged in `staging`, recorded there on first use; a staged run made with another
    identity is refused (OutputError naming the differing fields)."""
    previous = staging.read_run()
    check_resume(previous, identity, output)
    if previous:
        return previous["run_id"]
    run_id = uuid.uuid4().hex[:12]
    staging.write_run({"run_id": run_id, "config_hash": identity.digest, "identity": identity.fields,
                       "pipeline": pipeline})
    return run_id


def make_pool(cfg: PipelineConfig) -> LocalEnginePool:
    """The local executor's engines, in this process."""
    return LocalEnginePool(cfg)


@dataclass
class JobRun:
    stats: RunStats
    engine_stats: dict[str, Any]
    summary: dict[str, Any] | None


async def run_job(cfg: PipelineConfig, job: Job, staging: Staging, run_id: str, address: str | None,
                  in_flight: int | None = None) -> JobRun:
    """Start the engines, run `job` (validated) into `staging`, close the engines. `in_flight`: items in flight in
    all; default `run.max_in_flight` (or the engine's batch rule) per replica. The Ray executor runs the items on
    session workers beside their engines (runtime/dispatch.py); the local one in this process."""
    if cfg.run.executor == "ray":
        init_ray(address)
        event(log, "run started", pipeline=cfg.pipeline, run_id=run_id, output=cfg.run.output, target=job.target)
        stats, engine_stats = await run_on_workers(cfg, job, staging, run_id, in_flight, unit=job.record_type)
        return JobRun(stats, engine_stats, job.summary(staging.part_paths()))
    pool = make_pool(cfg)
    try:
        await pool.start()
        job.bind(pool, run_id)
        in_flight = in_flight or cfg.run.max_in_flight or in_flight_for(pool.engine_batch())
        event(log, "run started", pipeline=cfg.pipeline, run_id=run_id, output=cfg.run.output, target=job.target,
              in_flight=in_flight)
        stats = await run_items(job, staging, in_flight, cfg.run.max_attempts_factor, cfg.run.progress,
                                unit=job.record_type)
        return JobRun(stats, await pool.stats(), job.summary(staging.part_paths()))
    finally:
        await pool.close()


async def _run(cfg: PipelineConfig, job: Job, staging: Staging, run_id: str, address: str | None) -> dict[str, Any]:
    done = await run_job(cfg, job, staging, run_id, address)
    stats = done.stats
    manifest = finalize(job, cfg, staging, stats, run_id, done.engine_stats, done.summary)
    event(log, "run finished", rows=manifest["counts"]["rows"], dropped=stats.dropped, drops=stats.drops,
          wall_s=round(stats.wall_s, 1))
    if job.target is not None and manifest["counts"]["written"] < job.target:
        log.warning("run delivered fewer records than requested", extra={"fields": {
            "requested": job.target, "written": manifest["counts"]["written"], "drops": stats.drops}})
    return manifest


def in_flight_for(engine_batch: int | None) -> int:
    """The default sessions in flight per replica for an engine that batches `engine_batch` sequences."""
    return math.ceil(engine_batch * IN_FLIGHT_PER_BATCH) if engine_batch else DEFAULT_IN_FLIGHT

