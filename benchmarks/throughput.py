"""Pipeline throughput against the raw engine, in one run on one machine and model.

1. The session pipeline runs through Ray on vLLM (the shipped config, sized by the flags): one session worker
   per replica with its vLLM engine inside (runtime/dispatch.py), the driver only handing out work items and
   staging records. Output tokens/s, sessions/hour, mean running batch, prefix-cache hit rate, time to first
   session.
2. The raw engine replays the same workload offline: every call the pipeline made (same prompts, same sampling,
   same output lengths, forced with min_tokens and ignore_eos) through `vllm.LLM.generate` at once, with the
   same engine settings. That is the engine's own rate on this workload, with no session logic around it.
3. With --replicas N, the pipeline again with N replicas, for the scaling ratio.

    python benchmarks/throughput.py --sessions 96 --max-turn-pairs 4 --max-tokens 48 [--replicas 2]
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
            *([f"run.max_in_flight={args.max_in_flight}"] if args.max_in_flight else [])]


def run_pipeline(out: Path, args: argparse.Namespace, replicas: int) -> dict:
    import ray

    from counselsim.config import load_config
    from counselsim.runtime.driver import run_pipeline as run

    cfg = load_config(CONFIG, [*overrides(args), f"run.output={out}", f"models.default.replicas={replicas}",
                               "run.executor=ray"])
    manifest = run(cfg)
    ray.shutdown()
    return manifest


def workload(corpus: Path, max_turn_pairs: int) -> list[tuple[int, str, list[dict], int]]:
    """(turn index, speaker, messages, completion tokens) of every call the pipeline made, rebuilt from the
    corpus; a rejected attempt counts as a call of the same length as the accepted one."""
    import polars as pl

    from counselsim.simpsydial.agents import client_system_prompt, counselor_system_prompt, messages_for
    from counselsim.schemas import RoleCard

    calls = []
    for row in pl.read_parquet(corpus / "data" / "*.parquet").iter_rows(named=True):
        card = RoleCard.model_validate(row["role_card"])
        systems = {"client": client_system_prompt(card, max_turn_pairs),
                   "counselor": counselor_system_prompt(card.language)}
        history = []
        for turn in row["turns"]:
            if turn["index"] > 0 and turn["completion_tokens"] > 0:
                per_attempt = max(1, turn["completion_tokens"] // turn["attempts"])
                messages = messages_for(turn["speaker"], systems[turn["speaker"]], history)
                calls.extend((turn["index"], turn["speaker"], messages, per_attempt) for _ in range(turn["attempts"]))
            history.append((turn["speaker"], turn["text"]))
    return calls


def raw_engine(calls: list[tuple[int, str, list[dict], int]], args: argparse.Namespace) -> dict:
    """The same calls through offline `LLM.generate` with the pipeline's engine settings and sampling. They are
    submitted in turn order, so a turn's history is in the prefix cache before the next turn is scheduled, as in
    the pipeline; generation lengths are forced to the pipeline's."""
    from counselsim.config import load_config

    cfg = load_config(CONFIG, overrides(args))
    model = cfg.models["default"]
    os.environ.update(model.env)
    from vllm import LLM, SamplingParams

    from counselsim.engines.vllm_engine import CPU_DEFAULTS, chat_token_ids
    from counselsim.engines.models import resolve

    llm = LLM(model=resolve(model.path), enable_prefix_caching=True, **{**CPU_DEFAULTS, **model.options})
    tok = llm.get_tokenizer()
    calls = sorted(calls, key=lambda call: call[0])
    prompts = [{"prompt_token_ids": chat_token_ids(tok, m)} for _, _, m, _ in calls]
    params = []
    for i, (_, speaker, _, n) in enumerate(calls):
        role = cfg.roles[speaker]
        params.append(SamplingParams(temperature=role.temperature, top_p=role.top_p,
                                     repetition_penalty=role.repetition_penalty, seed=i,
                                     max_tokens=n, min_tokens=n, ignore_eos=True))
    t0 = time.monotonic()
    outs = llm.generate(prompts, params, use_tqdm=False)
    wall = time.monotonic() - t0
    llm.llm_engine.engine_core.shutdown()  # free its cores and KV cache before the next pipeline run
    tokens = sum(len(o.outputs[0].token_ids) for o in outs)
    cached = sum(o.num_cached_tokens or 0 for o in outs)
    prompt_tokens = sum(len(p["prompt_token_ids"]) for p in prompts)
    return {"requests": len(calls), "completion_tokens": tokens, "wall_s": round(wall, 1),
            "tokens_per_s": round(tokens / wall, 1), "prefix_cache_hit_rate": round(cached / prompt_tokens, 3)}


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
            "prefix_cache_hit_rate": [round(e["prefix_cache_hit_rate"], 3) for e in engines]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=96)
    p.add_argument("--max-turn-pairs", type=int, default=4)
    p.add_argument("--max-tokens", type=int, default=48)
    p.add_argument("--max-in-flight", type=int, default=0, help="sessions in flight per replica (0: the config's)")
    p.add_argument("--replicas", type=int, default=0, help="also run with this many replicas (0: skip)")
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="counselsim-bench-"))
    try:
        one = summary(run_pipeline(work / "one", args, 1))
        print(json.dumps({"pipeline": one}), flush=True)
        raw = raw_engine(workload(work / "one", args.max_turn_pairs), args)
        ratio = round(one["tokens_per_s"] / raw["tokens_per_s"], 3)
        result = {"pipeline": one, "raw_engine": raw, "ratio_pipeline_to_raw": ratio}
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
