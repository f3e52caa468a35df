"""The in-context-learning study (issue 15): train on a mixture with associative-recall and few-shot tasks,
then measure with benchmarks/bench_in_context.py. Never touches data/base_model/.

    python benchmarks/study_in_context.py --name NAME [--init base|scratch] [--steps N] [--minutes M]
        [--mix general=0.4,passages=0.3,kv=0.1,labels=0.2] [--lr 1e-3] [--batch 16] [--eval-every 250]

--init base continues from the shipped checkpoint (a folder: from that checkpoint); --init scratch starts from random weights with the
shipped tokenizer (--d-model/--n-layer for a reduced-size model). Training stops at --steps or after
--minutes of wall time, whichever comes first; the checkpoint, its figures and its CPU time go to
/work/cache/study/NAME/ (study.json) unless --out says otherwise.

Mixture parts (shares of documents; every task uses training names, labels and values only, disjoint from
the benchmark's held-out ones):
  general   the shipped pre-training documents (helpers.corpus.general_documents, a fresh seed)
  passages  2-6 catalog passages of training products, then 1-3 price questions (answers count)
  kv        a key-value list ("kobe is 17; ..."), then 1-3 questions "What is kobe?" (answers count)
  labels    3-7 'Text/Label' pairs over 2-4 topics named by training label words (fresh per document);
            a label counts once its topic has been shown earlier in the document
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import bench_in_context as bench  # noqa: E402
from helpers import corpus, local_model as lm  # noqa: E402

STUDY_DIR = Path("/work/cache/study")
_, TRAIN_LABELS = bench.label_pools()
TRAIN_WORDS = sorted(set(TRAIN_LABELS) | set(corpus.PLACE_WORDS))
TRAIN_ITEMS = [i for i, _ in corpus.ITEMS] + corpus.NOUNS
CATEGORIES = sorted({c for _, c in corpus.ITEMS})


# --------------------------------------------------------------------------- documents as (text, counts) segments
def general_doc(r: random.Random) -> list[tuple[str, bool]]:
    prompt, completion = corpus.general_document(r)
    return [(prompt, False), (completion, True)] if prompt else [(completion, True)]


def _answer(r: random.Random, key: str, value: str, prose: str) -> str:
    return " " + (json.dumps({key: value}) if r.random() < 0.3 else prose)


def passages_doc(r: random.Random) -> list[tuple[str, bool]]:
    k = r.randint(2, 6)
    names = set()
    while len(names) < k:
        names.add(f"{r.choice(TRAIN_WORDS)} {r.choice(TRAIN_ITEMS)}")
    names = sorted(names)
    r.shuffle(names)
    prices = r.sample(range(10, 100), k)
    rows = [{"product": p, "category": r.choice(CATEGORIES), "price": f"{v}.00"} for p, v in zip(names, prices)]
    segs = [("Context: " + "\n".join(corpus.catalog_entry_text(row) for row in rows), False)]
    for j in r.sample(range(k), r.randint(1, min(3, k))):
        segs += [(f"\n{corpus.price_question(names[j])}\nAnswer:", False),
                 (_answer(r, "price", f"${prices[j]}.00", f"It costs ${prices[j]}.00."), True)]
    return segs


def kv_doc(r: random.Random) -> list[tuple[str, bool]]:
    k = r.randint(2, 8)
    keys = r.sample(TRAIN_WORDS, k)
    vals = [str(v) for v in r.sample(range(10, 100), k)] if r.random() < 0.5 else r.sample(TRAIN_WORDS, k)
    segs = [("Context: " + "; ".join(f"{a} is {b}" for a, b in zip(keys, vals)) + ".", False)]
    for j in r.sample(range(k), r.randint(1, min(3, k))):
        segs += [(f"\nWhat is {keys[j]}?\nAnswer:", False), (f" {vals[j]}", True)]
    return segs


def labels_doc(r: random.Random) -> list[tuple[str, bool]]:
    m = r.randint(2, 4)
    topics, names = r.sample(bench.TOPICS, m), r.sample(TRAIN_LABELS, m)
    lines = list(range(m)) + [r.randrange(m) for _ in range(r.randint(1, 3))]
    r.shuffle(lines)
    segs = [(bench.labels_line(sorted(names)), False)] if r.random() < 0.5 else []
    seen = set()
    for j in lines:
        answer = [(f" {names[j]}\n", j in seen)] if LABEL_END_COUNTS else [(f" {names[j]}", j in seen), ("\n", False)]
        segs += [(f"Text: {bench.topic_text(r, topics[j])}\nLabel:", False)] + answer
        seen.add(j)
    return segs


# whether the line end after a label counts in the loss (so the model learns where a label stops); run E2 of
# data/base_model/README.md was trained without it (--label-end-free)
LABEL_END_COUNTS = True
MAKERS = {"general": general_doc, "passages": passages_doc, "kv": kv_doc, "labels": labels_doc}


def encode_doc(tok: lm.Tokenizer, segs: list[tuple[str, bool]]) -> tuple[list[int], list[float]]:
    """Token ids (+ <eos>) and per-token loss weights; segments split at word boundaries, so encoding them one
    by one gives the tokens the whole text would."""
    ids, mask = [], []
    for text, counts in segs:
        t = tok.encode(text) if text else []
        ids += t
        mask += [1.0 if counts else 0.0] * len(t)
    ids.append(lm.EOS)
    mask.append(1.0 if segs[-1][1] else 0.0)
    mask[0] = 0.0  # the first token is predicted from the previous document
    return ids, mask


def sequences(tok: lm.Tokenizer, mix: dict[str, float], n_seqs: int, context: int, seed: int):
    """n_seqs packed training sequences (<= context + 1 tokens) drawn from the mixture."""
    r = random.Random(seed)
    parts, weights = zip(*mix.items())
    seqs, ids, mask = [], [], []
    while len(seqs) < n_seqs:
        d_ids, d_mask = encode_doc(tok, MAKERS[r.choices(parts, weights)[0]](r))
        d_ids, d_mask = d_ids[:context + 1], d_mask[:context + 1]
        if ids and len(ids) + len(d_ids) > context + 1:
            seqs.append((ids, mask))
            ids, mask = [], []
        ids, mask = ids + d_ids, mask + d_mask
    return seqs


def probe(model: lm.Model, kind: str, n: int = 100, seed: int = 99) -> float:
    """In-distribution accuracy on a training task (training names, fresh documents): the prompt up to the first
    answer that counts, greedy; the price (passages), the first word or number (kv), or the label the answer
    starts with (labels) must match."""
    from helpers.rag import price_in

    r = random.Random(seed)
    prompts, golds = [], []
    while len(prompts) < n:
        segs = MAKERS[kind](r)
        first = next((i for i, (_, counts) in enumerate(segs) if counts), None)
        if first is not None:
            prompts.append("".join(t for t, _ in segs[:first]))
            golds.append(segs[first][0])
    answers = lm.generate_batch(model, prompts, max_new_tokens=12)
    if kind == "labels":  # scored as the benchmark scores labels
        return float(np.mean([a.strip().lower().startswith(g.strip().lower()) for a, g in zip(answers, golds)]))
    key = price_in if kind == "passages" else (lambda a: (re.findall(r"[a-z0-9]+", a.lower()) or [None])[0])
    return float(np.mean([key(a) == key(g) for a, g in zip(answers, golds)]))


# --------------------------------------------------------------------------- training (bounded in time)
def train(model: lm.Model, seqs, *, lr: float, batch: int, warmup: int, deadline: float, eval_every: int,
          log, out: Path, stop_after: int | None = None) -> tuple[lm.Model, int, list]:
    params = {k: v.copy() for k, v in model.params.items()}
    new = lm.Model(dict(model.config), model.tokenizer, params, None, [])
    opt = lm.AdamW(params)
    steps = len(seqs) // batch
    evals = []
    rng = np.random.default_rng(0)
    order = rng.permutation(len(seqs))
    for s in range(steps):
        x, y, m = lm._batch(seqs, order[s * batch:(s + 1) * batch], np.float32)
        loss, cache = lm.forward(params, new.config, x, y, m)
        if not math.isfinite(loss):
            raise lm.DivergedError(s + 1, loss, lr)
        opt.step(lm.backward(params, new.config, cache), lm._lr_at(s, steps, lr, warmup, True))
        new.history.append({"step": s + 1, "train_loss": loss})
        if (s + 1) % 50 == 0:
            log(f"step {s + 1}/{steps} loss {np.mean([h['train_loss'] for h in new.history[-50:]]):.3f} "
                f"cpu {time.process_time():.0f}s")
        if eval_every and (s + 1) % eval_every == 0:
            fig = bench.measure(new, n=100, clauses=False)
            seen = {f"train_{kind}": probe(new, kind) for kind in ("passages", "kv", "labels")}
            evals.append({"step": s + 1, "cpu": time.process_time(), **seen, **{k: fig[k] for k in
                          ("zero_shot", "few_shot", "price_3", "price_5")}})
            log(f"  eval step {s + 1}: zero {fig['zero_shot']:.2f} few {fig['few_shot']:.2f} "
                f"price3 {fig['price_3']:.2f} price5 {fig['price_5']:.2f}; training names: "
                + " ".join(f"{k} {v:.2f}" for k, v in seen.items()))
            lm.save(new, out.with_name(out.name + "-last"))  # a checkpoint to diagnose while training goes on
        if s + 1 == stop_after:  # the schedule is still the one planned for all steps (to rebuild a timed-out run)
            return new, s + 1, evals
        if time.time() > deadline:
            log(f"time limit reached at step {s + 1}")
            return new, s + 1, evals
    return new, steps, evals


def parse_mix(text: str) -> dict[str, float]:
    mix = {}
    for part in text.split(","):
        name, _, share = part.partition("=")
        if name not in MAKERS:
            raise SystemExit(f"--mix: unknown part {name!r} (known: {', '.join(MAKERS)})")
        mix[name] = float(share)
    return mix


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--init", default="base", help="base, scratch, or a checkpoint folder to continue from")
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--n-layer", type=int, default=2)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=12.0)
    ap.add_argument("--mix", default="general=0.4,passages=0.3,kv=0.1,labels=0.2")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--out")
    ap.add_argument("--stop-after", type=int, help="stop after this many steps, the schedule planned for --steps")
    ap.add_argument("--label-end-free", action="store_true", help="the line end after a label does not count")
    args = ap.parse_args(argv)
    out = Path(args.out or STUDY_DIR / args.name)
    c0, t0 = time.process_time(), time.time()
    deadline = t0 + 60 * args.minutes

    def log(msg):
        print(f"[{args.name} {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    global LABEL_END_COUNTS
    LABEL_END_COUNTS = not args.label_end_free
    base = lm.load_base() if args.init in ("base", "scratch") else lm.load(args.init)
    if args.init == "scratch":
        cfg = dict(base.config, d_model=args.d_model, n_layer=args.n_layer)
        base = lm.Model(cfg, base.tokenizer, lm.init_params(cfg, np.random.default_rng(0)))
    mix = parse_mix(args.mix)
    seqs = sequences(base.tokenizer, mix, args.steps * args.batch, base.config["context"], args.seed)
    share = float(sum(sum(m) for _, m in seqs)) / sum(len(m) for _, m in seqs)
    log(f"{len(seqs)} sequences ready ({share:.0%} of tokens count); {base}")
    model, steps, evals = train(base, seqs, lr=args.lr, batch=args.batch, warmup=args.warmup, deadline=deadline,
                                eval_every=args.eval_every, log=log, out=out,
                                stop_after=args.stop_after)
    train_cpu, train_wall = time.process_time() - c0, time.time() - t0
    fig = bench.measure(model, n=300)
    fig["general_ppl"] = lm.perplexity(model, corpus.general_heldout())
    from helpers.demos import prompt_fix
    fix = prompt_fix(model)
    fig["format_failure_vague"], fig["format_failure_specified"] = fix["vague"], fix["format_specified"]
    lm.save(model, out)
    info = {"name": args.name, "command": "python benchmarks/study_in_context.py " + " ".join(argv or sys.argv[1:]),
            "init": args.init, "mixture": args.mix, "steps": steps, "lr": args.lr, "batch": args.batch,
            "cpu_seconds": train_cpu, "wall_seconds": train_wall, "evals": evals, "figures": fig}
    (out / "study.json").write_text(json.dumps(info, indent=1) + "\n")
    log(f"trained {steps} steps in {train_cpu:.0f} s CPU / {train_wall:.0f} s wall; saved to {out}")
    print(bench.report(fig))
    print(f"general held-out perplexity {fig['general_ppl']:.2f}; format failures vague/specified "
          f"{fix['vague']:.2f}/{fix['format_specified']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
