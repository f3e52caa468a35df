"""Tests of helpers/evaluation.py: parsing the firm's JSON answer, scores with hand-computed expectations,
bootstrap intervals (of a rate, of a paired difference), slices, the candidate prompts and the
general-capability probe."""
import collections

import matplotlib
import pandas as pd
import pytest

from helpers import corpus, evaluation, local_model

matplotlib.use("Agg")


def test_parse_json_accepts_only_an_object():
    assert evaluation.parse_json(' {"label": "LC1"}') == {"label": "LC1"}
    assert evaluation.parse_json("LC1") is None
    assert evaluation.parse_json('["LC1"]') is None


def test_clause_accuracy_scores_plain_and_code_slices(monkeypatch):
    rows = [{"text": "a", "label": "payment"}, {"text": "b", "label": "LC1"}, {"text": "c", "label": "GL3"}]
    answers = [' {"label": "payment"}', ' {"label": "LC2"}', "not json"]
    monkeypatch.setattr(local_model, "generate_batch", lambda model, prompts, **_: answers[:len(prompts)])
    acc = evaluation.clause_accuracy(object(), rows)
    assert acc["overall"] == 1 / 3 and acc["plain"] == 1.0 and acc["code"] == 0.0
    assert acc["format_ok"] == 2 / 3 and acc["chance"] == 1 / len(corpus.LABELS)


GOLD = ["payment", "payment", "LC1", "LC1", "LC2", "DP4"]
PRED = ["payment", "LC1", "LC1", None, "LC2", "LC2"]


def test_exact_match_counts_a_missing_answer_as_wrong():
    assert evaluation.exact_match(PRED, GOLD).tolist() == [1, 0, 1, 0, 1, 0]
    with pytest.raises(ValueError, match="5 predictions for 6 records"):
        evaluation.exact_match(PRED[:5], GOLD)


def test_per_class_scores_by_hand():
    t = evaluation.per_class_scores(PRED, GOLD, ["payment", "LC1", "LC2", "DP4"])
    # payment: predicted once, right once; 2 gold -> P 1, R 1/2, F1 2/3
    assert t.loc["payment"].tolist() == pytest.approx([1.0, 0.5, 2 / 3, 2])
    # LC1: predicted twice (one right), 2 gold (one found) -> P 1/2, R 1/2, F1 1/2
    assert t.loc["LC1"].tolist() == pytest.approx([0.5, 0.5, 0.5, 2])
    # LC2: predicted twice (one right), 1 gold -> P 1/2, R 1, F1 2/3
    assert t.loc["LC2"].tolist() == pytest.approx([0.5, 1.0, 2 / 3, 1])
    # DP4: never predicted -> P 0, R 0, F1 0
    assert t.loc["DP4"].tolist() == [0.0, 0.0, 0.0, 1]


def test_confusion_matrix_by_hand_with_a_no_answer_column():
    t = evaluation.confusion_matrix(PRED, GOLD, ["payment", "LC1", "LC2", "DP4"])
    assert list(t.columns) == ["payment", "LC1", "LC2", "DP4", evaluation.NO_ANSWER]
    assert t.loc["payment"].tolist() == [1, 1, 0, 0, 0]
    assert t.loc["LC1"].tolist() == [0, 1, 0, 0, 1]
    assert t.loc["DP4"].tolist() == [0, 0, 1, 0, 0]
    assert t.to_numpy().sum() == len(GOLD)


def test_plot_confusion_draws_one_cell_per_pair():
    ax = evaluation.plot_confusion(PRED, GOLD, ["payment", "LC1", "LC2", "DP4"])
    assert ax.get_xlabel() == "predicted label" and len(ax.get_yticklabels()) == 4
    assert sorted(t.get_text() for t in ax.texts) == ["1"] * 6


def test_bootstrap_interval_is_seeded_and_brackets_the_rate():
    hits = [True] * 30 + [False] * 10
    lo, hi = evaluation.bootstrap_interval(hits)
    assert lo < 0.75 < hi and (lo, hi) == evaluation.bootstrap_interval(hits)
    assert evaluation.bootstrap_interval([True] * 5) == (1.0, 1.0)
    d_lo, d_hi = evaluation.bootstrap_interval([1, 0, -1, 0] * 10)  # a paired difference centred on 0
    assert d_lo < 0 < d_hi
    with pytest.raises(ValueError, match="non-empty"):
        evaluation.bootstrap_interval([])


def test_paired_bootstrap_of_a_constant_difference_and_of_no_difference():
    a, b = [1, 1, 1, 1], [0, 0, 0, 0]
    assert evaluation.paired_bootstrap(a, b) == {"diff": 1.0, "low": 1.0, "high": 1.0, "n": 4}
    same = evaluation.paired_bootstrap([1, 0, 1, 0], [1, 0, 1, 0])
    assert same["diff"] == same["low"] == same["high"] == 0.0


def test_paired_bootstrap_interval_is_seeded_and_brackets_the_difference():
    a = [1] * 30 + [0] * 10   # 0.75
    b = [1] * 20 + [0] * 20   # 0.50, the same records: a beats b on 10 of them
    r = evaluation.paired_bootstrap(a, b, seed=3)
    assert r["diff"] == pytest.approx(0.25) and r["n"] == 40
    assert r["low"] < 0.25 < r["high"] and 0.05 < r["low"] and r["high"] < 0.45
    assert r == evaluation.paired_bootstrap(a, b, seed=3)
    # sd of the paired mean is sqrt(0.25 * 0.75 / 40) = 0.068: the 95% interval is about +-0.13
    assert r["high"] - r["low"] == pytest.approx(2 * 1.96 * (0.25 * 0.75 / 40) ** 0.5, abs=0.04)
    with pytest.raises(ValueError, match="equal-length"):
        evaluation.paired_bootstrap([1, 0], [1])


ROWS = [{"text": "The Supplier shall pay the fees.", "label": "payment"},
        {"text": "If the Customer fails to pay any invoice within 30 days, the Supplier may terminate this Agreement.",
         "label": "termination"},
        {"text": "The total liability shall not exceed the fees.", "label": "LC1"},
        {"text": "The Provider shall notify the Customer of any personal data breach within 14 hours.", "label": "DP4"}]


def test_slices_and_slice_scores_by_hand():
    masks = evaluation.slices(ROWS)
    assert masks["plain words"].tolist() == [True, True, False, False]
    assert masks["firm codes"].tolist() == [False, False, True, True]
    assert masks["minority (DP4)"].tolist() == [False, False, False, True]
    assert masks["borderline"].tolist() == [False, True, False, False]
    t = evaluation.slice_scores(ROWS, {"a": ["payment", "payment", "LC1", "DP4"], "b": ["payment", "termination", None, "LC2"]})
    assert t["n"].to_dict() == {"all": 4, "plain words": 2, "firm codes": 2, "minority (DP4)": 1, "borderline": 1}
    assert t["a"].to_dict() == {"all": 0.75, "plain words": 0.5, "firm codes": 1.0, "minority (DP4)": 1.0, "borderline": 0.0}
    assert t["b"].to_dict() == {"all": 0.5, "plain words": 1.0, "firm codes": 0.0, "minority (DP4)": 0.0, "borderline": 1.0}
    d = evaluation.slice_differences(ROWS, ["payment", "payment", "LC1", "DP4"], ["payment", "termination", None, "LC2"])
    assert d.loc["firm codes", "diff"] == 1.0 and d.loc["plain words", "diff"] == -0.5 and d.loc["all", "n"] == 4


def test_prompts_list_the_labels_define_them_and_carry_shots():
    text = "The Supplier shall pay the fees."
    assert all(lab in evaluation.label_list_prompt(text) for lab in corpus.LABELS)
    assert "liability cap" in evaluation.definitions_prompt(text)
    for prompt in (evaluation.label_list_prompt, evaluation.definitions_prompt):
        assert prompt(text).endswith(corpus.clause_prompt(text))
    shot = {"text": "Neither party is liable for indirect loss.", "label": "LC2"}
    few = evaluation.few_shot_prompt([shot])(text)
    assert few == corpus.clause_prompt(shot["text"]) + ' {"label": "LC2"}\n' + corpus.clause_prompt(text)


def test_general_probe_has_every_task_with_one_right_answer():
    probe = evaluation.general_probe(n_per_task=5, seed=1)
    counts = collections.Counter(p["task"] for p in probe)
    assert set(counts) == set(evaluation.PROBE_TASKS)
    assert all(counts[t] == 5 for t in evaluation.PROBE_TASKS if t != "facts")
    assert probe == evaluation.general_probe(n_per_task=5, seed=1)
    price = next(p for p in probe if p["task"] == "price from a passage")
    assert price["answer"].startswith("$") and price["answer"][1:] in price["prompt"]


def test_probe_scores_read_json_values_and_a_facts_next_word(monkeypatch):
    probe = [{"task": "topic", "prompt": "q1", "answer": "weather"}, {"task": "topic", "prompt": "q2", "answer": "travel"},
             {"task": "facts", "prompt": "bees make", "answer": "honey"}]
    answers = [' {"topic": "weather"}', ' {"topic": "people"}', " honey. the weather"]
    monkeypatch.setattr(local_model, "generate_batch", lambda model, prompts, **_: answers[:len(prompts)])
    assert evaluation.probe_scores(object(), probe).to_dict() == {"topic": 0.5, "facts": 1.0}


def test_choose_epochs_takes_the_fewest_within_the_tolerance():
    assert evaluation.choose_epochs([0.30, 0.10, 0.12, 0.2]) == 2
    assert evaluation.choose_epochs([0.30, 0.105, 0.10, 0.2], tolerance=0.01) == 2
    assert evaluation.choose_epochs([0.30, 0.105, 0.10, 0.2], tolerance=0.0) == 3


def test_finetune_by_epoch_chains_one_epoch_runs_and_reports_validation_loss(monkeypatch):
    calls = []

    class Fake:
        def __init__(self, n):
            self.n, self.history = n, [{"step": 1, "val_loss": None}, {"step": 2, "val_loss": 1.0 / (n + 1)}]

    def fake_finetune(model, pairs, **kw):
        calls.append((model.n, kw["epochs"], kw["seed"]))
        return Fake(model.n + 1)

    monkeypatch.setattr(local_model, "cached_finetune", fake_finetune)
    models = evaluation.finetune_by_epoch(Fake(0), [("p", "c")], 3, val_pairs=[("p", "c")], seed=5)
    assert calls == [(0, 1, 5), (1, 1, 6), (2, 1, 7)] and [m.n for m in models] == [1, 2, 3]
    t = evaluation.validation_losses(models)
    assert t.to_dict("list") == {"step_number": [2, 4, 6], "epoch_number": [1, 2, 3],
                                 "validation_loss": [0.5, 1 / 3, 0.25]}


def test_ship_decision_check_right_wrong_and_near_miss():
    codes = {"diff": 1.0, "low": 1.0, "high": 1.0}
    check = lambda d, c=codes: evaluation.check_ship_decision(d, c, 0.47, 0.01, 2.5)  # noqa: E731
    assert check("ship").startswith("Right") and check(" Ship ").startswith("Right")
    assert check("prompt harder").startswith("Not yet: four prompts were tried")
    near = check("don't ship")  # forgetting is real, but not where this model is used
    assert near.startswith("Not yet: forgetting is real (0.47 of the probe)") and "0.01" in near
    assert check(None).startswith("Not yet: set my_decision")
    assert check("ship", {"diff": 0.1, "low": -0.05, "high": 0.3}).startswith("Not yet: the gain's interval")


def test_epoch_check_right_wrong_and_near_miss():
    losses = [0.412, 0.198, 0.151, 0.149, 0.163]
    assert evaluation.check_epochs(3, losses).startswith("Right: epoch 3 is within 0.01")
    near = evaluation.check_epochs(4, losses)  # the lowest loss, but not the fewest epochs within noise of it
    assert near.startswith("Not yet: epoch 4 has the lowest loss, but only 0.002 below")
    assert evaluation.check_epochs(5, losses).startswith("Not yet: epoch 5 has validation loss 0.163")
    assert evaluation.check_epochs(None, losses) == "Not yet: set my_epochs to a number from 1 to 5."
    assert evaluation.check_epochs(9, losses).startswith("Not yet: the job ran 5 epochs")


def test_widest_slice_check_right_wrong_and_near_miss():
    gap = pd.DataFrame({"low": [0.1, -0.2, 0.0], "high": [0.3, 0.8, 0.6], "n": [80, 5, 20]},
                       index=["all", "DP4", "borderline"])
    assert evaluation.check_widest_slice("DP4", gap) == "Right: DP4, 1.00 wide, on 5 records."
    assert evaluation.check_widest_slice("borderline", gap).startswith("Not yet: borderline's interval is 0.60 wide")
    assert evaluation.check_widest_slice("codes", gap).startswith("Not yet: choose one of")


def test_decision_table_check_right_wrong_and_near_miss():
    measured = {"gain, codes": 1.0, "gain, plain": 0.2, "job cost, USD": 2.46}
    assert evaluation.check_table({"gain, codes": 1.0, "gain, plain": 0.2, "job cost, USD": 2.461}, measured).startswith("Right")
    wrong = evaluation.check_table({k: None for k in measured}, measured)
    assert wrong.startswith("Not yet: 3 row(s) to fill or fix")
    near = evaluation.check_table({**measured, "gain, plain": -0.2}, measured)  # the difference taken the other way
    assert near.startswith("Not yet: 1 row(s)") and "the sign is the wrong way round" in near
