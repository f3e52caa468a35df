"""Throughput and peak memory of the whole data-preparation pipeline on 100,000 and 1,000,000 generated records.

Targets on the 2-core machine: 100,000 records in <= 20 s and <= 1 GB; 1,000,000 in <= 12x the 100,000 time.
Each size runs in a fresh child process so its peak memory (ru_maxrss) is its own. Run:
    python benchmarks/bench_dataprep.py [N ...]
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

SIZES = (100_000, 1_000_000)
LABELS = ["payment", "termination", "confidentiality", "indemnity", "warranty", "assignment", "LC1", "LC2", "GL3",
          "FM9", "DP4"]


def generate(n: int, seed: int = 0) -> bytes:
    """Return n clause-like JSONL records: random sentences, 5% exact copies, 5% one-word edits, 1% relabelled copies.

    Words follow Zipf's law over a 30,000-word vocabulary, so unrelated records share few word pairs, as in text.
    """
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(30_000)])
    rank_p = 1 / np.arange(1, len(vocab) + 1)  # Zipf's law with exponent 1, as in English text
    lengths = rng.integers(12, 30, n)
    words = vocab[rng.choice(len(vocab), lengths.sum(), p=rank_p / rank_p.sum())]
    cuts = np.cumsum(lengths)[:-1]
    texts = [" ".join(ws) + "." for ws in np.split(words, cuts)]
    p = np.array([1.0] * 10 + [0.3])
    labels = list(rng.choice(LABELS, n, p=p / p.sum()))
    source = rng.integers(0, n // 2, n)
    kind = rng.random(n)
    for i in np.flatnonzero(kind < 0.11):
        j = int(source[i])
        if kind[i] < 0.05:
            texts[i], labels[i] = texts[j], labels[j]
        elif kind[i] < 0.10:
            ws = texts[j].split(" ")
            ws[rng.integers(len(ws))] = "edited"
            texts[i], labels[i] = " ".join(ws), labels[j]
        else:
            texts[i], labels[i] = texts[j], LABELS[(LABELS.index(labels[j]) + 1) % len(LABELS)]
    years, months, days = rng.integers(2019, 2026, n), rng.integers(1, 13, n), rng.integers(1, 29, n)
    dates = [f"{y}-{m:02d}-{d:02d}" if k % 2 else f"{d:02d}/{m:02d}/{y}" for k, (y, m, d) in
             enumerate(zip(years, months, days))]
    return "".join(json.dumps({"id": f"r{i:07d}", "text": t, "label": lab, "effective_date": d}) + "\n"
                   for i, (t, lab, d) in enumerate(zip(texts, labels, dates))).encode()


def run_one(n: int) -> dict:
    """Generate n records, run load + the whole pipeline, return the figures."""
    from helpers import dataprep

    data = generate(n)
    start = time.perf_counter()
    raw, bad = dataprep.load_records(data, name="generated.jsonl")
    loaded = time.perf_counter()
    out = dataprep.prepare(raw, "amazon.nova-micro-v1:0:128k")
    seconds = time.perf_counter() - start
    assert not dataprep.leaking_groups(out["groups"], out["split"])
    return {"n": n, "seconds": round(seconds, 2), "load_seconds": round(loaded - start, 2),
            "records_per_s": round(n / seconds), "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "stages": out["stages"], "near_dup_clusters": int(out["clusters"]["cluster"].nunique()),
            "queued": len(out["queue"])}


def main(argv: list[str]) -> int:
    """Run each size in a child process and print one line per size, then the ratio."""
    if argv[:1] == ["--one"]:
        print(json.dumps(run_one(int(argv[1]))))
        return 0
    sizes = [int(a) for a in argv] or list(SIZES)
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (shared)")
    results = []
    for n in sizes:
        proc = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True)
        if proc.returncode:
            print(proc.stderr, file=sys.stderr)
            return 1
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"{r['n']:>9,} records: {r['seconds']:7.2f} s ({r['load_seconds']:.2f} s loading), "
              f"{r['records_per_s']:>8,} records/s, peak memory {r['peak_mb']:,} MB; "
              f"{r['near_dup_clusters']:,} near-duplicate clusters, {r['queued']:,} records queued for review; "
              f"stages {r['stages']}")
    if len(results) == 2:
        print(f"time ratio {results[1]['n'] // results[0]['n']}x records: "
              f"{results[1]['seconds'] / results[0]['seconds']:.1f}x time (target <= 12x)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
