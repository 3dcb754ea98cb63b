"""The Ray executor: session groups on the cluster, fed work items by pull, replaced when lost or stalled.

A session group is one replica: a session worker (runtime/workers.py) and the engines its sessions call. Where
the roles share one model, the engine lives inside the worker, which reserves the model's resources. Where they
name several, each model's engine is an actor in a STRICT_PACK placement group with one bundle per model, and the
worker (no resources of its own) sits in the first bundle: a turn never crosses a node boundary. Groups are spread
over the nodes, so one lost node takes as few as it can.

The driver runs one small loop per group: hand out as many items as the group has free places (its capacity:
`run.max_in_flight`, or 1.5x its engine's batch), trade them for finished outcomes, stage those (and merge the
job's worker state into the driver's copy, which writes the summary), repeat. A slow
group simply asks less often. A group whose worker dies, whose exchange does not come back in time, or whose
engines return nothing for `run.stall_timeout_s` while calls are pending is replaced, and its items are handed
back to the ledger with their slots and seeds, to run on whichever group asks next.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import ray
from ray.exceptions import RayActorError, RayError
from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from counselsim.config import ModelConfig, PipelineConfig
from counselsim.engines.base import EngineError
from counselsim.engines.pool import EngineActor, engine_models
from counselsim.errors import InputError
from counselsim.logs import event
from counselsim.runtime.job import Job, WorkItem
from counselsim.runtime.runner import Ledger, RunStats
from counselsim.runtime.workers import Capabilities, SessionWorker

log = logging.getLogger(__name__)
HEARTBEAT_S = 1.0  # an exchange returns at least this often, carrying the stall watch
IDLE_POLL_S = 0.05  # a group with nothing to do looks again this often (items may be handed back)
MAX_REPLACEMENTS = 5  # consecutive failed starts of one group before the run gives up


def group_count(cfg: PipelineConfig) -> int:
    """Session groups: every model serves one engine per group, so the models must agree on `replicas`."""
    replicas = {name: cfg.models[name].replicas for name in engine_models(cfg)}
    if len(set(replicas.values())) > 1:
        raise InputError(f"models {replicas}: each session group holds one engine of every model its roles name, "
                         "so give these models the same `replicas`")
    return next(iter(replicas.values()))


def _resources(model: ModelConfig) -> dict[str, Any]:
    return {"num_cpus": model.num_cpus, "num_gpus": model.num_gpus, "resources": model.ray_resources or None,
            "runtime_env": {"env_vars": model.env} if model.env else None}


class SessionGroup:
    """One replica's worker and engines, placed together; `replace()` starts a fresh worker (and restarts the
    engine actors) after a loss or a stall."""

    def __init__(self, cfg: PipelineConfig, job: Any, run_id: str, replica: int) -> None:
        self.cfg = cfg
        self.job = job  # an ObjectRef of the pickled job: shipped once, to every worker
        self.run_id = run_id
        self.replica = replica
        self.incarnation = 0
        self.models = engine_models(cfg)
        self.pg = None
        self.engines: dict[str, Any] | None = None
        if len(self.models) > 1:
            bundles = [{k: v for k, v in {"CPU": m.num_cpus, "GPU": m.num_gpus, **m.ray_resources}.items() if v}
                       for m in (cfg.models[name] for name in self.models)]
            self.pg = placement_group(bundles, strategy="STRICT_PACK")
            self.engines = {
                name: EngineActor.options(
                    **_resources(cfg.models[name]), max_restarts=-1, max_concurrency=cfg.models[name].max_concurrency,
                    scheduling_strategy=PlacementGroupSchedulingStrategy(self.pg, placement_group_bundle_index=i),
                ).remote(cfg.models[name], cfg.faults, replica)
                for i, name in enumerate(self.models)}
        self.worker = self._new_worker()
        self.info: dict[str, Any] = {}
        self.settled = 0  # items this group finished or dropped, over all its workers

    def _new_worker(self) -> Any:
        if self.pg is not None:
            options = {"num_cpus": 0,
                       "scheduling_strategy": PlacementGroupSchedulingStrategy(self.pg, placement_group_bundle_index=0)}
        else:
            # Replicas go to different nodes where resources allow: one lost node then takes one replica.
            options = {**_resources(self.cfg.models[self.models[0]]), "scheduling_strategy": "SPREAD"}
        return SessionWorker.options(**options, max_restarts=0).remote(
            self.cfg, self.job, self.run_id, self.replica, self.incarnation, self.engines)

    async def start(self) -> dict[str, Any]:
        """Wait for the worker and its engines to be up; where it runs and its engine batch."""
        self.info = await self.worker.start.remote()
        return self.info

    async def replace(self) -> None:
        for attempt in range(1, MAX_REPLACEMENTS + 1):
            ray.kill(self.worker, no_restart=True)
            for actor in (self.engines or {}).values():
                ray.kill(actor, no_restart=False)  # Ray restarts it in its bundle
            self.incarnation += 1
            self.worker = self._new_worker()
            try:
                await self.start()
                return
            except RayActorError as e:
                log.warning("session group failed to start", extra={"fields": {
                    "replica": self.replica, "attempt": attempt, "error": str(e)[:300]}})
        raise EngineError(f"session group {self.replica} failed to start {MAX_REPLACEMENTS} times")

    async def stats(self) -> dict[str, list[dict[str, Any]]]:
        stats = await self.worker.stats.remote()
        # An engine actor reports its own node; an engine inside the worker runs on the worker's.
        return {model: [{"node_id": self.info.get("node_id"), "items": self.settled, "replaced": self.incarnation, **s}
                        for s in entries] for model, entries in stats.items()}

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.worker.close.remote(), 30)
        except Exception:  # a worker that will not close cleanly is killed below anyway
            pass
        ray.kill(self.worker)
        for actor in (self.engines or {}).values():
            ray.kill(actor)
        if self.pg is not None:
            remove_placement_group(self.pg)


async def serve(group: SessionGroup, ledger: Ledger, capacity: int, stall_timeout_s: float) -> None:
    """Feed one group until the ledger has nothing more to hand out and nothing is in flight anywhere."""
    held: dict[str, WorkItem] = {}
    while True:
        batch = ledger.take(capacity - len(held))
        if not batch and not held:
            if ledger.done:
                return
            await asyncio.sleep(IDLE_POLL_S)
            continue
        held.update((item.key, item) for item in batch)
        try:
            report = await asyncio.wait_for(group.worker.exchange.remote(batch, capacity, HEARTBEAT_S),
                                            HEARTBEAT_S + stall_timeout_s)
        except (RayError, asyncio.TimeoutError) as e:
            lost = f"{type(e).__name__}: {str(e)[:200]}"
        else:
            if report.job_state is not None:
                ledger.job.merge_worker_state(report.job_state)
            for o in report.outcomes:
                held.pop(o.key)
            ledger.settle(report.outcomes)
            group.settled += len(report.outcomes)
            if not (report.pending_calls and report.silent_s > stall_timeout_s):
                continue
            lost = f"stalled: {report.pending_calls} calls pending, no output for {report.silent_s:.1f}s"
        event(log, "session group replaced", replica=group.replica, reason=lost, handed_back=len(held))
        ledger.hand_back(list(held.values()))
        held.clear()
        await group.replace()


async def run_on_workers(cfg: PipelineConfig, job: Job, staging, run_id: str, in_flight: int | None,
                         unit: str) -> tuple[RunStats, dict[str, Any]]:
    """Run `job` (validated, unbound) on session groups; `in_flight`: items in flight in all (default: per group,
    `run.max_in_flight` or 1.5x its engine's batch). Returns the run's stats and the engines' stats."""
    from counselsim.runtime.driver import in_flight_for

    count = group_count(cfg)
    job_ref = ray.put(job)
    groups = [SessionGroup(cfg, job_ref, run_id, replica) for replica in range(count)]
    try:
        infos = await asyncio.gather(*(g.start() for g in groups))
        capacities = [-(-in_flight // count) if in_flight else cfg.run.max_in_flight or in_flight_for(i["engine_batch"])
                      for i in infos]
        event(log, "session groups ready", groups=count, nodes=sorted({i["node_id"][:8] for i in infos}),
              in_flight=sum(capacities))
        job.bind(Capabilities({role: all(i["structured"][role] for i in infos) for role in cfg.roles}), run_id)
        ledger = Ledger(job, staging, sum(capacities), cfg.run.max_attempts_factor, cfg.run.progress, unit)
        try:
            await asyncio.gather(*(serve(g, ledger, c, cfg.run.stall_timeout_s) for g, c in zip(groups, capacities)))
        finally:
            ledger.bar.close()
        stats = ledger.close()
        engines: dict[str, list[dict[str, Any]]] = {}
        for group_stats in await asyncio.gather(*(g.stats() for g in groups)):
            for model, entries in group_stats.items():
                engines.setdefault(model, []).extend(entries)
        return stats, engines
    finally:
        await asyncio.gather(*(g.close() for g in groups))
