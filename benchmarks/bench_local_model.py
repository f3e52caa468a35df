"""Training throughput and generation latency of the local model in its base configuration.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_local_model.py [--steps 20] [--repeats 7]

Prints measured figures (medians); nothing is asserted. Targets on the 2-core lab machine: >= 15,000 training
tokens/s, and 32 new tokens in <= 100 ms after a 64-token prompt. Other processes on the machine slow both.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from helpers import corpus, local_model as lm  # noqa: E402


def train_throughput(model: lm.Model, steps: int) -> float:
    """Tokens per second of full training steps (forward, backward, AdamW) on full-context batches."""
    cfg = model.config
    B, T = lm.BASE_BUILD["batch_size"], cfg["context"]
    rng = np.random.default_rng(0)
    params = {k: v.copy() for k, v in model.params.items()}
    opt = lm.AdamW(params)
    x = rng.integers(2, cfg["vocab_size"], (B, T))
    y = rng.integers(2, cfg["vocab_size"], (B, T))
    mask = np.ones((B, T), np.float32)
    times = []
    for i in range(steps + 2):
        t0 = time.perf_counter()
        loss, cache = lm.forward(params, cfg, x, y, mask)
        opt.step(lm.backward(params, cfg, cache), 1e-4)
        if i >= 2:  # the first steps warm up allocations
            times.append(time.perf_counter() - t0)
    return B * T / statistics.median(times)


def generation_latency(model: lm.Model, prompt_tokens: int, new_tokens: int, repeats: int) -> float:
    """Median milliseconds to prefill a prompt and decode new_tokens greedily (forced: no early stop)."""
    p, cfg = model.weights(), model.config
    text = " ".join(corpus.general_heldout())
    ids = np.array([model.tokenizer.encode(text)[:prompt_tokens]])
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ok = np.ones((1, prompt_tokens), bool)
        prob, cache = lm._step(p, cfg, ids, np.arange(prompt_tokens)[None], ok, None)
        for s in range(new_tokens - 1):
            ok = np.ones((1, prompt_tokens + s + 1), bool)
            prob, cache = lm._step(p, cfg, prob.argmax(-1)[:, None], np.array([[prompt_tokens + s]]), ok, cache)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    model = lm.load_base()
    print(f"{model}; OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}; load average "
          f"{os.getloadavg()[0]:.2f} (other processes share the CPU)")
    tps = train_throughput(model, args.steps)
    print(f"training: {tps:,.0f} tokens/s (batch {lm.BASE_BUILD['batch_size']} x {model.config['context']} tokens; "
          f"target >= 15,000)")
    print("generation latency, 32 new tokens (greedy, KV cache):")
    for n in (8, 32, 64, 128, 160):
        ms = generation_latency(model, n, 32, args.repeats)
        note = "  (target <= 100 ms)" if n == 64 else ""
        print(f"  prompt {n:4d} tokens: {ms:6.1f} ms{note}")


if __name__ == "__main__":
    main()
