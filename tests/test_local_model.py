"""The local model: gradients, determinism, save/load, bad input, cache, and the effects the course shows."""
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from helpers import corpus, demos, local_model as lm

TINY = {"vocab_size": 0, "d_model": 8, "n_layer": 2, "n_head": 2, "context": 12}
WORDS = "the cat sat on a mat . dog ran to park Answer : {\" label \" } 1 2 3".split()


def tiny_model(seed=0, dtype=np.float32) -> lm.Model:
    tok = lm.Tokenizer.build([" " + " ".join(WORDS) + "\n" + "\n".join(WORDS)])
    cfg = dict(TINY, vocab_size=len(tok))
    return lm.Model(cfg, tok, lm.init_params(cfg, np.random.default_rng(seed), dtype))


PAIRS = [("the cat sat on", " a mat ."), ("the dog ran to", " the park ."), ("Answer:", ' {"label": "1"}')] * 3


# --------------------------------------------------------------------------- gradients
def test_every_gradient_matches_finite_differences_including_lora_and_copy_head():
    rng = np.random.default_rng(1)
    cfg = {"vocab_size": 11, "d_model": 8, "n_layer": 2, "n_head": 2, "context": 6}
    p = lm.init_params(cfg, rng, np.float64)
    for k in p:  # move away from the symmetric initial point (unit gains, zero biases)
        p[k] = p[k] + rng.normal(0, 0.3, p[k].shape)
    x, y = rng.integers(0, 11, (2, 5)), rng.integers(0, 11, (2, 5))
    y[0, 3], y[1, 4] = x[0, 1], x[1, 2]  # some targets occur in the context, so the copy path carries gradient
    mask = (rng.random((2, 5)) > 0.2).astype(np.float64)
    lora = {"rank": 2, "alpha": 4.0, "ab": {k: (rng.normal(0, .3, (p[k].shape[0], 2)), rng.normal(0, .3, (2, p[k].shape[1])))
                                            for k in ("0.attn_w", "0.proj_w", "1.fc_w", "1.fc2_w")}}
    model = lm.Model(cfg, None, p, lora)

    def loss():
        model._merged = None
        return lm.forward(model.weights(), cfg, x, y, mask)[0]

    model._merged = None
    _, cache = lm.forward(model.weights(), cfg, x, y, mask)
    g = lm.backward(model.weights(), cfg, cache)
    lg = lm.lora_grads(g, lora)
    checks = [(k, p[k], g[k]) for k in p] + [(f"{k}.{s}", lora["ab"][k][i], lg[f"{k}.{s}"])
                                              for k in lora["ab"] for i, s in enumerate("AB")]
    assert {"gen_w", "gen_b", "mix_w", "mix_b", "wte", "wpe"} <= set(p)
    worst = {}
    for name, arr, analytic in checks:
        errs = []
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + 1e-5
            up = loss()
            arr[i] = old - 1e-5
            down = loss()
            arr[i] = old
            num = (up - down) / 2e-5
            # relative error; where both are ~0 (the key bias has an exactly-zero gradient: softmax ignores a
            # shift shared by all keys) the floor turns it into an absolute check against rounding noise
            errs.append(abs(num - analytic[i]) / max(1e-5, abs(num) + abs(analytic[i])))
        worst[name] = max(errs)
    assert len(worst) == len(p) + 2 * len(lora["ab"])
    print(f"max relative error {max(worst.values()):.1e}")
    assert max(worst.values()) < 1e-4, {k: v for k, v in worst.items() if v >= 1e-4}


def test_heads_at_counted_positions_only_give_the_full_path_loss_and_gradients():
    rng = np.random.default_rng(2)
    cfg = {"vocab_size": 23, "d_model": 16, "n_layer": 2, "n_head": 4, "context": 10}
    p = {k: v + rng.normal(0, 0.3, v.shape) for k, v in lm.init_params(cfg, rng, np.float64).items()}
    x, y = rng.integers(0, 23, (3, 9)), rng.integers(0, 23, (3, 9))
    y[:, 5] = x[:, 2]  # copyable targets
    mask = (rng.random((3, 9)) > 0.6).astype(np.float64)
    mask[1] = 0  # a row with nothing to learn (a fully masked prompt)
    loss, cache = lm.forward(p, cfg, x, y, mask)
    full_loss, full_cache = lm.forward(p, cfg, x, y, mask, all_positions=True)
    assert len(cache[1][0]) == int(mask.sum()) < len(full_cache[1][0]) == mask.size
    g, full = lm.backward(p, cfg, cache), lm.backward(p, cfg, full_cache)
    assert loss == pytest.approx(full_loss, rel=1e-12)
    assert set(g) == set(full) == set(p)
    for k in p:
        np.testing.assert_allclose(g[k], full[k], rtol=1e-10, atol=1e-13, err_msg=k)


def test_training_and_generation_stay_float32():
    m = tiny_model()
    x, y, mask = lm._batch(lm._pack_each(lm._encode_pairs(m, PAIRS)), range(len(PAIRS)), np.float32)
    loss, cache = lm.forward(m.params, m.config, x, y, mask)
    arrays = [a for a in _leaves(cache) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    assert arrays and {a.dtype for a in arrays} == {np.dtype(np.float32)}
    assert {g.dtype for g in lm.backward(m.params, m.config, cache).values()} == {np.dtype(np.float32)}
    T = x.shape[1]
    prob, (kv, _) = lm._step(m.params, m.config, x, np.tile(np.arange(T), (len(x), 1)), np.ones(x.shape, bool), None)
    assert prob.dtype == np.float32 and {a.dtype for layer in kv for a in layer} == {np.dtype(np.float32)}


def _leaves(tree):
    if isinstance(tree, (tuple, list)):
        for t in tree:
            yield from _leaves(t)
    else:
        yield tree


# --------------------------------------------------------------------------- training
def test_same_seed_gives_bit_identical_losses_and_weights():
    a = lm.finetune(tiny_model(), PAIRS, epochs=2, batch_size=4, learning_rate=1e-2, seed=3, progress=False)
    b = lm.finetune(tiny_model(), PAIRS, epochs=2, batch_size=4, learning_rate=1e-2, seed=3, progress=False)
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    c = lm.finetune(tiny_model(), PAIRS, epochs=2, batch_size=4, learning_rate=1e-2, seed=4, progress=False)
    assert [h["train_loss"] for h in a.history] != [h["train_loss"] for h in c.history]


def test_finetune_returns_a_new_model_with_history_and_lowers_the_loss():
    base = tiny_model()
    before = {k: v.copy() for k, v in base.params.items()}
    seen = []
    tuned = lm.finetune(base, PAIRS, epochs=30, batch_size=9, learning_rate=3e-2, val_pairs=PAIRS[:3],
                        progress=False, on_step=seen.append)
    assert all(np.array_equal(before[k], base.params[k]) for k in before)
    assert len(tuned.history) == 30 and seen == tuned.history
    assert set(tuned.history[0]) == {"step", "epoch", "train_loss", "val_loss"}
    assert all(h["val_loss"] is not None for h in tuned.history)
    assert tuned.history[-1]["train_loss"] < 0.5 * tuned.history[0]["train_loss"]


def test_lora_trains_only_adapters_and_starts_at_the_base_model():
    base = tiny_model()
    tuned = lm.finetune(base, PAIRS, epochs=3, batch_size=4, learning_rate=1e-2, lora_rank=2, progress=False)
    assert all(np.array_equal(base.params[k], tuned.params[k]) for k in base.params)
    assert 0 < lm.count_parameters(tuned, trainable=True) < lm.count_parameters(base)
    assert "lora_rank=2" in repr(tuned)
    zero = lm.finetune(base, PAIRS, epochs=1, batch_size=4, learning_rate=0.0, lora_rank=2, progress=False)
    assert zero.history[0]["train_loss"] == lm.finetune(base, PAIRS, epochs=1, batch_size=4, learning_rate=0.0,
                                                         progress=False).history[0]["train_loss"]


def test_continued_pretraining_with_replay_runs_and_perplexity_is_finite():
    m = lm.continue_pretraining(tiny_model(), ["the cat sat on a mat ."] * 4, replay_texts=["the dog ran to park ."] * 2,
                                batch_size=2, progress=False)
    assert len(m.history) == 3 and math.isfinite(lm.perplexity(m, ["the cat sat ."]))


# --------------------------------------------------------------------------- generation
def test_kv_cache_distribution_equals_the_training_forward():
    m = tiny_model(seed=5)
    ids = np.array([m.tokenizer.encode("the cat sat on a mat . the")])
    for target in (m.tokenizer.encode(" cat")[0], m.tokenizer.encode(" dog")[0]):
        y = np.concatenate([ids[:, 1:], [[target]]], 1)
        mask = np.zeros(ids.shape)
        mask[0, -1] = 1
        loss, _ = lm.forward(m.params, m.config, ids, y, mask)
        T = ids.shape[1]
        full, _ = lm._step(m.params, m.config, ids, np.arange(T)[None], np.ones((1, T), bool), None)
        _, cache = lm._step(m.params, m.config, ids[:, :-1], np.arange(T - 1)[None], np.ones((1, T - 1), bool), None)
        inc, _ = lm._step(m.params, m.config, ids[:, -1:], np.array([[T - 1]]), np.ones((1, T), bool), cache)
        assert np.allclose(full[0, target], math.exp(-loss), rtol=1e-4)
        assert np.allclose(full, inc, rtol=1e-4, atol=1e-7)


def test_batched_generation_equals_one_by_one_and_sampling_is_seeded():
    m = lm.finetune(tiny_model(), PAIRS, epochs=60, batch_size=9, learning_rate=3e-2, progress=False)
    prompts = ["the cat sat on", "Answer:", "the dog ran to the park . the dog ran to"]
    assert lm.generate_batch(m, prompts, max_new_tokens=6) == [lm.generate(m, q, max_new_tokens=6) for q in prompts]
    assert lm.generate(m, "the cat sat on", max_new_tokens=4) == " a mat ."
    s1 = lm.generate(m, "the", temperature=1.5, seed=1, max_new_tokens=8)
    assert s1 == lm.generate(m, "the", temperature=1.5, seed=1, max_new_tokens=8)
    assert lm.count_tokens(m, "the cat sat") == 3


def _pick_row_by_row(prob, temperature, top_p, rng):
    """The nucleus sampler written plainly, one row at a time: the reference for the batched lm._pick."""
    out = []
    for row in prob:
        w = np.power(np.maximum(row, 1e-30), 1.0 / temperature)
        w /= w.sum()
        order = np.argsort(-w, kind="stable")
        keep = order[: int(np.searchsorted(np.cumsum(w[order]), top_p) + 1)]
        out.append(keep[rng.choice(len(keep), p=w[keep] / w[keep].sum())])
    return np.array(out)


@pytest.mark.parametrize("temperature, top_p", [(1.0, 1.0), (0.7, 0.9), (2.0, 0.3), (0.2, 0.05)])
def test_batched_sampling_picks_what_row_by_row_sampling_picks(temperature, top_p):
    prob = np.random.default_rng(0).dirichlet(np.full(40, 0.3), 300).astype(np.float32)
    picked = lm._pick(prob, temperature, top_p, np.random.default_rng(7))
    assert np.array_equal(picked, _pick_row_by_row(prob, temperature, top_p, np.random.default_rng(7)))
    assert np.array_equal(lm._pick(prob, 0.0, top_p, None), prob.argmax(-1))


@pytest.fixture(scope="module")
def base_tokenizer():
    return lm.load_base().tokenizer


@settings(max_examples=300, deadline=None)
@given(text=st.text())
def test_every_unicode_string_round_trips_through_the_base_tokenizer(base_tokenizer, text):
    assert base_tokenizer.decode(base_tokenizer.encode(text)) == text


@pytest.mark.parametrize("text", [
    "emoji 🤖👍🏽 and flags 🇮🇪", "RTL: مرحبا بالعالم, שלום עולם", "def f(x):\n\treturn {'a': x ** 2}  # code",
    "numbers 3.14159 -42 1e-9 0x1F $12.00 2024-03-15", "a literal \u2581 mark, \u2581\u2581 two", "nul \x00 and \x07 bell",
    "windows\r\nline ends\r\n", "  leading, trailing and   inner spaces  ", "", "日本語のテキスト", "\ufeffBOM \U0010ffff"])
def test_hard_cases_round_trip(base_tokenizer, text):
    assert base_tokenizer.decode(base_tokenizer.encode(text)) == text
    assert base_tokenizer.encode_batch([text, "x"])[0] == base_tokenizer.encode(text)


def test_the_labs_own_words_and_codes_stay_whole(base_tokenizer):
    pieces = [base_tokenizer.pieces[i] for i in base_tokenizer.encode(' {"label": "LC2"}')]
    assert pieces == ["\u2581{", '"', "label", '"', ":", '\u2581"', "LC2", '"', "}"]
    for code in ("LC1", "LC2", "GL3", "FM9", "DP4"):
        assert len(base_tokenizer.encode(code)) == 1
    for word in (" Supplier", " shall", " category", " price", " the", " contract"):
        assert len(base_tokenizer.encode(word)) == 1, word


def test_the_tokenizer_build_is_deterministic(base_tokenizer):
    texts = ["the cat sat on a mat, the dog ran.", "Answer: 42"] * 20
    assert lm.Tokenizer.build(texts, seed=3).proto == lm.Tokenizer.build(texts, seed=3).proto
    assert lm.build_tokenizer().proto == base_tokenizer.proto  # the shipped file is what the build makes


# --------------------------------------------------------------------------- save / load and bad input
def test_save_load_round_trip_including_lora(tmp_path):
    m = lm.finetune(tiny_model(), PAIRS, epochs=2, batch_size=4, learning_rate=1e-2, lora_rank=2, progress=False)
    lm.save(m, tmp_path / "m")
    back = lm.load(tmp_path / "m")
    assert repr(back) == repr(m) and back.config == m.config and back.tokenizer.proto == m.tokenizer.proto
    assert all(np.array_equal(back.params[k], m.params[k]) for k in m.params)
    assert back.history == m.history and lm.fingerprint(back) == lm.fingerprint(m)
    assert lm.generate(back, "the cat", max_new_tokens=5) == lm.generate(m, "the cat", max_new_tokens=5)


def test_truncated_checkpoint_names_the_file(tmp_path):
    lm.save(tiny_model(), tmp_path / "m")
    w = tmp_path / "m" / "weights.npz"
    w.write_bytes(w.read_bytes()[:-100])
    with pytest.raises(lm.CheckpointError, match="weights.npz"):
        lm.load(tmp_path / "m")
    with pytest.raises(lm.CheckpointError, match="config.json"):
        lm.load(tmp_path / "missing")
    lm.save(tiny_model(), tmp_path / "t")
    t = tmp_path / "t" / lm.TOKENIZER_FILE
    t.write_bytes(t.read_bytes()[:-10])
    with pytest.raises(lm.CheckpointError, match="tokenizer.model: truncated or altered"):
        lm.load(tmp_path / "t")


def test_empty_data_set_is_a_clear_error():
    with pytest.raises(lm.EmptyDataError, match="empty"):
        lm.finetune(tiny_model(), [], progress=False)
    with pytest.raises(lm.EmptyDataError, match="empty"):
        lm.continue_pretraining(tiny_model(), [], progress=False)


def test_a_record_longer_than_the_context_keeps_its_completion_and_the_end_of_its_prompt():
    m = tiny_model()
    long = "the dog ran to park . " * 4 + "the cat sat on"
    (ids, n_prompt), = lm._encode_pairs(m, [(long, " a mat .")])
    completion = m.tokenizer.encode(" a mat .") + [lm.EOS]
    assert len(ids) == m.config["context"] + 1 and ids[n_prompt:] == completion
    assert m.tokenizer.decode(ids[:n_prompt]) == long[-len(m.tokenizer.decode(ids[:n_prompt])):]
    assert m.tokenizer.decode(ids[:n_prompt]).endswith("the cat sat on")
    assert len(lm.finetune(m, [PAIRS[0], (long, " a mat .")], epochs=1, progress=False).history) == 1
    # continued pre-training reads a long text whole, in context-long pieces
    pieces = lm._encode_texts(m, [long])
    assert [t for ids, _ in pieces for t in ids] == m.tokenizer.encode(long) + [lm.EOS]
    assert all(len(ids) <= m.config["context"] + 1 for ids, _ in pieces)


def test_any_text_trains_and_generates():
    m = lm.finetune(tiny_model(), [PAIRS[0], ("the zebra 🦓", " grazes in Nairobi ▁")], progress=False)
    assert isinstance(lm.generate(m, "a prompt the model has never seen: ✈️ Reykjavík", max_new_tokens=4), str)
    long = "the cat sat on a mat . " * 20
    assert lm.prompt_tokens_read(m, long, 4) == lm.prompt_window(m, 4) == m.config["context"] - 3


def test_cache_reuses_runs_and_leaves_nothing_half_written(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path))
    base = tiny_model()

    def boom(rec):
        if rec["step"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lm.cached_finetune(base, PAIRS, epochs=2, batch_size=4, progress=False, on_step=boom)
    assert list(tmp_path.iterdir()) == []
    first = lm.cached_finetune(base, PAIRS, epochs=2, batch_size=4, progress=False)
    entries = list(tmp_path.iterdir())
    assert len(entries) == 1
    assert sorted(f.name for f in entries[0].iterdir()) == ["config.json", "tokenizer.model", "weights.npz"]
    calls = []
    again = lm.cached_finetune(base, PAIRS, epochs=2, batch_size=4, progress=False, on_step=calls.append)
    assert calls == [] and lm.fingerprint(again) == lm.fingerprint(first)
    other = lm.cached_finetune(base, PAIRS, epochs=2, batch_size=4, seed=1, progress=False)
    assert len(list(tmp_path.iterdir())) == 2 and lm.fingerprint(other) != lm.fingerprint(first)
    # a damaged entry is retrained, not trusted
    w = entries[0] / "weights.npz"
    w.write_bytes(w.read_bytes()[:50])
    assert lm.fingerprint(lm.cached_finetune(base, PAIRS, epochs=2, batch_size=4, progress=False)) == lm.fingerprint(first)


def test_cache_is_not_reused_by_other_training_code(tmp_path, monkeypatch):
    """Weights trained by an older version of the training code are retrained, not loaded."""
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path))
    base = tiny_model()
    lm.cached_finetune(base, PAIRS, epochs=1, batch_size=4, progress=False)
    assert lm.code_fingerprint() == hashlib.sha256(Path(lm.__file__).read_bytes()).hexdigest()
    monkeypatch.setattr(lm, "code_fingerprint", lambda: "0" * 64)
    calls = []
    lm.cached_finetune(base, PAIRS, epochs=1, batch_size=4, progress=False, on_step=calls.append)
    assert calls and len(list(tmp_path.iterdir())) == 2


# --------------------------------------------------------------------------- the shipped base model and its effects
@pytest.fixture(scope="module")
def base():
    return lm.load_base()


GENERAL_PPL_BOUND = 4.0  # held-out general (everyday prose) perplexity of the shipped base model


def test_base_model_quality_and_build_config(base):
    build = json.loads((lm.BASE_DIR / "build.json").read_text())
    assert build["params"] == lm.count_parameters(base) and base.config["context"] == build["build"]["context"]
    assert lm.perplexity(base, corpus.general_heldout()) < GENERAL_PPL_BOUND


def test_format_instruction_steers_the_output(base):
    r = demos.prompt_fix(base)
    assert r["vague"] >= 0.9  # prose answers: not the JSON the application needs
    assert r["format_specified"] <= r["vague"] / 2


@pytest.fixture(scope="module")
def ift(base):
    return demos.instruction_tuning(base)


def test_instruction_fine_tuning_beats_prompt_only(ift):
    chance = ift["prompt_only"]["chance"]
    assert ift["prompt_only"]["plain"] > 2 * chance
    assert ift["full"]["overall"] >= 0.9
    assert ift["full"]["overall"] - ift["prompt_only"]["overall"] >= 0.3
    assert ift["prompt_only"]["code"] < chance  # no prompt produces the firm's own codes


def test_lora_trains_under_ten_percent_and_matches_full(ift):
    assert ift["lora_trainable"] < 0.1 * ift["params"]
    assert ift["lora"]["overall"] >= ift["full"]["overall"] - 0.05


def test_continued_pretraining_lowers_domain_ppl_and_replay_forgets_less(base):
    r = demos.continued_pretraining(base)
    assert r["cpt"]["domain_ppl"] <= r["base"]["domain_ppl"] / 2
    assert r["cpt"]["general_ppl"] > r["base"]["general_ppl"]
    assert r["cpt_replay"]["general_ppl"] < r["cpt"]["general_ppl"]
