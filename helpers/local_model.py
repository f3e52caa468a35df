"""The lab's local language model: a tiny decoder-only transformer in numpy, trained for real on a CPU.

Read it top to bottom: tokenizer -> parameters -> forward -> backward -> AdamW -> training loops ->
generation -> save/load -> cache -> the base-model build. Every Bedrock model in the offline lab is this
model; every number a notebook shows comes from running it.

The architecture is GPT-2 in miniature (pre-LayerNorm blocks, GELU MLP, learned positions, output head
tied to the token embedding) plus a pointer-generator copy head (See et al. 2017): at each position the
model mixes "say a word from the vocabulary" with "copy a token from the context", weighted by a learned
gate. Without it a model this small never learns to read a passage in its prompt.
"""
from __future__ import annotations

import errno
import functools
import hashlib
import json
import math
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from helpers.paths import DATA_DIR, cache_dir

BASE_DIR = DATA_DIR / "base_model"
LORA_TARGETS = ("attn_w", "proj_w", "fc_w", "fc2_w")


# --------------------------------------------------------------------------- errors
class LocalModelError(ValueError):
    """Bad input to the local model; the message names the record or file."""


class EmptyDataError(LocalModelError):
    """A training set with no records."""


class CheckpointError(LocalModelError):
    """A checkpoint file that is missing, truncated or corrupt."""


class DivergedError(LocalModelError):
    """Training diverged (a NaN/inf loss, or one worse than twice both a uniform guess and the run's first loss): the
    learning rate is too high."""

    def __init__(self, step: int, loss: float, learning_rate: float):
        super().__init__(f"training diverged at step {step}: the loss became {loss:.4g} with learning rate "
                         f"{learning_rate:g}; train again with a smaller learning rate")
        self.step, self.loss, self.learning_rate = step, loss, learning_rate


# --------------------------------------------------------------------------- tokenizer
# A sentencepiece BPE model with byte fallback (data/base_model/README.md says why sentencepiece, and
# how it compares with Hugging Face `tokenizers`). Any character it has no piece for becomes its UTF-8
# bytes, so every string encodes. Sentencepiece writes a space as U+2581 '▁' inside pieces; a literal '▁'
# in the input would come back as a space, so encode() sends it as its three byte tokens instead and
# decode() maps pieces to bytes itself: decode(encode(text)) == text for every string.
EOS, UNK = 0, 1
WORD = re.compile(r" ?[A-Za-z0-9_]+| ?[^A-Za-z0-9_\s]|\s+")
PIECE_CUT = "\x1f"
SPACE_MARK = "\u2581"
TOKENIZER_FILE = "tokenizer.model"


class Tokenizer:
    """Subword tokenizer (sentencepiece BPE, byte fallback); id 0 is <eos>, id 1 is <unk> (never produced)."""

    def __init__(self, model_proto: bytes):
        import sentencepiece as spm

        self.proto = bytes(model_proto)
        self.sp = spm.SentencePieceProcessor(model_proto=self.proto)
        n = self.sp.get_piece_size()
        self.pieces = [self.sp.id_to_piece(i) for i in range(n)]
        self._bytes = [bytes([int(piece[3:5], 16)]) if self.sp.is_byte(i)
                       else b"" if self.sp.is_control(i) or self.sp.is_unknown(i)
                       else piece.replace(SPACE_MARK, " ").encode("utf-8") for i, piece in enumerate(self.pieces)]
        self._mark_ids = [self.sp.piece_to_id(f"<0x{b:02X}>") for b in SPACE_MARK.encode("utf-8")]

    @classmethod
    def build(cls, texts: list[str], *, vocab_size: int = 1024, keep_whole: tuple[str, ...] = (),
              seed: int = 0) -> "Tokenizer":
        """Train on texts: at most vocab_size pieces (fewer if the texts have fewer useful ones), the 256
        byte pieces included; each string in keep_whole is always one token. Same texts and seed, same
        tokenizer (one training thread: sentencepiece's result depends on the thread count)."""
        import io

        import sentencepiece as spm

        spm.set_random_generator_seed(seed)
        out = io.BytesIO()
        # training pieces never cross a word/number/symbol boundary: " price", "12", ".", "00" as the lab's
        # word-level tokenizer cut them, so a number in a passage is copied piece by piece as it was written
        cut = (PIECE_CUT.join(WORD.findall(t.replace(PIECE_CUT, ""))) for t in texts if t)
        spm.SentencePieceTrainer.train(
            sentence_iterator=cut, model_writer=out, model_type="bpe", pretokenization_delimiter=PIECE_CUT,
            vocab_size=vocab_size, hard_vocab_limit=False, byte_fallback=True, character_coverage=1.0,
            # lossless: no normalization, no added or collapsed spaces, runs of spaces may be pieces
            normalization_rule_name="identity", add_dummy_prefix=False, remove_extra_whitespaces=False,
            allow_whitespace_only_pieces=True, max_sentence_length=1 << 16,
            user_defined_symbols=list(keep_whole), eos_id=EOS, unk_id=UNK, bos_id=-1, pad_id=-1,
            eos_piece="<eos>", unk_piece="<unk>", num_threads=1, minloglevel=2)
        return cls(out.getvalue())

    def encode(self, text: str) -> list[int]:
        """Token ids of any string."""
        if SPACE_MARK not in text:
            return self.sp.encode(text)
        out = []
        for i, ids in enumerate(self.sp.encode(text.split(SPACE_MARK))):
            out += (self._mark_ids if i else []) + ids
        return out

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """encode() of each text (one call into sentencepiece when no text has a literal '▁')."""
        if any(SPACE_MARK in t for t in texts):
            return [self.encode(t) for t in texts]
        return self.sp.encode(list(texts))

    def decode(self, ids) -> str:
        """Text of token ids (<eos> dropped); bytes that do not form UTF-8, as a model may emit, become U+FFFD."""
        return b"".join(self._bytes[i] for i in ids).decode("utf-8", errors="replace")

    def __len__(self) -> int:
        return len(self.pieces)


# --------------------------------------------------------------------------- the model object
class Model:
    """A config dict, a tokenizer, float32 parameters, optional LoRA adapters, and a training history."""

    def __init__(self, config: dict, tokenizer: Tokenizer, params: dict, lora: dict | None = None,
                 history: list | None = None):
        self.config, self.tokenizer, self.params = config, tokenizer, params
        self.lora = lora  # {"rank", "alpha", "ab": {name: (A, B)}} or None
        self.history = history or []
        self._merged = None

    def __repr__(self) -> str:
        c = self.config
        lora = f", lora_rank={self.lora['rank']}" if self.lora else ""
        return (f"Model(layers={c['n_layer']}, d={c['d_model']}, heads={c['n_head']}, context={c['context']}, "
                f"vocab={len(self.tokenizer)}, params={count_parameters(self):,}{lora})")

    def weights(self) -> dict:
        """Parameters in use: base weights plus the LoRA update, merged once and kept."""
        if self.lora is None:
            return self.params
        if self._merged is None:
            s = self.lora["alpha"] / self.lora["rank"]
            self._merged = dict(self.params)
            for k, (A, B) in self.lora["ab"].items():
                self._merged[k] = self.params[k] + s * (A @ B)
        return self._merged


def count_parameters(model: Model, trainable: bool = False) -> int:
    """Number of parameters; with trainable=True only what the last training run updated (LoRA: A and B)."""
    if trainable and model.lora:
        return int(sum(A.size + B.size for A, B in model.lora["ab"].values()))
    return int(sum(v.size for v in model.params.values()))


def init_params(config: dict, rng: np.random.Generator, dtype=np.float32) -> dict:
    """GPT-2 style initial weights; residual projections scaled down by depth."""
    V, d, L, H, T = config["vocab_size"], config["d_model"], config["n_layer"], config["n_head"], config["context"]
    std_res = 0.02 / math.sqrt(2 * L)
    p = {"wte": rng.normal(0, 0.02, (V, d)), "wpe": rng.normal(0, 0.01, (T, d)),
         "lnf_g": np.ones(d), "lnf_b": np.zeros(d),
         # copy head: gate p_gen = sigmoid(h.gen_w + gen_b); head mixture softmax(h @ mix_w + mix_b)
         "gen_w": rng.normal(0, 0.02, d), "gen_b": np.full(1, 2.0), "mix_w": rng.normal(0, 0.02, (d, H)),
         "mix_b": np.zeros(H)}
    for l in range(L):
        p.update({f"{l}.ln1_g": np.ones(d), f"{l}.ln1_b": np.zeros(d),
                  f"{l}.attn_w": rng.normal(0, 0.02, (d, 3 * d)), f"{l}.attn_b": np.zeros(3 * d),
                  f"{l}.proj_w": rng.normal(0, std_res, (d, d)), f"{l}.proj_b": np.zeros(d),
                  f"{l}.ln2_g": np.ones(d), f"{l}.ln2_b": np.zeros(d),
                  f"{l}.fc_w": rng.normal(0, 0.02, (d, 4 * d)), f"{l}.fc_b": np.zeros(4 * d),
                  f"{l}.fc2_w": rng.normal(0, std_res, (4 * d, d)), f"{l}.fc2_b": np.zeros(d)})
    return {k: v.astype(dtype) for k, v in p.items()}


# --------------------------------------------------------------------------- building blocks
# The elementwise steps work in place on arrays they made themselves: at this size a temporary costs about as
# much as the arithmetic on it.
def _ln(x, g, b):
    mu = x.mean(-1, keepdims=True)
    xc = x - mu
    inv = 1.0 / np.sqrt((xc * xc).mean(-1, keepdims=True) + 1e-5)
    xh = xc * inv
    return xh * g + b, (xh, inv, g)


def _ln_back(dy, cache):
    xh, inv, g = cache
    dx = dy * g
    tmp = dx * xh
    proj = tmp.mean(-1, keepdims=True)
    dx -= dx.mean(-1, keepdims=True)
    dx -= np.multiply(xh, proj, out=tmp)
    dx *= inv
    d = xh.shape[-1]
    return dx, (dy * xh).reshape(-1, d).sum(0), dy.reshape(-1, d).sum(0)


_GC = math.sqrt(2 / math.pi)


def _gelu(x):
    """tanh-approximated GELU of x, and the tanh term its gradient reuses."""
    t = x * x
    t *= 0.044715 * _GC
    t += _GC
    t *= x
    np.tanh(t, out=t)  # tanh(GC * (x + 0.044715 x^3))
    y = t + 1
    y *= x
    y *= 0.5
    return y, t


def _gelu_back(dy, x, t):
    """dy times GELU'(x) = 0.5 (1 + t) + 0.5 x (1 - t^2) GC (1 + 3 * 0.044715 x^2); overwrites dy."""
    s = x * x
    s *= 1.5 * 0.044715 * _GC
    s += 0.5 * _GC
    s *= x
    tt = t * t
    np.subtract(1, tt, out=tt)
    s *= tt
    np.multiply(t, 0.5, out=tt)
    tt += 0.5
    s += tt
    dy *= s
    return dy


def _softmax(z, axis=-1):
    """Softmax along axis, computed in place: z must be a temporary of the caller's."""
    z -= z.max(axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis, keepdims=True)
    return z


def _scores(q, k, bias):
    """Attention probabilities softmax(q k^T / sqrt(dh) + bias) per head."""
    s = q @ k.transpose(0, 1, 3, 2)
    s *= 1.0 / math.sqrt(q.shape[-1])
    s += bias
    return _softmax(s)


# --------------------------------------------------------------------------- forward and backward
def forward(p: dict, cfg: dict, idx: np.ndarray, targets: np.ndarray, mask: np.ndarray, *,
            all_positions: bool = False):
    """Mean NLL of targets under the mixed (vocabulary + copy) distribution, and a cache for backward.

    idx, targets: (B, T) token ids; mask: (B, T) weights of the positions that count in the loss. The output
    heads run only where the weight is non-zero; all_positions=True runs them everywhere (same loss and
    gradients, slower: the benchmark measures the difference).
    """
    B, T = idx.shape
    H = cfg["n_head"]
    d = p["wte"].shape[1]
    dh = d // H
    x = p["wte"][idx] + p["wpe"][:T]
    causal = np.triu(np.full((T, T), -1e9, dtype=x.dtype), 1)
    layers = []
    for l in range(cfg["n_layer"]):
        h, c1 = _ln(x, p[f"{l}.ln1_g"], p[f"{l}.ln1_b"])
        qkv = h @ p[f"{l}.attn_w"] + p[f"{l}.attn_b"]
        q, k, v = (a.reshape(B, T, H, dh).transpose(0, 2, 1, 3) for a in np.split(qkv, 3, axis=-1))
        P = _scores(q, k, causal)
        o = (P @ v).transpose(0, 2, 1, 3).reshape(B, T, d)
        x = x + o @ p[f"{l}.proj_w"] + p[f"{l}.proj_b"]
        h2, c2 = _ln(x, p[f"{l}.ln2_g"], p[f"{l}.ln2_b"])
        u = h2 @ p[f"{l}.fc_w"] + p[f"{l}.fc_b"]
        f, t = _gelu(u)
        x = x + f @ p[f"{l}.fc2_w"] + p[f"{l}.fc2_b"]
        layers.append((h, c1, q, k, v, P, o, h2, c2, u, f, t))
    hf, cf = _ln(x, p["lnf_g"], p["lnf_b"])
    # The heads only where the loss counts (a zero weight contributes nothing to the loss or any gradient):
    # in fine-tuning that is the answer tokens, and the vocabulary head is the costliest step of the model.
    bs, ts = np.nonzero(np.ones_like(mask) if all_positions else mask)
    hs, ys, ws = hf[bs, ts], targets[bs, ts], mask[bs, ts]  # (N, d), (N,), (N,)
    # "say a word": the tied output head. Its softmax stays unnormalised (ev / zv): the one pass over the
    # (N, vocabulary) array that normalising would take is folded into backward's logit gradient.
    ev = hs @ p["wte"].T
    ev -= ev.max(-1, keepdims=True)
    np.exp(ev, out=ev)
    zv = ev.sum(-1)
    pgen = 1.0 / (1.0 + np.exp(-(hs @ p["gen_w"] + p["gen_b"])))  # (N,) gate
    alpha = _softmax(hs @ p["mix_w"] + p["mix_b"])  # (N, H): which heads point
    Pc = layers[-1][5][bs, :, ts]  # (N, H, T): the last layer's attention of each counted position
    A = np.einsum("nh,nhs->ns", alpha, Pc)  # copy attention over context positions
    E = (idx[bs] == ys[:, None]).astype(x.dtype)  # context token j is the target
    c = (A * E).sum(-1)  # probability of copying the target
    pvy = ev[np.arange(len(ys)), ys] / zv
    prob = pgen * pvy + (1 - pgen) * c
    n = max(float(mask.sum()), 1.0)
    loss = float(-(ws * np.log(np.maximum(prob, 1e-30))).sum() / n)
    return loss, (idx, (bs, ts, ys, ws), n, layers, hs, cf, (ev, zv), pgen, alpha, Pc, E, c, pvy, prob)


def backward(p: dict, cfg: dict, cache) -> dict:
    """Gradients of the loss with respect to every parameter (hand-written chain rule); it reuses the
    cache's buffers, so call it once per forward."""
    idx, (bs, ts, ys, ws), n, layers, hs, cf, (ev, zv), pgen, alpha, Pc, E, c, pvy, prob = cache
    B, T = idx.shape
    H = cfg["n_head"]
    d = hs.shape[-1]
    dh = d // H
    g = {}
    gq = -ws / (n * np.maximum(prob, 1e-30))  # dL/dprob at the counted positions
    # the gate
    dzg = gq * (pvy - c) * pgen * (1 - pgen)
    g["gen_w"] = hs.T @ dzg
    g["gen_b"] = dzg.sum(keepdims=True)
    # the vocabulary softmax: d prob / d logit_k = pgen * pvy * (onehot_y - pv)_k
    w = gq * pgen * pvy
    dlogits = ev  # the forward's buffer, no longer needed: backward runs once per forward
    dlogits *= (-w / zv)[:, None]
    dlogits[np.arange(len(ys)), ys] += w
    # the copy attention and its head mixture
    dA = (gq * (1 - pgen))[:, None] * E
    dalpha = np.einsum("ns,nhs->nh", dA, Pc)
    dzm = alpha * (dalpha - (alpha * dalpha).sum(-1, keepdims=True))
    g["mix_w"] = hs.T @ dzm
    g["mix_b"] = dzm.sum(0)
    dP_copy = alpha[:, :, None] * dA[:, None, :]  # (N, H, T), added to the last layer's dP below
    dhf = np.zeros(cf[0].shape, hs.dtype)
    dhf[bs, ts] = dlogits @ p["wte"] + dzg[:, None] * p["gen_w"] + dzm @ p["mix_w"].T
    g["wte"] = dlogits.T @ hs
    dx, g["lnf_g"], g["lnf_b"] = _ln_back(dhf, cf)
    for l in reversed(range(cfg["n_layer"])):
        h, c1, q, k, v, P, o, h2, c2, u, f, t = layers[l]
        g[f"{l}.fc2_w"] = f.reshape(-1, 4 * d).T @ dx.reshape(-1, d)
        g[f"{l}.fc2_b"] = dx.reshape(-1, d).sum(0)
        du = _gelu_back(dx @ p[f"{l}.fc2_w"].T, u, t)
        g[f"{l}.fc_w"] = h2.reshape(-1, d).T @ du.reshape(-1, 4 * d)
        g[f"{l}.fc_b"] = du.reshape(-1, 4 * d).sum(0)
        dh2, g[f"{l}.ln2_g"], g[f"{l}.ln2_b"] = _ln_back(du @ p[f"{l}.fc_w"].T, c2)
        dx = dx + dh2
        g[f"{l}.proj_w"] = o.reshape(-1, d).T @ dx.reshape(-1, d)
        g[f"{l}.proj_b"] = dx.reshape(-1, d).sum(0)
        do = (dx @ p[f"{l}.proj_w"].T).reshape(B, T, H, dh).transpose(0, 2, 1, 3)
        dP = do @ v.transpose(0, 1, 3, 2)
        if l == cfg["n_layer"] - 1:
            dP[bs, :, ts] += dP_copy
        dv = P.transpose(0, 1, 3, 2) @ do
        ds = dP
        ds -= (dP * P).sum(-1, keepdims=True)
        ds *= P
        ds *= 1.0 / math.sqrt(dh)
        dq, dk = ds @ k, ds.transpose(0, 1, 3, 2) @ q
        dqkv = np.concatenate([a.transpose(0, 2, 1, 3).reshape(B, T, d) for a in (dq, dk, dv)], axis=-1)
        g[f"{l}.attn_w"] = h.reshape(-1, d).T @ dqkv.reshape(-1, 3 * d)
        g[f"{l}.attn_b"] = dqkv.reshape(-1, 3 * d).sum(0)
        dh1, g[f"{l}.ln1_g"], g[f"{l}.ln1_b"] = _ln_back(dqkv @ p[f"{l}.attn_w"].T, c1)
        dx = dx + dh1
    g["wpe"] = np.zeros_like(p["wpe"])
    g["wpe"][:T] = dx.sum(0)
    np.add.at(g["wte"], idx.reshape(-1), dx.reshape(-1, d))
    return g


def lora_grads(g: dict, lora: dict) -> dict:
    """Chain rule through W = W0 + (alpha/rank) A @ B: gradients of A and B from the gradient of W."""
    s = lora["alpha"] / lora["rank"]
    out = {}
    for k, (A, B) in lora["ab"].items():
        out[k + ".A"] = s * g[k] @ B.T
        out[k + ".B"] = s * A.T @ g[k]
    return out


# --------------------------------------------------------------------------- optimizer
class AdamW:
    """Adam with decoupled weight decay on matrices, and global gradient-norm clipping at 1."""

    def __init__(self, params: dict, weight_decay: float = 0.01, b1=0.9, b2=0.999, eps=1e-8):
        self.params, self.wd, self.b1, self.b2, self.eps = params, weight_decay, b1, b2, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads: dict, lr: float) -> None:
        """One update of every parameter in place."""
        norm = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
        scale = min(1.0, 1.0 / (norm + 1e-6))
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for k, g in grads.items():
            m, v, p = self.m[k], self.v[k], self.params[k]
            # two scratch arrays per parameter instead of a temporary per operation (same arithmetic)
            g = g * scale
            tmp = np.multiply(g, 1 - self.b1)
            m *= self.b1
            m += tmp
            np.multiply(g, 1 - self.b2, out=tmp)
            tmp *= g
            v *= self.b2
            v += tmp
            if p.ndim == 2:
                p *= 1 - lr * self.wd
            den = np.divide(v, c2, out=g)
            np.sqrt(den, out=den)
            den += self.eps
            np.multiply(m, lr / c1, out=tmp)
            tmp /= den
            p -= tmp


# --------------------------------------------------------------------------- data -> batches
def _encode_pairs(model: Model, pairs) -> list[tuple[list[int], int]]:
    """(token ids of prompt + completion + <eos>, number of prompt tokens) per pair.

    A pair longer than the context (context + 1 tokens with <eos>) is cut to fit, keeping what the
    model learns from: the whole completion and the END of the prompt (the instruction and question a
    prompt usually ends with); a completion longer than the context alone keeps its first tokens, after
    one prompt token. Bedrock's own limits, far larger, are checked before this (helpers.formats)."""
    if not pairs:
        raise EmptyDataError("the training set is empty (0 records)")
    room = model.config["context"] + 1
    out = []
    prompts, completions = zip(*pairs)
    for a, b in zip(model.tokenizer.encode_batch(list(prompts)), model.tokenizer.encode_batch(list(completions))):
        b = (b + [EOS])[:room - 1]
        a = a[-(room - len(b)):]
        out.append((a + b, len(a)))
    return out


def _encode_texts(model: Model, texts) -> list[tuple[list[int], int]]:
    """(token ids + <eos>, 0) per text, every token counting in the loss; a text longer than the context
    is split into consecutive context-long pieces, so continued pre-training reads all of it."""
    if not texts:
        raise EmptyDataError("the training set is empty (0 records)")
    room = model.config["context"] + 1
    out = []
    for ids in model.tokenizer.encode_batch(list(texts)):
        ids = ids + [EOS]
        out += [(ids[i:i + room], 0) for i in range(0, len(ids), room)]
    return out


def _pack(examples: list[tuple[list[int], int]], context: int) -> list[tuple[list[int], list[float]]]:
    """Greedily pack examples into sequences of at most context+1 tokens; each gets a loss mask over its
    targets (0 on prompt tokens). Packing whole examples keeps every passage with its question."""
    seqs, ids, m = [], [], []
    for toks, n_prompt in examples:
        if ids and len(ids) + len(toks) > context + 1:
            seqs.append((ids, m))
            ids, m = [], []
        # the target at position j is token j+1; the first token of an example is predicted from the
        # previous example (or nothing), so it never counts
        m += [0.0] + [0.0 if j < n_prompt else 1.0 for j in range(1, len(toks))]
        ids += toks
    seqs.append((ids, m))
    return seqs


def _pack_each(examples: list[tuple[list[int], int]]) -> list[tuple[list[int], list[float]]]:
    """One sequence per example (fine-tuning batches are short; padding is cheap)."""
    return [(ids, [0.0] + [0.0 if j < n else 1.0 for j in range(1, len(ids))]) for ids, n in examples]


def _batch(seqs, rows, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, targets, mask) arrays for the given sequences, right-padded with <eos>."""
    L = max(len(seqs[i][0]) for i in rows) - 1
    x = np.zeros((len(rows), L), np.int64)
    y = np.zeros((len(rows), L), np.int64)
    m = np.zeros((len(rows), L), dtype)
    for r, i in enumerate(rows):
        ids, mask = seqs[i]
        x[r, :len(ids) - 1], y[r, :len(ids) - 1], m[r, :len(ids) - 1] = ids[:-1], ids[1:], mask[1:]
    return x, y, m


# --------------------------------------------------------------------------- training
def _lr_at(step: int, total: int, lr: float, warmup: int, cosine: bool) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    if not cosine:
        return lr
    frac = (step - warmup) / max(1, total - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def _copy(model: Model) -> Model:
    params = {k: v.copy() for k, v in model.weights().items()}  # LoRA of a previous run is merged in
    return Model(dict(model.config), model.tokenizer, params, None, [])


def _train(model: Model, seqs, *, epochs: int, batch_size: int, learning_rate: float, warmup_steps: int,
           seed: int, lora_rank: int | None = None, val_seqs=None, cosine: bool = False,
           progress: bool = True, on_step: Callable | None = None, desc: str = "training") -> Model:
    """The training loop shared by pre-training, continued pre-training and fine-tuning; returns a new model."""
    from tqdm.auto import tqdm

    new = _copy(model)
    rng = np.random.default_rng(seed)
    dtype = new.params["wte"].dtype
    if lora_rank:
        adapted = {k: v for k, v in new.params.items() if k.split(".")[-1] in LORA_TARGETS}
        # A random, B zero: training starts exactly at the base model (as peft does); its own random stream,
        # so LoRA and full fine-tuning with the same seed see the same batches
        init = np.random.default_rng([seed, 1])
        new.lora = {"rank": lora_rank, "alpha": 2.0 * lora_rank,
                    "ab": {k: ((init.uniform(-1, 1, (w.shape[0], lora_rank)) / math.sqrt(w.shape[0])).astype(dtype),
                               np.zeros((lora_rank, w.shape[1]), dtype)) for k, w in sorted(adapted.items())}}
        trainable = {f"{k}.{s}": ab[j] for k, ab in new.lora["ab"].items() for j, s in enumerate("AB")}
    else:
        trainable = new.params
    opt = AdamW(trainable)
    steps_per_epoch = math.ceil(len(seqs) / batch_size)
    total = epochs * steps_per_epoch
    bar = tqdm(total=total, desc=desc, disable=not progress, leave=False)
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(len(seqs))
        for s in range(steps_per_epoch):
            x, y, m = _batch(seqs, order[s * batch_size:(s + 1) * batch_size], dtype)
            new._merged = None
            p = new.weights()
            loss, cache = forward(p, new.config, x, y, m)
            # the weights blew up (stop before they are returned, cached or served) when the loss is NaN/inf, or
            # worse than twice a uniform guess (ln vocab) and than twice where this run started: the first step
            # is the base model's own loss on this data, before any update, and text far from its pre-training
            # can start above 2 ln(vocab) (English news on the shipped checkpoint: 16-17)
            if not step:
                start_loss = loss
            if not math.isfinite(loss) or loss > 2 * max(math.log(new.config["vocab_size"]), start_loss):
                bar.close()
                raise DivergedError(step + 1, loss, learning_rate)
            g = backward(p, new.config, cache)
            opt.step(lora_grads(g, new.lora) if lora_rank else g,
                     _lr_at(step, total, learning_rate, warmup_steps, cosine))
            new._merged = None
            last = s == steps_per_epoch - 1
            val = _mean_loss(new, val_seqs) if (val_seqs and last) else None
            rec = {"step": step + 1, "epoch": epoch + 1, "train_loss": loss, "val_loss": val}
            new.history.append(rec)
            if on_step:
                on_step(rec)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}")
            step += 1
    bar.close()
    new._merged = None
    return new


def _mean_loss(model: Model, seqs, batch_size: int = 16) -> float:
    """Token-weighted mean loss over packed sequences (no gradients)."""
    p = model.weights()
    tot = cnt = 0.0
    for i in range(0, len(seqs), batch_size):
        x, y, m = _batch(seqs, range(i, min(i + batch_size, len(seqs))), p["wte"].dtype)
        loss, _ = forward(p, model.config, x, y, m)
        tot += loss * float(m.sum())
        cnt += float(m.sum())
    return tot / max(cnt, 1.0)


def finetune(model: Model, pairs, *, epochs: int = 2, batch_size: int = 8, learning_rate: float = 1e-4,
             warmup_steps: int = 0, lora_rank: int | None = None, val_pairs=None, seed: int = 0,
             progress: bool = True, on_step: Callable | None = None) -> Model:
    """Instruction fine-tuning on (prompt, completion) pairs, loss on completion tokens only; a new model."""
    seqs = _pack_each(_encode_pairs(model, pairs))
    val = _pack_each(_encode_pairs(model, val_pairs)) if val_pairs else None
    return _train(model, seqs, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                  warmup_steps=warmup_steps, seed=seed, lora_rank=lora_rank, val_seqs=val,
                  progress=progress, on_step=on_step, desc="fine-tuning")


def continue_pretraining(model: Model, texts, *, epochs: int = 1, batch_size: int = 8,
                         learning_rate: float = 1e-3, replay_texts=None, seed: int = 0, progress: bool = True,
                         on_step: Callable | None = None) -> Model:
    """Continued pre-training: the full language-model loss on unlabelled texts (plus replayed general
    texts, mixed in at random, if given); a new model."""
    examples = _encode_texts(model, texts)
    if replay_texts:
        examples += _encode_texts(model, replay_texts)
        order = np.random.default_rng(seed + 1).permutation(len(examples))
        examples = [examples[i] for i in order]
    seqs = _pack(examples, model.config["context"])
    return _train(model, seqs, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                  warmup_steps=0, seed=seed, progress=progress, on_step=on_step,
                  desc="continued pre-training")


def packed_sequences(model: Model, texts) -> int:
    """How many context-long sequences continue_pretraining packs these texts into (its batches count these)."""
    return len(_pack(_encode_texts(model, texts), model.config["context"]))


def perplexity(model: Model, texts) -> float:
    """exp(mean negative log-likelihood per token) of the texts, each followed by <eos>."""
    seqs = _pack(_encode_texts(model, texts), model.config["context"])
    return math.exp(_mean_loss(model, seqs))


def count_tokens(model: Model, text: str) -> int:
    """Number of tokens in text."""
    return len(model.tokenizer.encode(text))


def prompt_window(model: Model, max_new_tokens: int) -> int:
    """How many prompt tokens generation reads at most: the context less room for the answer (up to a
    quarter of the context), so a long prompt still leaves space to reply."""
    return model.config["context"] - max(1, min(max_new_tokens, model.config["context"] // 4))


def prompt_tokens_read(model: Model, prompt: str, max_new_tokens: int) -> int:
    """How many tokens of prompt generation reads: all of them, or the last prompt_window() of a longer one."""
    return min(count_tokens(model, prompt), prompt_window(model, max_new_tokens))


# --------------------------------------------------------------------------- generation with a KV cache
def _step(p: dict, cfg: dict, idx, pos, key_ok, cache):
    """Forward over new tokens only, reusing cached keys/values. Returns the next-token distribution of
    the last new token (vocabulary and copy mixed), and the extended cache."""
    B, T = idx.shape
    H = cfg["n_head"]
    d = p["wte"].shape[1]
    dh = d // H
    kv, ctx_ids = cache if cache is not None else ([None] * cfg["n_layer"], np.zeros((B, 0), np.int64))
    ctx_ids = np.concatenate([ctx_ids, idx], 1)
    Tk = ctx_ids.shape[1]
    x = p["wte"][idx] + p["wpe"][pos]
    causal = np.arange(Tk)[None, :] <= (Tk - T + np.arange(T))[:, None]
    bias = np.where(causal[None, None] & key_ok[:, None, None, :], 0.0, -1e9).astype(x.dtype)
    new_kv = []
    for l in range(cfg["n_layer"]):
        h, _ = _ln(x, p[f"{l}.ln1_g"], p[f"{l}.ln1_b"])
        q, k, v = (a.reshape(B, T, H, dh).transpose(0, 2, 1, 3)
                   for a in np.split(h @ p[f"{l}.attn_w"] + p[f"{l}.attn_b"], 3, axis=-1))
        if kv[l] is not None:
            k, v = np.concatenate([kv[l][0], k], 2), np.concatenate([kv[l][1], v], 2)
        new_kv.append((k, v))
        P = _scores(q, k, bias)
        x = x + (P @ v).transpose(0, 2, 1, 3).reshape(B, T, d) @ p[f"{l}.proj_w"] + p[f"{l}.proj_b"]
        h2, _ = _ln(x, p[f"{l}.ln2_g"], p[f"{l}.ln2_b"])
        x = x + _gelu(h2 @ p[f"{l}.fc_w"] + p[f"{l}.fc_b"])[0] @ p[f"{l}.fc2_w"] + p[f"{l}.fc2_b"]
    P_last = P[:, :, -1]  # the last layer's attention of the newest token: where the copy head points
    hf, _ = _ln(x[:, -1], p["lnf_g"], p["lnf_b"])
    pv = _softmax(hf @ p["wte"].T)
    pgen = 1.0 / (1.0 + np.exp(-(hf @ p["gen_w"] + p["gen_b"])))
    alpha = _softmax(hf @ p["mix_w"] + p["mix_b"])
    a = np.einsum("bh,bhs->bs", alpha, P_last)
    V = pv.shape[1]
    # the copy distribution: each context token's attention summed onto its id, all rows in one bincount
    pc = np.bincount((ctx_ids + V * np.arange(B)[:, None]).ravel(), weights=a.ravel(), minlength=B * V)
    return pgen[:, None] * pv + (1 - pgen[:, None]) * pc.reshape(B, V).astype(pv.dtype), (new_kv, ctx_ids)


def _pick(prob: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator) -> np.ndarray:
    """Next token per row: greedy at temperature 0, else sampled from the tempered nucleus."""
    if temperature <= 0:
        return prob.argmax(-1)
    w = np.power(np.maximum(prob, 1e-30), 1.0 / temperature)
    w /= w.sum(-1, keepdims=True)
    order = np.argsort(-w, axis=-1, kind="stable")
    ws = np.take_along_axis(w, order, -1)  # each row's probabilities, largest first
    # the nucleus: the largest tokens up to and including the first whose cumulative probability reaches top_p
    cum = np.cumsum(ws, -1)
    ws[:, 1:][cum[:, :-1] >= top_p] = 0
    # inverse-CDF sampling, one uniform draw per row (as Generator.choice draws them)
    cdf = np.cumsum(ws / ws.sum(-1, keepdims=True), -1, dtype=np.float64)
    cdf /= cdf[:, -1:]
    pick = (cdf <= rng.random(len(prob))[:, None]).sum(-1)
    return order[np.arange(len(prob)), pick]


def generate_ids(model: Model, prompts: list[str], *, max_new_tokens: int = 32, temperature: float = 0.0,
                 top_p: float = 1.0, seed: int = 0) -> list[list[int]]:
    """New token ids for each prompt (left-padded batch, KV cache); stops at <eos> or the context limit."""
    p, cfg = model.weights(), model.config
    rng = np.random.default_rng(seed)
    keep = prompt_window(model, max_new_tokens)
    enc = [e[-keep:] or [EOS] for e in model.tokenizer.encode_batch(prompts)]
    lens = np.array([len(e) for e in enc])
    L = int(lens.max())
    pad = L - lens
    key_ok = np.arange(L)[None, :] >= pad[:, None]
    idx = np.full((len(enc), L), EOS, np.int64)
    idx[key_ok] = np.concatenate(enc)  # row by row, each prompt right-aligned
    pos = np.clip(np.arange(L)[None, :] - pad[:, None], 0, None)
    prob, cache = _step(p, cfg, idx, pos, key_ok, None)
    done = np.zeros(len(enc), bool)
    out = np.zeros((len(enc), max_new_tokens), np.int64)
    kept = np.zeros((len(enc), max_new_tokens), bool)  # a row's tokens until its <eos> or the context limit
    for s in range(max_new_tokens):
        nxt = _pick(prob, temperature, top_p, rng)
        done |= (nxt == EOS) | (lens + s >= cfg["context"])
        out[:, s], kept[:, s] = nxt, ~done
        if done.all() or s == max_new_tokens - 1:
            break
        key_ok = np.concatenate([key_ok, np.ones((len(enc), 1), bool)], 1)
        prob, cache = _step(p, cfg, nxt[:, None], np.minimum(lens + s, cfg["context"] - 1)[:, None], key_ok, cache)
    return [o[k].tolist() for o, k in zip(out, kept)]


def generate_batch(model: Model, prompts: list[str], *, max_new_tokens: int = 32, temperature: float = 0.0,
                   top_p: float = 1.0, seed: int = 0) -> list[str]:
    """New text for each prompt: generate_ids(), decoded."""
    return [model.tokenizer.decode(o) for o in generate_ids(model, prompts, max_new_tokens=max_new_tokens,
                                                             temperature=temperature, top_p=top_p, seed=seed)]


def generate(model: Model, prompt: str, *, max_new_tokens: int = 32, temperature: float = 0.0,
             top_p: float = 1.0, seed: int = 0) -> str:
    """The model's continuation of prompt (new text only): greedy at temperature 0, else sampled.

    Any text is a prompt; one longer than the context keeps its last prompt_window() tokens."""
    return generate_batch(model, [prompt], max_new_tokens=max_new_tokens, temperature=temperature,
                          top_p=top_p, seed=seed)[0]


# --------------------------------------------------------------------------- save / load
def _config_blob(model: Model) -> dict:
    return {"config": model.config, "tokenizer_sha256": hashlib.sha256(model.tokenizer.proto).hexdigest(),
            "history": model.history,
            "lora": None if model.lora is None else {"rank": model.lora["rank"], "alpha": model.lora["alpha"]}}


def _arrays(model: Model) -> dict:
    arrays = dict(model.params)
    if model.lora:
        for k, (A, B) in model.lora["ab"].items():
            arrays[f"lora:{k}.A"], arrays[f"lora:{k}.B"] = A, B
    return arrays


PARTIAL = ".partial-"  # marks a folder save() is still writing: .NAME.partial-HOST-PID-RANDOM


def save(model: Model, path, *, replace: bool = True) -> Path:
    """Write the model to the directory path: weights.npz, tokenizer.model (its own copy, so the folder loads
    alone) and config.json (config, history, and both files' SHA-256). Written to a temporary directory first,
    then renamed into place, so a reader never sees half a model. replace=False keeps a model another process
    put at path first (and returns its path); otherwise the last writer wins. Concurrent saves never fail."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep_partial(path.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}{PARTIAL}{_owner()}-", dir=path.parent))
    try:
        np.savez(tmp / "weights.npz", **_arrays(model))
        (tmp / TOKENIZER_FILE).write_bytes(model.tokenizer.proto)
        blob = _config_blob(model)
        blob["weights_sha256"] = hashlib.sha256((tmp / "weights.npz").read_bytes()).hexdigest()
        (tmp / "config.json").write_text(json.dumps(blob, indent=1, sort_keys=True) + "\n")
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes the directory private; a saved model is an ordinary folder
        while True:
            try:
                os.rename(tmp, path)  # atomic; fails if another writer's model is already there
                return path
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
            if not replace:
                return path
            aside = Path(tempfile.mkdtemp(prefix=f".{path.name}{PARTIAL}{_owner()}-", dir=path.parent))
            try:
                os.replace(path, aside / "old")  # move the other model out of the way, then try again
            except FileNotFoundError:
                pass
            shutil.rmtree(aside, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _owner() -> str:
    return f"{socket.gethostname().replace('-', '_')}-{os.getpid()}"


def _sweep_partial(folder: Path, max_age: float = 3600.0) -> None:
    """Remove folders save() left half-written when its process was killed (the process has gone, or an hour
    has passed on another machine sharing the folder)."""
    host = socket.gethostname().replace("-", "_")
    for entry in folder.glob(f".*{PARTIAL}*"):
        owner_host, _, rest = entry.name.split(PARTIAL, 1)[1].partition("-")
        pid = rest.partition("-")[0]
        try:
            if owner_host == host and pid.isdigit():
                os.kill(int(pid), 0)
                continue  # still writing
            if time.time() - entry.stat().st_mtime < max_age:
                continue
        except ProcessLookupError:
            pass
        except (PermissionError, FileNotFoundError):
            continue
        shutil.rmtree(entry, ignore_errors=True)


def load(path) -> Model:
    """Read a model written by save(); a missing, truncated or altered file raises CheckpointError."""
    path = Path(path)
    cfg_file, w_file, t_file = path / "config.json", path / "weights.npz", path / TOKENIZER_FILE
    for f in (cfg_file, w_file, t_file):
        if not f.is_file():
            raise CheckpointError(f"{f}: checkpoint file missing")
    try:
        blob = json.loads(cfg_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{cfg_file}: not valid JSON ({e})") from None
    raw = w_file.read_bytes()
    if hashlib.sha256(raw).hexdigest() != blob.get("weights_sha256"):
        raise CheckpointError(f"{w_file}: truncated or altered ({len(raw):,} bytes; its SHA-256 does not match "
                              f"config.json)")
    proto = t_file.read_bytes()
    if hashlib.sha256(proto).hexdigest() != blob.get("tokenizer_sha256"):
        raise CheckpointError(f"{t_file}: truncated or altered ({len(proto):,} bytes; its SHA-256 does not match "
                              f"config.json)")
    try:
        with np.load(w_file) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as e:
        raise CheckpointError(f"{w_file}: unreadable ({e})") from None
    params = {k: v for k, v in arrays.items() if not k.startswith("lora:")}
    lora = None
    if blob["lora"]:
        names = sorted({k[5:-2] for k in arrays if k.startswith("lora:")})
        lora = dict(blob["lora"], ab={k: (arrays[f"lora:{k}.A"], arrays[f"lora:{k}.B"]) for k in names})
    return Model(blob["config"], Tokenizer(proto), params, lora, blob["history"])


def load_base() -> Model:
    """The shipped base checkpoint (data/base_model/)."""
    return load(BASE_DIR)


@functools.lru_cache(maxsize=1)
def base_tokenizer() -> Tokenizer:
    """The shipped base checkpoint's tokenizer alone (no weights read): what the lab counts tokens with."""
    return Tokenizer((BASE_DIR / TOKENIZER_FILE).read_bytes())


# --------------------------------------------------------------------------- cache of trained models

def fingerprint(model: Model) -> str:
    """SHA-256 of a model's weights, adapters and config: what a cache entry was trained from."""
    h = hashlib.sha256(json.dumps({k: v for k, v in _config_blob(model).items() if k != "history"},
                                  sort_keys=True).encode())
    for k, v in sorted(_arrays(model).items()):
        h.update(k.encode())
        h.update(np.ascontiguousarray(v).tobytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 of this module's source: the training code a cache entry was trained by. Weights trained by
    older code (another forward, optimiser or tokenizer) are never reused for today's code."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _cached(kind: str, fn: Callable, model: Model, data, kwargs: dict) -> Model:
    """Load the model trained from (data, hyper-parameters, seed, base, training code) if cached, else train
    and store it."""
    key_src = {"kind": kind, "data": hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest(),
               "hyper": {k: v for k, v in sorted(kwargs.items()) if k not in ("progress", "on_step")},
               "base": fingerprint(model), "code": code_fingerprint()}
    key = hashlib.sha256(json.dumps(key_src, sort_keys=True, default=str).encode()).hexdigest()[:24]
    path = cache_dir() / f"{kind}-{key}"
    if path.is_dir():
        try:
            return load(path)
        except CheckpointError:
            shutil.rmtree(path, ignore_errors=True)
    trained = fn(model, data, **kwargs)
    save(trained, path, replace=False)  # an identical run that finished first keeps its folder...
    try:
        return load(path)  # ...and every run then uses the same weights
    except CheckpointError:
        return trained


def cached_finetune(model: Model, pairs, **kwargs) -> Model:
    """finetune(), reusing a cached result keyed by (data hash, hyper-parameters, seed, base model, training code)."""
    return _cached("finetune", finetune, model, [list(p) for p in pairs],
                   {**kwargs, "val_pairs": [list(p) for p in kwargs.get("val_pairs") or []] or None})


def cached_continue_pretraining(model: Model, texts, **kwargs) -> Model:
    """continue_pretraining(), reusing a cached result keyed like cached_finetune."""
    return _cached("cpt", continue_pretraining, model, list(texts), kwargs)


# --------------------------------------------------------------------------- the base model build
BASE_BUILD = {"n_layer": 2, "d_model": 128, "n_head": 4, "context": 192, "steps": 2400, "batch_size": 16,
              "learning_rate": 3e-3, "warmup_steps": 100, "n_documents": 200_000, "corpus_seed": 1, "seed": 0}


TOKENIZER_BUILD = {"vocab_size": 2560, "seed": 0, "n_documents": 50_000, "english_repeats": 20}


def english_words() -> list[str]:
    """The hand-written list of common English words in data/general/english_words.txt."""
    lines = (DATA_DIR / "general" / "english_words.txt").read_text().splitlines()
    return [w for w in lines if w and not w.startswith("#")]


def _coverage_text() -> str:
    """Every printable ASCII symbol, the numbers 0-100 and the common English words (lower-case and
    capitalised) after a space, and every seventh of them at a line start: pieces a learner's text uses."""
    symbols = [ch for ch in map(chr, range(33, 127)) if not ch.isalnum()]
    words = english_words()
    words = words + [w.capitalize() for w in words] + [str(i) for i in range(101)] + ["00"]
    return " ".join(symbols + words) + "\n" + "".join(symbols) + "\n" + "\n".join(words[::7])


def tokenizer_texts(build: dict = TOKENIZER_BUILD) -> list[str]:
    """What the base tokenizer is trained on: general documents (the first of the pre-training corpus), the
    held-out text, the firm's clauses and prompts, the domain text, both catalogs, and the English words."""
    from helpers import corpus

    texts = [_coverage_text()] * build["english_repeats"]
    texts += [p + c for p, c in corpus.general_documents(build["n_documents"], BASE_BUILD["corpus_seed"])]
    texts += [p + c for p, c in corpus.general_documents(1200, 2)]
    for row in corpus.make_raw_clauses():
        texts += [corpus.clause_prompt(row["text"]), corpus.clause_prompt(row["text"], json_format=False),
                  corpus.clause_completion(row["label"]), row["effective_date"]]
    texts += corpus.make_domain_text()
    for row in sum(corpus.make_catalogs(), []):
        texts += [corpus.catalog_entry_text(row), corpus.price_question(row["product"]), row["sku"]]
    return texts


def build_tokenizer(build: dict = TOKENIZER_BUILD) -> Tokenizer:
    """The base model's tokenizer, trained on tokenizer_texts() with a fixed seed; the firm's codes whole."""
    from helpers import corpus

    codes = tuple(label for label, kind, _ in corpus.TAXONOMY if kind == "code")
    return Tokenizer.build(tokenizer_texts(build), vocab_size=build["vocab_size"], keep_whole=codes,
                           seed=build["seed"])


def build_base(build: dict = BASE_BUILD, progress: bool = True) -> Model:
    """Pre-train the base model from scratch on the general corpus (see data/general/README.md)."""
    from helpers import corpus

    tok = build_tokenizer()
    config = {k: build[k] for k in ("n_layer", "d_model", "n_head", "context")} | {"vocab_size": len(tok)}
    params = init_params(config, np.random.default_rng(build["seed"]))
    model = Model(config, tok, params)
    docs = corpus.general_documents(build["n_documents"], build["corpus_seed"])
    prompts, completions = (tok.encode_batch([d[i] for d in docs]) for i in (0, 1))
    examples = [(a + b + [EOS], len(a)) for a, b in zip(prompts, completions)]
    seqs = _pack(examples, config["context"])
    epochs = math.ceil(build["steps"] * build["batch_size"] / len(seqs))
    seqs = seqs[: build["steps"] * build["batch_size"] // epochs]
    return _train(model, seqs, epochs=epochs, batch_size=build["batch_size"], learning_rate=build["learning_rate"],
                  warmup_steps=build["warmup_steps"], seed=build["seed"], cosine=True, progress=progress,
                  desc="pre-training")


def main_build_base(argv: list[str]) -> int:
    """`python -m helpers build-base-model [--steps N] [--out DIR]`: build and save the base checkpoint."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m helpers build-base-model", description=main_build_base.__doc__)
    ap.add_argument("--steps", type=int, default=BASE_BUILD["steps"])
    ap.add_argument("--out", default=str(BASE_DIR))
    args = ap.parse_args(argv)
    build = dict(BASE_BUILD, steps=args.steps)
    t0 = time.perf_counter()
    model = build_base(build)
    seconds = time.perf_counter() - t0
    out = Path(args.out)
    readme = (out / "README.md").read_text() if (out / "README.md").is_file() else None
    save(model, out)
    if readme is not None:  # the measured effects live in the README; keep it across rebuilds
        (out / "README.md").write_text(readme)
    n_tok = build["steps"] * build["batch_size"] * build["context"]
    (out / "build.json").write_text(json.dumps({"build": build, "tokenizer": TOKENIZER_BUILD,
                                                "params": count_parameters(model),
                                                "vocab_size": len(model.tokenizer)}, indent=1) + "\n")
    print(f"{model}\ntrained {build['steps']} steps (<= {n_tok:,} tokens) in {seconds:.0f} s; "
          f"final loss {model.history[-1]['train_loss']:.3f}; saved to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main_build_base(sys.argv[1:]))
