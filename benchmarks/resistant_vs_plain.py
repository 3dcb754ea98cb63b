"""A live-resistant client against the plain client on the same role cards, per resistance level (ResistClient).

1. SimPsyDial twice with the same seed, so the same cards in the same slots: `session.client_mode: plain`, then
   `resistant` (a `profiler` role builds the 5P profile; every client turn declares its reaction type).
2. Each corpus through the rpc pipeline as a label-only pass (`stages.rpc.injection.enabled: false`): every client
   turn gets the labeler's seven-type reaction label and its PsyFIRE label, so the plain run has types too, and the
   resistant run's declared types are the gold of the labeler's self-check.
3. Per resistance level of the card: share of resistant turns, CCR, session length and the index of the last
   resistant turn, for both runs (the audit's measures, counselsim.audit.resistance), and the self-check.

    python benchmarks/resistant_vs_plain.py --sessions 10 --max-turn-pairs 4

The embedded SmolLM2-135M is a toy: its figures show that the path works and what it measures, not how a capable
model resists.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ["level", "sessions", "typed_turns", "coverage", "resistant_share", "ccr", "ccr_with_compliant",
           "mean_turn_pairs", "mean_last_resistant_turn"]


def generate(out: Path, args: argparse.Namespace, mode: str) -> dict:
    from counselsim.config import load_config
    from counselsim.runtime.driver import run_pipeline

    sets = [f"run.sessions={args.sessions}", "run.progress=false", f"run.output={out}", "run.executor=local",
            f"session.max_turn_pairs={args.max_turn_pairs}", "session.min_turn_pairs=1", "stages.dedup.enabled=false",
            f"session.client_mode={mode}", "roles.counselor.max_tokens=160", 'roles.counselor.stop=["\\n"]']
    if mode == "resistant":  # the client answers one JSON object: reasoning, type, utterance
        sets += ["roles.client.max_tokens=320",
                 'roles.profiler={"model": "default", "temperature": 0.3, "top_p": 0.9, "max_tokens": 400}',
                 ('session.resistant_client={"profile_field_max_chars": 120, "reasoning_max_chars": 120, '
                  '"utterance_max_chars_en": 200}')]
    else:
        sets += ["roles.client.max_tokens=192", 'roles.client.stop=["\\n"]']
    return run_pipeline(load_config(REPO / "pipelines" / "simpsydial.yaml", sets))


def label(corpus: Path, out: Path) -> dict:
    from counselsim.config import load_config
    from counselsim.runtime.driver import run_pipeline

    sets = [f"run.input={corpus}", f"run.output={out}", "run.progress=false", "run.executor=local",
            "stages.rpc.injection.enabled=false"]
    return run_pipeline(load_config(REPO / "pipelines" / "rpc.yaml", sets))


def per_level(corpus: Path) -> list[dict]:
    from counselsim.audit.frames import load_frames
    from counselsim.audit.resistance import by_level

    frames = load_frames(str(corpus))
    table = by_level(frames.sessions, frames.turns)
    return table.select([c for c in COLUMNS if c in table.columns]).to_dicts()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=10)
    p.add_argument("--max-turn-pairs", type=int, default=4)
    p.add_argument("--keep", type=Path, help="keep the four corpora in this folder")
    args = p.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="counselsim-resist-"))
    result: dict = {}
    try:
        for mode in ("plain", "resistant"):
            t0 = time.monotonic()
            made = generate(work / mode, args, mode)
            labeled = label(work / mode, work / f"{mode}-labeled")
            result[mode] = {"written": made["counts"]["rows"], "dropped": made["counts"]["dropped"],
                            "drops": made["drops"],
                            "wall_s": round(time.monotonic() - t0, 1),
                            "by_level": per_level(work / f"{mode}-labeled"),
                            "self_check": labeled["self_check"]}
            print(json.dumps({mode: result[mode]}, default=str), flush=True)
        print(json.dumps(result, indent=2, default=str))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
