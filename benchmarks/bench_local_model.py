"""Training throughput and generation latency of the local model, against PyTorch running the same model.

    python benchmarks/bench_local_model.py [--steps 10] [--repeats 7] [--vocab 1848 4096 8192] [--threads 1 2]

Prints measured figures (medians of interleaved runs); nothing is asserted. Targets on the 2-core lab
machine, one thread: >= 15,000 training tokens/s, and 32 new tokens in <= 100 ms after a 64-token prompt.
Each vocabulary size is the shipped base model's configuration with that vocabulary (the checkpoint's own
weights at its size, random ones at the others: speed does not depend on them); the default list is the
shipped checkpoint's size, 4096 and 8192, all timed in turn so their ratios share the machine's load.

Where PyTorch is installed (it is not a dependency of the lab), the same architecture written in PyTorch
(pre-LN GPT, tied head, learned positions, the pointer-generator copy head, heads only at positions the loss
counts, AdamW with clipping; generation with a KV cache) runs in the same invocation, on the same weights
and batches, and the figures are printed as numpy/PyTorch speed ratios (> 1: numpy is faster). Other
processes on the machine slow every figure; the ratios, measured side by side, move less.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

from helpers import local_model as lm

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

FT_ROWS, FT_LEN, FT_ANSWER = 8, 64, 10  # a fine-tuning batch: 8 records of 64 tokens, 10 answer tokens each


# --------------------------------------------------------------------------- batches and models
def model_with_vocab(base: lm.Model, vocab: int) -> lm.Model:
    """The base configuration with `vocab` tokens: the shipped weights at their own size, else random ones."""
    if vocab == base.config["vocab_size"]:
        return base
    cfg = dict(base.config, vocab_size=vocab)
    return lm.Model(cfg, None, lm.init_params(cfg, np.random.default_rng(0)))


def batches(cfg: dict) -> dict:
    """A full-context pre-training batch (every token counts) and a fine-tuning batch (answer tokens count)."""
    rng = np.random.default_rng(0)
    B, T, V = lm.BASE_BUILD["batch_size"], cfg["context"], cfg["vocab_size"]
    pre = (rng.integers(2, V, (B, T)), rng.integers(2, V, (B, T)), np.ones((B, T), np.float32))
    ft_mask = np.zeros((FT_ROWS, FT_LEN), np.float32)
    ft_mask[:, -FT_ANSWER:] = 1
    ft = (rng.integers(2, V, (FT_ROWS, FT_LEN)), rng.integers(2, V, (FT_ROWS, FT_LEN)), ft_mask)
    return {"pre-training": pre, "fine-tuning": ft}


def numpy_trainer(model: lm.Model, batch, all_positions: bool = False):
    params = {k: v.copy() for k, v in model.params.items()}
    opt = lm.AdamW(params)

    def step():
        _, cache = lm.forward(params, model.config, *batch, all_positions=all_positions)
        opt.step(lm.backward(params, model.config, cache), 1e-4)
    return step


def numpy_generator(model: lm.Model, prompt: np.ndarray, new_tokens: int):
    """Prefill the prompt, then decode new_tokens greedily (forced: no early stop), as generate_batch does."""
    p, cfg, n = model.weights(), model.config, prompt.shape[1]

    def run():
        prob, cache = lm._step(p, cfg, prompt, np.arange(n)[None], np.ones((1, n), bool), None)
        for s in range(new_tokens - 1):
            ok = np.ones((1, n + s + 1), bool)
            prob, cache = lm._step(p, cfg, prob.argmax(-1)[:, None], np.array([[n + s]]), ok, cache)
        return prob
    return run


# --------------------------------------------------------------------------- the same model in PyTorch
def torch_params(model: lm.Model) -> dict:
    return {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}


def _torch_blocks(P, cfg, x, causal, cache=None):
    """The transformer blocks; with a cache (list of per-layer (k, v)) the new keys/values extend it.
    Returns the residual stream and the last layer's attention probabilities."""
    B, T, d = x.shape
    H = cfg["n_head"]
    for l in range(cfg["n_layer"]):
        h = F.layer_norm(x, (d,), P[f"{l}.ln1_g"], P[f"{l}.ln1_b"], eps=1e-5)
        q, k, v = (h @ P[f"{l}.attn_w"] + P[f"{l}.attn_b"]).view(B, T, 3, H, d // H).permute(2, 0, 3, 1, 4)
        if cache is not None:
            if len(cache) > l:
                k, v = torch.cat([cache[l][0], k], 2), torch.cat([cache[l][1], v], 2)
                cache[l] = (k, v)
            else:
                cache.append((k, v))
        att = torch.softmax(q @ k.transpose(-1, -2) * (1.0 / math.sqrt(d // H)) + causal, -1)
        x = x + (att @ v).transpose(1, 2).reshape(B, T, d) @ P[f"{l}.proj_w"] + P[f"{l}.proj_b"]
        h2 = F.layer_norm(x, (d,), P[f"{l}.ln2_g"], P[f"{l}.ln2_b"], eps=1e-5)
        x = x + F.gelu(h2 @ P[f"{l}.fc_w"] + P[f"{l}.fc_b"], approximate="tanh") @ P[f"{l}.fc2_w"] + P[f"{l}.fc2_b"]
    return F.layer_norm(x, (d,), P["lnf_g"], P["lnf_b"], eps=1e-5), att


def _torch_heads(P, h):
    """Vocabulary distribution, copy gate and head mixture of final hidden states h (..., d)."""
    return (torch.softmax(h @ P["wte"].T, -1), torch.sigmoid(h @ P["gen_w"] + P["gen_b"]),
            torch.softmax(h @ P["mix_w"] + P["mix_b"], -1))


def torch_loss(P, cfg, idx, targets, mask):
    """lm.forward's loss in PyTorch: mixed vocabulary + copy NLL at the positions the loss counts."""
    T = idx.shape[1]
    causal = torch.full((T, T), -1e9).triu(1)
    hf, att = _torch_blocks(P, cfg, P["wte"][idx] + P["wpe"][:T], causal)
    bs, ts = mask.nonzero(as_tuple=True)
    ys = targets[bs, ts]
    pv, pgen, alpha = _torch_heads(P, hf[bs, ts])
    copy = (torch.einsum("nh,nhs->ns", alpha, att[bs, :, ts]) * (idx[bs] == ys[:, None])).sum(-1)
    prob = pgen * pv.gather(1, ys[:, None])[:, 0] + (1 - pgen) * copy
    return -(mask[bs, ts] * prob.clamp_min(1e-30).log()).sum() / mask.sum().clamp_min(1)


def torch_trainer(model: lm.Model, batch):
    P = torch_params(model)
    idx, targets, mask = (torch.from_numpy(a) for a in batch)
    groups = [{"params": [v for v in P.values() if v.ndim == 2], "weight_decay": 0.01},
              {"params": [v for v in P.values() if v.ndim != 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=1e-4, eps=1e-8)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch_loss(P, model.config, idx, targets, mask)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(P.values(), 1.0)
        opt.step()
    return step


def torch_generator(model: lm.Model, prompt: np.ndarray, new_tokens: int):
    cfg = model.config
    P = {k: torch.from_numpy(v) for k, v in model.weights().items()}
    ids = torch.from_numpy(prompt)

    def step(new, ctx, cache):
        n, Tk = new.shape[1], ctx.shape[1]
        causal = torch.full((n, Tk), -1e9).triu(Tk - n + 1)
        hf, att = _torch_blocks(P, cfg, P["wte"][new] + P["wpe"][Tk - n:Tk], causal, cache)
        pv, pgen, alpha = _torch_heads(P, hf[:, -1])
        copy = torch.zeros_like(pv).scatter_add_(1, ctx, torch.einsum("bh,bhs->bs", alpha, att[:, :, -1]))
        return pgen[:, None] * pv + (1 - pgen[:, None]) * copy

    def run():
        with torch.inference_mode():
            cache, ctx = [], ids
            prob = step(ids, ctx, cache)
            for _ in range(new_tokens - 1):
                nxt = prob.argmax(-1, keepdim=True)
                ctx = torch.cat([ctx, nxt], 1)
                prob = step(nxt, ctx, cache)
            return prob.numpy()
    return run


def check_torch_matches(model: lm.Model, batch, prompt) -> str:
    """The PyTorch model computes what the numpy one does: same loss, same next-token distribution."""
    loss, _ = lm.forward(model.params, model.config, *batch)
    with torch.no_grad():
        t_loss = float(torch_loss(torch_params(model), model.config, *(torch.from_numpy(a) for a in batch)))
    prob = numpy_generator(model, prompt, 8)()
    t_prob = torch_generator(model, prompt, 8)()
    return f"loss {loss:.5f} vs {t_loss:.5f}; after 8 greedy tokens max |dp| {np.abs(prob - t_prob).max():.1e}"


# --------------------------------------------------------------------------- measuring
def interleaved(fns: dict, repeats: int, warmup: int = 2) -> tuple[dict, dict]:
    """Median wall-clock and CPU seconds of each function, the functions run in turn so that changes in the
    machine's load hit all of them alike. On a shared machine the CPU time of a one-thread run is closer to
    what an idle machine's wall clock would show, so one-thread ratios compare CPU times."""
    wall, cpu = {k: [] for k in fns}, {k: [] for k in fns}
    for i in range(repeats + warmup):
        for k, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            if i >= warmup:
                wall[k].append(time.perf_counter() - t0)
                cpu[k].append(time.process_time() - c0)
    return ({k: statistics.median(v) for k, v in wall.items()}, {k: statistics.median(v) for k, v in cpu.items()})


def bench(base: lm.Model, args) -> None:
    """Every figure for every vocabulary size; within one figure all sizes and both implementations are
    timed in turn, so the ratios between them share the machine's load."""
    models = {v: model_with_vocab(base, v) for v in args.vocab}
    data = {v: batches(m.config) for v, m in models.items()}
    first = args.vocab[0]
    for v, m in models.items():
        print(f"vocabulary {v:,}: {lm.count_parameters(m):,} parameters"
              f"{' (the shipped checkpoint)' if m is base else ' (random weights)'}")
        if torch is not None:
            prompt = np.random.default_rng(1).integers(2, v, (1, 64))
            print(f"   PyTorch model check: {check_torch_matches(m, data[v]['fine-tuning'], prompt)}")
    for threads in args.threads:
        with threadpool_limits(threads, user_api="blas"):
            if torch is not None:
                torch.set_num_threads(threads)
            print(f"\n-- {threads} thread{'s' if threads > 1 else ''}")
            for name in ("pre-training", "fine-tuning"):
                fns = {}
                for v, m in models.items():
                    fns[v, "numpy"] = numpy_trainer(m, data[v][name])
                    if name == "fine-tuning":
                        fns[v, "every position"] = numpy_trainer(m, data[v][name], all_positions=True)
                    if torch is not None:
                        fns[v, "PyTorch"] = torch_trainer(m, data[v][name])
                t, cpu = interleaved(fns, args.steps)
                r = cpu if threads == 1 else t  # what the ratios compare
                shape = data[first][name][0].shape
                print(f"   training, {name} batch {shape[0]} x {shape[1]}"
                      f"{' (target >= 15,000 tokens/s)' if name == 'pre-training' else ''}:")
                for v in models:
                    n_tok = data[v][name][0].size
                    line = f"     vocab {v:5,}: {n_tok / t[v, 'numpy']:7,.0f} tokens/s"
                    if threads == 1:
                        line += f" ({n_tok / cpu[v, 'numpy']:,.0f} per CPU-second)"
                    if v != first:
                        line += f"; {r[first, 'numpy'] / r[v, 'numpy']:.2f}x vocab {first:,}'s speed"
                    if (v, "every position") in t:
                        line += f"; heads only at answer tokens: {r[v, 'numpy'] / r[v, 'every position']:.2f}x the time"
                    if (v, "PyTorch") in t:
                        line += f"; numpy/PyTorch {r[v, 'PyTorch'] / r[v, 'numpy']:.2f}"
                    print(line)
            print("   generation, 32 new tokens (greedy, KV cache) after a prompt of n tokens (target <= 100 ms at 64):")
            for n in (8, 32, 64, 128, 160) if threads == 1 else (64,):
                fns = {}
                for v, m in models.items():
                    if n == 64 or m is base:
                        p = np.random.default_rng(n).integers(2, v, (1, n))
                        fns[v, "numpy"] = numpy_generator(m, p, 32)
                        if torch is not None:
                            fns[v, "PyTorch"] = torch_generator(m, p, 32)
                t, cpu = interleaved(fns, args.repeats)
                r = cpu if threads == 1 else t
                for v in models:
                    if (v, "numpy") in t:
                        line = f"     n {n:3d}, vocab {v:5,}: {1000 * t[v, 'numpy']:6.1f} ms"
                        if threads == 1:
                            line += f" ({1000 * cpu[v, 'numpy']:.1f} ms CPU)"
                        if (v, "PyTorch") in t:
                            line += f"; numpy/PyTorch speed {r[v, 'PyTorch'] / r[v, 'numpy']:.2f}"
                        print(line)


def main() -> None:
    base = lm.load_base()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10, help="timed training steps per figure")
    ap.add_argument("--repeats", type=int, default=7, help="timed generations per figure")
    ap.add_argument("--vocab", type=int, nargs="+", default=[base.config["vocab_size"], 4096, 8192])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    print(f"base model: {base}\nload average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (other "
          f"processes share the CPU); PyTorch: {torch.__version__ if torch else 'not installed (column skipped)'}")
    bench(base, args)


if __name__ == "__main__":
    main()
