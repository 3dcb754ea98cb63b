"""Dedup throughput and memory on synthetic sessions.

    python benchmarks/dedup_bench.py --sessions 50000 [--ray]

Prints sessions/s for signature building (in process, on texts in memory), for plain datasketch
(`MinHash.update` per shingle, and `update_batch`) on the first --baseline of the same texts in the same run,
and for `counselsim dedup` end to end (read, sign, loop check, cluster, write) in a child process, with that
process's peak RSS. With --ray the child starts Ray on all cores and signs shards in Ray tasks; the RSS of
Ray's worker processes is then not included. --cluster-sessions N also clusters N synthetic signatures alone
(LSH + union-find), to measure that step at sizes whose texts would take too long to make.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datasketch import MinHash

from counselsim.dedup import DedupConfig
from counselsim.dedup.looping import is_looping
from counselsim.dedup.minhash import Signer, shingle_hash
from counselsim.dedup.shingles import join_turns, shingles

CJK = np.arange(0x4E00, 0x4E00 + 3000, dtype=np.uint32)
LATIN = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz      ", dtype=np.uint8).astype(np.uint32)  # ~1 space per 5 letters


def random_turns(rng: np.random.Generator, alphabet: np.ndarray, turns: int, per_turn: int) -> list[str]:
    lengths = rng.integers(per_turn // 2, per_turn * 3 // 2, turns)
    text = rng.choice(alphabet, int(lengths.sum())).astype("<u4").tobytes().decode("utf-32-le")
    bounds = np.concatenate([[0], np.cumsum(lengths)]).tolist()
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]


def mutate(rng: np.random.Generator, text: str, alphabet: np.ndarray, share: float) -> str:
    chars = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").copy()
    where = rng.random(len(chars)) < share
    chars[where] = rng.choice(alphabet, int(where.sum()))
    return chars.tobytes().decode("utf-32-le")


def synthetic_sessions(n: int, turns: int, chars: int, dup_share: float, seed: int) -> list[list[str]]:
    """Half Chinese (`chars` per turn on average), half English-like (2 x `chars`); `dup_share` of the sessions
    are copies of an earlier one of the same language with 1% of characters changed (5-gram Jaccard ~0.9)."""
    rng = np.random.default_rng(seed)
    sessions: list[list[str]] = []
    for i in range(n):
        zh = i % 2 == 0
        alphabet, per_turn = (CJK, chars) if zh else (LATIN, 2 * chars)
        if i > 10 and rng.random() < dup_share:
            source = sessions[int(rng.integers(0, i // 2)) * 2 + (0 if zh else 1)]
            sessions.append([mutate(rng, t, alphabet, 0.01) for t in source])
        else:
            sessions.append(random_turns(rng, alphabet, turns, per_turn))
    return sessions


def write_corpus(folder: Path, sessions: list[list[str]], rows_per_shard: int) -> None:
    """Shards holding only what dedup reads: session_id and turns (index, speaker, text)."""
    (folder / "data").mkdir(parents=True)
    for k, start in enumerate(range(0, len(sessions), rows_per_shard)):
        chunk = sessions[start : start + rows_per_shard]
        texts = [t for s in chunk for t in s]
        index = [i for s in chunk for i in range(len(s))]
        offsets = np.concatenate([[0], np.cumsum([len(s) for s in chunk])]).astype(np.int32)
        turns = pa.StructArray.from_arrays(
            [pa.array(index, pa.int32()), pa.array(["counselor" if i % 2 == 0 else "client" for i in index]),
             pa.array(texts)],
            names=["index", "speaker", "text"],
        )
        table = pa.table({
            "session_id": [f"s{start + j:09d}" for j in range(len(chunk))],
            "turns": pa.ListArray.from_arrays(pa.array(offsets), turns),
        }).replace_schema_metadata({"counselsim.record": "session"})
        pq.write_table(table, folder / "data" / f"shard-{k:05d}.parquet", compression="zstd")


def plain_datasketch(texts: list[str], cfg: DedupConfig, batch: bool, hashfunc=None) -> list[np.ndarray]:
    """Signatures the usual way: a MinHash per text, fed its shingles as UTF-8 bytes (sha1_hash32 by default)."""
    out = []
    for text in texts:
        m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed, hashfunc=hashfunc)
        items = list(shingles(text, cfg.ngram)) if hashfunc else [s.encode("utf-8") for s in shingles(text, cfg.ngram)]
        if batch:
            m.update_batch(items)
        else:
            for item in items:
                m.update(item)
        out.append(m.hashvalues)
    return out


def signatures(texts: list[str], baseline: int, cfg: DedupConfig) -> None:
    signer = Signer(cfg.num_perm, cfg.seed, cfg.ngram)
    t = time.perf_counter()
    ours, _ = signer.signatures(texts)
    rate = len(texts) / (time.perf_counter() - t)
    print(f"signatures (counselsim, in process, {len(texts)} sessions): {rate:,.0f} sessions/s")

    sample = texts[:baseline]
    t = time.perf_counter()
    signer.signatures(sample)
    rate = len(sample) / (time.perf_counter() - t)
    for label, batch in (("MinHash.update per shingle", False), ("MinHash.update_batch", True)):
        t = time.perf_counter()
        plain_datasketch(sample, cfg, batch)
        plain = len(sample) / (time.perf_counter() - t)
        print(f"signatures (datasketch {label}, the first {len(sample)} sessions): {plain:,.0f} sessions/s; "
              f"counselsim on the same texts {rate:,.0f} sessions/s = {rate / plain:.1f}x")
    # The same signatures as datasketch fed our shingle hash (only the shingle hash differs from its default).
    same = plain_datasketch(sample[:20], cfg, False, hashfunc=lambda s: shingle_hash(s, cfg.ngram))
    assert all(np.array_equal(p, o) for p, o in zip(same, ours)), "signatures differ from datasketch"


def synthetic_signatures(n: int, num_perm: int, dup_share: float) -> np.ndarray:
    """Random signatures; `dup_share` of the rows are copies of earlier rows with 10% of values changed."""
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 1 << 32, (n, num_perm), dtype=np.uint32)
    copies = np.flatnonzero(rng.random(n) < dup_share)
    copies = copies[copies > 0]
    sig[copies] = sig[rng.integers(0, copies)]
    changed = rng.random((len(copies), num_perm)) < 0.1
    sig[copies] = np.where(changed, rng.integers(0, 1 << 32, changed.shape, dtype=np.uint32), sig[copies])
    return sig


def child(mode: str, *args: str) -> None:
    """One measured step in its own process, so its peak RSS is its own: `dedup CORPUS OUT [ray]` runs the
    command, `cluster N` clusters N synthetic signatures."""
    result = {}
    if mode == "dedup":
        from counselsim import cli

        if "ray" in args:
            import ray

            ray.init(include_dashboard=False, log_to_driver=False)
        start = time.perf_counter()
        result["rc"] = cli.main(["--log-level", "WARNING", "dedup", "--input", args[0], "--out", args[1],
                                 "--rows-per-shard", "4096"])
    else:
        from counselsim.dedup.lsh import cluster

        cfg = DedupConfig()
        signatures = synthetic_signatures(int(args[0]), cfg.num_perm, 0.1)
        start = time.perf_counter()
        roots, stats = cluster(signatures, cfg.threshold)
        result["clusters"] = int((np.bincount(roots) >= 2).sum())
        result["removed"] = int((roots != np.arange(len(roots))).sum())
    result["wall_s"] = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = usage.ru_utime + usage.ru_stime  # of the whole process, start-up included
    result["peak_rss_mib"] = usage.ru_maxrss / 1024
    print(json.dumps(result))


def run_child(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--turns", type=int, default=24)
    parser.add_argument("--chars", type=int, default=60, help="mean characters per Chinese turn (English: twice)")
    parser.add_argument("--dup-share", type=float, default=0.1)
    parser.add_argument("--rows-per-shard", type=int, default=2048)
    parser.add_argument("--baseline", type=int, default=200, help="sessions signed by plain datasketch")
    parser.add_argument("--ray", action="store_true")
    parser.add_argument("--cluster-sessions", type=int, default=0, help="also cluster this many synthetic signatures")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    cfg = DedupConfig()
    print(f"load average {open('/proc/loadavg').read().split()[0]} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        corpus, out = Path(tmp) / "in", Path(tmp) / "out"
        t = time.perf_counter()
        sessions = synthetic_sessions(args.sessions, args.turns, args.chars, args.dup_share, seed=0)
        write_corpus(corpus, sessions, args.rows_per_shard)
        texts = [join_turns(s) for s in sessions]
        print(f"generated {len(texts)} sessions, {sum(map(len, texts)) / len(texts):.0f} characters each on average "
              f"({time.perf_counter() - t:.1f}s)")
        signatures(texts, args.baseline, cfg)
        t = time.perf_counter()
        for s in sessions:
            is_looping([("counselor" if i % 2 == 0 else "client", text) for i, text in enumerate(s)], cfg)
        print(f"loop check (in process): {len(sessions) / (time.perf_counter() - t):,.0f} sessions/s")
        del sessions, texts

        run = run_child("dedup", str(corpus), str(out), *(["ray"] if args.ray else []))
        report = json.loads((out / "manifest.json").read_text())["dedup"]
    timing = report["timing_s"]
    print(f"end to end (counselsim dedup{' with Ray' if args.ray else ''}, {args.sessions} sessions in "
          f"{-(-args.sessions // args.rows_per_shard)} shards): {args.sessions / run['wall_s']:,.0f} sessions/s "
          f"({run['wall_s']:.1f}s: read + sign + loop check {timing['read_and_sign']}s, cluster "
          f"{timing['clustering']}s, then the write); process CPU time {run['cpu_s']:.1f}s")
    print(f"  clusters {report['clusters']}, removed {report['removed']}, LSH {report['lsh']}")
    print(f"  peak RSS of the dedup process: {run['peak_rss_mib']:,.0f} MiB")
    if args.cluster_sessions:
        run = run_child("cluster", str(args.cluster_sessions))
        print(f"clustering alone, {args.cluster_sessions} synthetic signatures (10% near-copies): "
              f"{args.cluster_sessions / run['wall_s']:,.0f} sessions/s ({run['wall_s']:.1f}s), "
              f"{run['clusters']} clusters; peak RSS {run['peak_rss_mib']:,.0f} MiB")


if __name__ == "__main__":
    main()
