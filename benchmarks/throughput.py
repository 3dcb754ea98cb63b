"""Pipeline throughput against the raw engine, in one run on one machine and model.

1. The session pipeline runs through Ray on vLLM (the shipped config, sized by the flags): one session worker
   per replica with its vLLM engine inside (runtime/dispatch.py), the driver only handing out work items and
   staging records. Output tokens/s, sessions/hour, mean running batch, prefix-cache hit rate, time to first
   session.
2. The raw engine replays the same workload: every call the pipeline made (same prompts, same sampling, same
   output lengths, forced with min_tokens and ignore_eos), with the same engine settings, twice:
   a. shaped as sessions (vLLM's AsyncLLM, each session's calls in order, as many sessions in flight as the
      pipeline had): what the pipeline adds on top of the engine is the gap to this one
      (`ratio_pipeline_to_raw_sessions`);
   b. all at once (`vllm.LLM.generate`): the engine's ceiling on these calls, with no order between them and so
      no tail at the end of a run (`ratio_pipeline_to_raw`; it grows towards 1 with the run's length).
3. With --replicas N, the pipeline again with N replicas, for the scaling ratio.

    python benchmarks/throughput.py [--sessions 48 --max-num-seqs 16 --stall-timeout-s 10] [--replicas 2]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "pipelines" / "simpsydial.yaml"


def overrides(args: argparse.Namespace) -> list[str]:
    return [f"run.sessions={args.sessions}", "run.progress=false", f"session.max_turn_pairs={args.max_turn_pairs}",
            "session.min_turn_pairs=1", f"roles.client.max_tokens={args.max_tokens}",
            f"roles.counselor.max_tokens={args.max_tokens}", "stages.dedup.enabled=false",
            # Replies end at a newline, as in `make run`: a reply cut at max_tokens is regenerated, never kept.
            *([f"roles.{role}.stop=" + json.dumps(["\n"]) for role in ("client", "counselor")] if args.stop_newline else []),
            *([f"run.max_in_flight={args.max_in_flight}"] if args.max_in_flight else []),
            *([f"run.stall_timeout_s={args.stall_timeout_s}"] if args.stall_timeout_s else []),
            *([f"models.default.options={json.dumps({'max_num_seqs': args.max_num_seqs})}"] if args.max_num_seqs else [])]


def run_pipeline(out: Path, args: argparse.Namespace, replicas: int) -> dict:
    import ray

    from counselsim.config import load_config
    from counselsim.runtime.driver import run_pipeline as run

    cfg = load_config(CONFIG, [*overrides(args), f"run.output={out}", f"models.default.replicas={replicas}",
                               "run.executor=ray"])
    manifest = run(cfg)
    ray.shutdown()
    return manifest


Call = tuple[str, int, str, list[dict], int]  # session, turn index, speaker, messages, completion tokens


def workload(corpus: Path, max_turn_pairs: int) -> list[Call]:
    """Every call the pipeline made, rebuilt from the corpus in slot and turn order; a rejected attempt counts as
    a call of the same length as the accepted one."""
    import polars as pl

    from counselsim.simpsydial.agents import client_system_prompt, counselor_system_prompt, messages_for
    from counselsim.schemas import RoleCard

    calls = []
    for row in pl.read_parquet(corpus / "data" / "*.parquet").sort("slot").iter_rows(named=True):
        card = RoleCard.model_validate(row["role_card"])
        systems = {"client": client_system_prompt(card, max_turn_pairs),
                   "counselor": counselor_system_prompt(card.language)}
        history = []
        for turn in row["turns"]:
            if turn["index"] > 0 and turn["completion_tokens"] > 0:
                per_attempt = max(1, turn["completion_tokens"] // turn["attempts"])
                messages = messages_for(turn["speaker"], systems[turn["speaker"]], history)
                calls.extend((row["session_id"], turn["index"], turn["speaker"], messages, per_attempt)
                             for _ in range(turn["attempts"]))
            history.append((turn["speaker"], turn["text"]))
    return calls


def engine_and_params(calls: list[Call], args: argparse.Namespace, offline: bool):
    """The pipeline's engine settings, and per call its prompt ids and sampling (seeded, its output length
    forced with min_tokens and ignore_eos)."""
    from counselsim.config import load_config

    cfg = load_config(CONFIG, overrides(args))
    model = cfg.models["default"]
    os.environ.update(model.env)
    from counselsim.engines.models import resolve
    from counselsim.engines.vllm_engine import CPU_DEFAULTS, chat_token_ids
    from vllm import LLM, AsyncEngineArgs, SamplingParams
    from vllm.v1.engine.async_llm import AsyncLLM

    settings = {"model": resolve(model.path), "enable_prefix_caching": True, **CPU_DEFAULTS, **model.options}
    engine = LLM(**settings) if offline else AsyncLLM.from_engine_args(AsyncEngineArgs(**settings))
    tok = engine.get_tokenizer()
    prompts, params = [], []
    for i, (_, _, speaker, messages, n) in enumerate(calls):
        role = cfg.roles[speaker]
        prompts.append({"prompt_token_ids": chat_token_ids(tok, messages)})
        params.append(SamplingParams(temperature=role.temperature, top_p=role.top_p,
                                     repetition_penalty=role.repetition_penalty, seed=i,
                                     max_tokens=n, min_tokens=n, ignore_eos=True))
    return engine, prompts, params


def raw_engine(calls: list[Call], args: argparse.Namespace) -> dict:
    """The calls through offline `LLM.generate`, all at once, in turn order (a turn's history is in the prefix
    cache before the next turn is scheduled): the engine's own rate on these calls, with no order between them
    to wait for, so also no tail at the end of the run."""
    llm, prompts, params = engine_and_params(sorted(calls, key=lambda call: call[1]), args, offline=True)
    t0 = time.monotonic()
    outs = llm.generate(prompts, params, use_tqdm=False)
    wall = time.monotonic() - t0
    llm.llm_engine.engine_core.shutdown()  # free its cores and KV cache before the next run
    tokens = sum(len(o.outputs[0].token_ids) for o in outs)
    cached = sum(o.num_cached_tokens or 0 for o in outs)
    prompt_tokens = sum(len(p["prompt_token_ids"]) for p in prompts)
    return {"requests": len(calls), "completion_tokens": tokens, "wall_s": round(wall, 1),
            "tokens_per_s": round(tokens / wall, 1), "prefix_cache_hit_rate": round(cached / prompt_tokens, 3)}


def raw_engine_sessions(calls: list[Call], args: argparse.Namespace, in_flight: int) -> dict:
    """The same calls through vLLM's AsyncLLM shaped as the pipeline's sessions: each session's calls one after
    the other, `in_flight` sessions at a time, started in slot order. What is left between this and the pipeline
    is what the pipeline adds (Ray, the session worker, streaming, σ, staging), not the shape of the work."""
    import asyncio

    from vllm.sampling_params import RequestOutputKind

    engine, prompts, params = engine_and_params(calls, args, offline=False)
    sessions: dict[str, list[int]] = {}
    for i, call in enumerate(calls):
        sessions.setdefault(call[0], []).append(i)

    async def replay() -> tuple[int, float]:
        gate = asyncio.Semaphore(in_flight)
        tokens = 0

        async def session(indices: list[int]) -> None:
            nonlocal tokens
            async with gate:
                for i in indices:
                    params[i].output_kind = RequestOutputKind.FINAL_ONLY
                    async for out in engine.generate(prompts[i], params[i], f"replay-{i}"):
                        final = out
                    tokens += len(final.outputs[0].token_ids)

        t0 = time.monotonic()
        await asyncio.gather(*(session(ix) for ix in sessions.values()))
        return tokens, time.monotonic() - t0

    tokens, wall = asyncio.run(replay())
    engine.shutdown()
    return {"requests": len(calls), "sessions": len(sessions), "sessions_in_flight": in_flight,
            "completion_tokens": tokens, "wall_s": round(wall, 1), "tokens_per_s": round(tokens / wall, 1)}


def summary(manifest: dict) -> dict:
    """Throughput counts every token the engines generated (rejected attempts included) over the run's wall
    time from engines ready to the last session staged."""
    t = manifest["throughput"]
    engines = manifest["engines"]["default"]
    generated = sum(e["generation_tokens"] for e in engines)
    return {"sessions": manifest["counts"]["rows"], "sessions_in_flight": t["max_in_flight"], "wall_s": t["wall_s"],
            "tokens_per_s": round(generated / t["wall_s"], 1), "sessions_per_hour": t["records_per_hour"],
            "first_session_s": round(t["first_record_s"] or 0, 1),
            "mean_running_batch": [round(e["mean_running_batch"], 1) for e in engines],
            "prefix_cache_hit_rate": [round(e["prefix_cache_hit_rate"], 3) for e in engines],
            "groups_replaced": [e["replaced"] for e in engines]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=48)
    p.add_argument("--max-turn-pairs", type=int, default=3)
    p.add_argument("--max-tokens", type=int, default=96)
    p.add_argument("--max-in-flight", type=int, default=0, help="sessions in flight per replica (0: the config's)")
    p.add_argument("--no-stop-newline", dest="stop_newline", action="store_false",
                   help="let replies run past a newline (most then end at max_tokens and are regenerated)")
    p.add_argument("--max-num-seqs", type=int, default=16,
                   help="the engine's batch (vLLM max_num_seqs; 0: the shipped CPU default, 64). A run of few "
                        "sessions against a large batch measures its tail, not the pipeline: 16 lets 48 sessions on "
                        "two cores keep it full for most of the run")
    p.add_argument("--stall-timeout-s", type=float, default=0,
                   help="run.stall_timeout_s (0: the config's): how long engines may be silent with calls pending "
                        "before their group is replaced; a working engine streams tokens, so a short one must not fire")
    p.add_argument("--replicas", type=int, default=0, help="also run with this many replicas (0: skip)")
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="counselsim-bench-"))
    try:
        one = summary(run_pipeline(work / "one", args, 1))
        print(json.dumps({"pipeline": one}), flush=True)
        calls = workload(work / "one", args.max_turn_pairs)
        shaped = raw_engine_sessions(calls, args, one["sessions_in_flight"])
        print(json.dumps({"raw_engine_sessions": shaped}), flush=True)
        raw = raw_engine(calls, args)
        result = {"pipeline": one, "raw_engine_sessions": shaped, "raw_engine": raw,
                  "ratio_pipeline_to_raw_sessions": round(one["tokens_per_s"] / shaped["tokens_per_s"], 3),
                  "ratio_pipeline_to_raw": round(one["tokens_per_s"] / raw["tokens_per_s"], 3)}
        print(json.dumps(result), flush=True)
        if args.replicas > 1:
            many = summary(run_pipeline(work / "many", args, args.replicas))
            result[f"pipeline_{args.replicas}_replicas"] = many
            result["scaling_ratio"] = round(many["tokens_per_s"] / one["tokens_per_s"], 3)
        from counselsim.corpus.writer import versions

        result["versions"] = versions()
        result["cpus"] = os.cpu_count()
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
