"""Pipeline throughput against the raw engine, in one run on one machine and model.

1. The session pipeline runs through Ray on vLLM (the shipped config, sized by the flags): output tokens/s,
   sessions/hour, mean running batch, time to first session.
2. The raw engine replays the same workload offline: every call the pipeline made (same prompts, same output
   lengths, forced with min_tokens and ignore_eos) through `vllm.LLM.generate` at once, with the same engine
   settings. That is the engine's own ceiling for this workload.
3. Optionally the pipeline again with two replicas, for the scaling ratio.

    python benchmarks/throughput.py --sessions 64 --max-turn-pairs 8 [--replicas 2]
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


def run_pipeline(out: Path, args: argparse.Namespace, replicas: int) -> dict:
    import ray

    from counselsim.config import load_config
    from counselsim.pipeline import run_pipeline as run

    cfg = load_config(CONFIG, [
        f"run.sessions={args.sessions}", f"run.output={out}", "run.progress=false",
        f"session.max_turn_pairs={args.max_turn_pairs}", "session.min_turn_pairs=1",
        f"roles.client.max_tokens={args.max_tokens}", f"roles.counselor.max_tokens={args.max_tokens}",
        f"models.default.replicas={replicas}", "stages.dedup.enabled=false"])
    manifest = run(cfg)
    ray.shutdown()
    return manifest


def workload(corpus: Path) -> list[tuple[list[dict], int]]:
    """(messages, completion tokens) of every accepted call the pipeline made, rebuilt from the corpus."""
    import polars as pl

    from counselsim.agents import client_system_prompt, counselor_system_prompt, messages_for
    from counselsim.schemas import RoleCard

    calls = []
    for row in pl.read_parquet(corpus / "data" / "*.parquet").iter_rows(named=True):
        card = RoleCard.model_validate(row["role_card"])
        systems = {"client": client_system_prompt(card, 50), "counselor": counselor_system_prompt(card.language)}
        history = []
        for turn in row["turns"]:
            if turn["index"] > 0 and turn["completion_tokens"] > 0:
                per_attempt = max(1, turn["completion_tokens"] // turn["attempts"])
                calls.extend((messages_for(turn["speaker"], systems[turn["speaker"]], history), per_attempt)
                             for _ in range(turn["attempts"]))
            history.append((turn["speaker"], turn["text"]))
    return calls


def raw_engine(calls: list[tuple[list[dict], int]], env: dict) -> dict:
    os.environ.update(env)
    from vllm import LLM, SamplingParams

    from counselsim.engines.vllm_engine import CPU_DEFAULTS
    from counselsim.models import resolve

    llm = LLM(model=resolve("embedded:smollm2"), enable_prefix_caching=True, **CPU_DEFAULTS)
    tok = llm.get_tokenizer()
    prompts = [{"prompt_token_ids": tok.apply_chat_template(m, add_generation_prompt=True, tokenize=True)} for m, _ in calls]
    params = [SamplingParams(temperature=0.8, top_p=0.9, max_tokens=n, min_tokens=n, ignore_eos=True) for _, n in calls]
    t0 = time.monotonic()
    outs = llm.generate(prompts, params, use_tqdm=False)
    wall = time.monotonic() - t0
    tokens = sum(len(o.outputs[0].token_ids) for o in outs)
    return {"requests": len(calls), "completion_tokens": tokens, "wall_s": round(wall, 1),
            "tokens_per_s": round(tokens / wall, 1)}


def summary(manifest: dict) -> dict:
    t = manifest["throughput"]
    engines = manifest["engines"]["default"]
    return {"sessions": manifest["counts"]["rows"], "wall_s": t["wall_s"],
            "completion_tokens_per_s": t["completion_tokens_per_s"], "sessions_per_hour": t["records_per_hour"],
            "first_session_s": round(t["first_record_s"] or 0, 1),
            "mean_running_batch": [round(e.get("mean_running_batch", 0), 1) for e in engines],
            "prefix_cache_hit_rate": [round(e.get("prefix_cache_hit_rate", 0), 3) for e in engines]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=64)
    p.add_argument("--max-turn-pairs", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=48)
    p.add_argument("--replicas", type=int, default=0, help="also run with this many replicas (0: skip)")
    args = p.parse_args()

    import yaml

    env = yaml.safe_load(CONFIG.read_text())["models"]["default"]["env"]
    work = Path(tempfile.mkdtemp(prefix="counselsim-bench-"))
    try:
        pipeline = run_pipeline(work / "one", args, 1)
        calls = workload(work / "one")
        raw = raw_engine(calls, env)
        result = {"pipeline": summary(pipeline), "raw_engine": raw,
                  "ratio_pipeline_to_raw": round(pipeline["throughput"]["completion_tokens_per_s"] / raw["tokens_per_s"], 3)}
        if args.replicas > 1:
            more = run_pipeline(work / "many", args, args.replicas)
            result[f"pipeline_{args.replicas}_replicas"] = summary(more)
            result["scaling_ratio"] = round(more["throughput"]["completion_tokens_per_s"]
                                            / pipeline["throughput"]["completion_tokens_per_s"], 3)
        from counselsim.finalize import versions

        result["versions"] = versions()
        result["cpus"] = os.cpu_count()
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
