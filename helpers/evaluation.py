"""Scoring a model's answers on the clause task: the JSON it must produce, the label it picks, exact match,
per-class precision/recall/F1, the confusion matrix, accuracy per slice, bootstrap intervals of a rate and of a
paired difference; the candidate prompts of a prompt-only baseline; and a general-capability probe for forgetting."""
from __future__ import annotations

import json
import random
import re

import numpy as np
import pandas as pd

from helpers import corpus, local_model


def parse_json(text: str) -> dict | None:
    """The JSON object an answer consists of, or None if it is not one."""
    try:
        obj = json.loads(text.strip())
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def format_failure_rate(model, prompts: list[str], key: str = "label") -> float:
    """Share of answers that are not a JSON object with a string under `key`."""
    answers = local_model.generate_batch(model, prompts, max_new_tokens=16)
    ok = sum(isinstance((parse_json(a) or {}).get(key), str) for a in answers)
    return 1 - ok / len(prompts)


def clause_pairs(rows: list[dict]) -> list[tuple[str, str]]:
    """(prompt, completion) pairs in the firm's JSON format."""
    return [(corpus.clause_prompt(r["text"]), corpus.clause_completion(r["label"])) for r in rows]


def predict_labels(model, texts: list[str], shots: list[dict] = ()) -> list[str | None]:
    """The label the model answers for each clause (None when the answer is not the firm's JSON)."""
    return predict_with(model, texts, few_shot_prompt(shots))


def clause_accuracy(model, rows: list[dict], shots: list[dict] = ()) -> dict:
    """Exact-match accuracy overall, on plain-language labels and on the firm's codes, with chance level."""
    pred = predict_labels(model, [r["text"] for r in rows], shots)
    hit = [p == r["label"] for p, r in zip(pred, rows)]
    plain = [h for h, r in zip(hit, rows) if r["label"] in corpus.PLAIN_LABELS]
    code = [h for h, r in zip(hit, rows) if r["label"] not in corpus.PLAIN_LABELS]
    return {"overall": sum(hit) / len(hit), "plain": sum(plain) / max(1, len(plain)),
            "code": sum(code) / max(1, len(code)), "chance": 1 / len(corpus.LABELS),
            "format_ok": sum(p is not None for p in pred) / len(pred)}


# --------------------------------------------------------------------------- scores of predicted labels
NO_ANSWER = "(not a label)"  # no JSON, or a label outside the taxonomy


def exact_match(pred: list, gold: list) -> np.ndarray:
    """1.0 where the predicted label is exactly the gold label, else 0.0 (one value per record)."""
    if len(pred) != len(gold):
        raise ValueError(f"exact_match: {len(pred)} predictions for {len(gold)} records")
    return np.array([p == g for p, g in zip(pred, gold)], dtype=float)


def per_class_scores(pred: list, gold: list, labels: list[str] | None = None) -> pd.DataFrame:
    """Precision, recall, F1 and support per gold label (a label never predicted has precision 0)."""
    labels = list(corpus.LABELS if labels is None else labels)
    rows = []
    for lab in labels:
        tp = sum(p == lab and g == lab for p, g in zip(pred, gold))
        n_pred, n_gold = sum(p == lab for p in pred), sum(g == lab for g in gold)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"label": lab, "precision": precision, "recall": recall, "f1": f1, "support": n_gold})
    return pd.DataFrame(rows).set_index("label")


def confusion_matrix(pred: list, gold: list, labels: list[str] | None = None) -> pd.DataFrame:
    """Counts of (gold label, predicted label); one more column for answers that are none of the labels."""
    labels = list(corpus.LABELS if labels is None else labels)
    cols = labels + [NO_ANSWER]
    table = pd.DataFrame(0, index=pd.Index(labels, name="gold"), columns=pd.Index(cols, name="predicted"))
    for p, g in zip(pred, gold):
        table.loc[g, p if p in labels else NO_ANSWER] += 1
    return table


def plot_confusion(pred: list, gold: list, labels: list[str] | None = None, title: str = "confusion matrix"):
    """Draw the confusion matrix as a heat map with its counts and return the Axes."""
    import matplotlib.pyplot as plt

    table = confusion_matrix(pred, gold, labels)
    fig, ax = plt.subplots(figsize=(7.5, 6))
    ax.imshow(table.to_numpy(), cmap="Blues")
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=60, ha="right")
    ax.set_yticks(range(table.shape[0]), table.index)
    top = table.to_numpy().max()
    for (i, j), v in np.ndenumerate(table.to_numpy()):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > top / 2 else "black", fontsize=8)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("gold label")
    ax.set_title(title)
    fig.tight_layout()
    return ax


def bootstrap_interval(scores, *, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Seeded percentile bootstrap interval of a mean score (a hit rate, or a mean of paired differences):
    the records are resampled with replacement n_boot times."""
    x = np.asarray(scores, dtype=float)
    if x.ndim != 1 or not len(x):
        raise ValueError(f"bootstrap_interval needs a non-empty list of scores; got shape {x.shape}")
    means = x[np.random.default_rng(seed).integers(0, len(x), (n_boot, len(x)))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def paired_bootstrap(hits_a, hits_b, *, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Mean of (a - b) over the same records and its bootstrap interval: records are resampled with
    replacement, the same resample for both, so the interval is that of the difference itself."""
    a, b = np.asarray(hits_a, dtype=float), np.asarray(hits_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError(f"paired_bootstrap needs two equal-length, non-empty score lists; got {a.shape} and {b.shape}")
    low, high = bootstrap_interval(a - b, n_boot=n_boot, seed=seed, level=level)
    return {"diff": float((a - b).mean()), "low": low, "high": high, "n": len(a)}


# --------------------------------------------------------------------------- slices of the clause data
MINORITY = "DP4"


def slices(rows: list[dict]) -> dict[str, np.ndarray]:
    """Boolean masks of the slices the lab reports: every record, plain-word labels, the firm's codes,
    the minority class and the borderline clauses."""
    labels = np.array([r["label"] for r in rows], dtype=object)
    plain = np.isin(labels, corpus.PLAIN_LABELS)
    return {"all": np.ones(len(rows), bool), "plain words": plain, "firm codes": ~plain,
            "minority (DP4)": labels == MINORITY,
            "borderline": np.array([corpus.is_borderline(r["text"]) for r in rows], bool)}


def slice_scores(rows: list[dict], predictions: dict[str, list]) -> pd.DataFrame:
    """Exact-match accuracy per slice (rows) for each contestant's predictions (columns), with n."""
    gold = [r["label"] for r in rows]
    masks = slices(rows)
    table = pd.DataFrame({name: {s: exact_match(pred, gold)[m].mean() if m.any() else np.nan
                                 for s, m in masks.items()} for name, pred in predictions.items()})
    table.insert(0, "n", {s: int(m.sum()) for s, m in masks.items()})
    return table


def slice_differences(rows: list[dict], pred_a: list, pred_b: list, **bootstrap) -> pd.DataFrame:
    """Per slice: accuracy of a minus accuracy of b, with its paired bootstrap interval."""
    gold = [r["label"] for r in rows]
    a, b = exact_match(pred_a, gold), exact_match(pred_b, gold)
    return pd.DataFrame({s: paired_bootstrap(a[m], b[m], **bootstrap) for s, m in slices(rows).items() if m.any()}).T


# --------------------------------------------------------------------------- prompts for the clause task
def label_list_prompt(text: str) -> str:
    """The firm's prompt with the allowed labels listed."""
    return f"Labels: {', '.join(corpus.LABELS)}.\n" + corpus.clause_prompt(text)


# the firm's codes defined in a few words each (the taxonomy's full descriptions overflow the local model's
# 192-token context together with a clause)
CODE_DEFINITIONS = {"LC1": "liability cap", "LC2": "excluded indirect loss", "GL3": "governing law",
                    "FM9": "force majeure", "DP4": "personal data"}


def definitions_prompt(text: str) -> str:
    """The firm's prompt with the plain labels listed and each firm code defined."""
    defs = ", ".join(f"{code} means {desc}" for code, desc in CODE_DEFINITIONS.items())
    return f"Labels: {', '.join(corpus.PLAIN_LABELS)}; {defs}.\n" + corpus.clause_prompt(text)


def few_shot_prompt(shots: list[dict]):
    """A prompt function that puts the given labelled clauses, answered in the firm's JSON, before the question."""
    prefix = "".join(corpus.clause_prompt(s["text"]) + corpus.clause_completion(s["label"]) + "\n" for s in shots)
    return lambda text: prefix + corpus.clause_prompt(text)


def predict_with(model, texts: list[str], prompt) -> list[str | None]:
    """The label the model answers for each clause under prompt(text) (None when not the firm's JSON)."""
    answers = local_model.generate_batch(model, [prompt(t) for t in texts], max_new_tokens=12)
    return [(parse_json(a) or {}).get("label") for a in answers]


# --------------------------------------------------------------------------- general capability (forgetting)
PROBE_TASKS = ("topic", "contract topic", "price from a passage", "place from a sentence", "name from a sentence",
               "facts")


def _probe_task(prompt: str) -> str:
    """Which of corpus.general_document's question kinds a prompt is, from its question."""
    if "What is the topic?" in prompt:
        return "topic"
    if "Clause: " in prompt:
        return "contract topic"
    if "What is the price" in prompt:
        return "price from a passage"
    return "place from a sentence" if "Where did" in prompt else "name from a sentence"


def general_probe(n_per_task: int = 30, seed: int = 11) -> list[dict]:
    """General tasks with one right answer, drawn like the base model's pre-training questions (JSON-format
    questions only, so the answer is exact), plus completions of well-known facts: {task, prompt, answer}."""
    r = random.Random(seed)
    items: list[dict] = []
    counts = dict.fromkeys(PROBE_TASKS, 0)
    while any(counts[t] < n_per_task for t in PROBE_TASKS if t != "facts"):
        prompt, completion = corpus.general_document(r)
        obj = parse_json(completion)
        if not prompt or obj is None:
            continue
        task = _probe_task(prompt)
        if counts[task] < n_per_task:
            counts[task] += 1
            items.append({"task": task, "prompt": prompt, "answer": next(iter(obj.values()))})
    items += [{"task": "facts", "prompt": k, "answer": v} for k, v in corpus.FACTS.items()]
    return items


def probe_scores(model, probe: list[dict]) -> pd.Series:
    """Exact-answer accuracy per probe task (a JSON answer's value, or a fact's next word)."""
    answers = local_model.generate_batch(model, [p["prompt"] for p in probe], max_new_tokens=12)
    hits = []
    for item, a in zip(probe, answers):
        if item["task"] == "facts":
            hits.append(re.findall(r"\w+", a)[:1] == [item["answer"]])
        else:
            hits.append(next(iter((parse_json(a) or {None: None}).values())) == item["answer"])
    frame = pd.DataFrame({"task": [p["task"] for p in probe], "hit": hits})
    return frame.groupby("task", sort=False)["hit"].mean()


# --------------------------------------------------------------------------- training runs to compare
def finetune_by_epoch(model, pairs, epochs: int, *, val_pairs=None, seed: int = 0, **kwargs) -> list:
    """One cached fine-tuning run per epoch, each starting from the previous one's weights (a checkpoint per
    epoch, each with its own shuffle); returns the model after epoch 1, 2, ... With val_pairs each model's
    history ends with its validation loss."""
    models = []
    for epoch in range(epochs):
        model = local_model.cached_finetune(model, pairs, epochs=1, val_pairs=val_pairs, seed=seed + epoch,
                                            progress=False, **kwargs)
        models.append(model)
    return models


def validation_losses(models: list) -> pd.DataFrame:
    """The validation loss at the end of each epoch of a finetune_by_epoch run, in the columns of a
    Bedrock job's validation_metrics.csv (step_number, epoch_number, validation_loss)."""
    rows, step = [], 0
    for epoch, model in enumerate(models, start=1):
        step += len(model.history)
        rows.append({"step_number": step, "epoch_number": epoch, "validation_loss": model.history[-1]["val_loss"]})
    return pd.DataFrame(rows)


def choose_epochs(val_loss: list[float], tolerance: float = 0.01) -> int:
    """The fewest epochs whose validation loss is within `tolerance` of the lowest: a smaller difference is
    noise, and every extra epoch costs money and moves the model further from what it could do."""
    best = min(val_loss)
    return next(i for i, v in enumerate(val_loss, start=1) if v <= best + tolerance)


# --------------------------------------------------------------------------- exercise checks (notebook 05)

def check_ship_decision(decision, codes: dict, forgetting: float, replay_forgetting: float, job_usd: float) -> str:
    """Exercise 1: ship when the gain on the codes is beyond its interval and forgetting does not touch the model's
    only use (filing clauses); `codes` is the paired interval of fine-tuned minus best prompt on the codes."""
    given = decision.strip().lower().replace("’", "'") if isinstance(decision, str) else decision
    if given not in ("ship", "don't ship", "prompt harder"):
        return "Not yet: set my_decision to 'ship', 'don't ship' or 'prompt harder'."
    if given == "prompt harder":
        return (f"Not yet: four prompts were tried on validation; fine-tuning beats the best by {codes['diff']:+.2f} "
                f"on the codes, and even the low end of the interval is {codes['low']:.2f}. On a real model, try "
                "section 4 live first - here the prompt has had its chance.")
    if given == "don't ship":
        return (f"Not yet: forgetting is real ({forgetting:.2f} of the probe) but the model only files clauses; "
                f"it would matter if the same model also answered general questions (then use replay: "
                f"{replay_forgetting:.2f}). Is the gain worth {job_usd:.2f} USD for one job?")
    if codes["low"] <= 0:
        return "Not yet: the gain's interval reaches zero; the measurement does not support shipping."
    return "Right: the gain on the codes is beyond its interval, the cost is small, and forgetting does not touch its use."


def check_epochs(answer, val_loss: list[float], tolerance: float = 0.01) -> str:
    """Exercise 2: the fewest epochs within `tolerance` of the lowest validation loss (choose_epochs' rule)."""
    right = choose_epochs(val_loss, tolerance)
    try:
        given = int(answer)
    except (TypeError, ValueError):
        return f"Not yet: set my_epochs to a number from 1 to {len(val_loss)}."
    if not 1 <= given <= len(val_loss):
        return f"Not yet: the job ran {len(val_loss)} epochs; choose one of 1 to {len(val_loss)}."
    best = val_loss.index(min(val_loss)) + 1
    if given == right:
        return (f"Right: epoch {right} is within {tolerance} of the lowest ({min(val_loss)} at epoch {best}); a smaller "
                "difference is noise, and every extra epoch costs money and moves the model further.")
    if given == best:
        return (f"Not yet: epoch {best} has the lowest loss, but only {val_loss[right - 1] - min(val_loss):.3f} below "
                f"an earlier epoch - within {tolerance}, noise. Which is the first epoch within {tolerance} of it?")
    return (f"Not yet: epoch {given} has validation loss {val_loss[given - 1]}; the lowest is {min(val_loss)}. "
            f"Which is the first epoch within {tolerance} of it?")


def check_widest_slice(answer, gap: pd.DataFrame) -> str:
    """Exercise 3: the slice whose 95% interval is widest (gap: one row per slice with low, high and n)."""
    widths = (gap["high"] - gap["low"]).sort_values()
    if answer not in gap.index:
        return f"Not yet: choose one of {gap.index.tolist()}."
    widest = widths.index[-1]
    if answer != widest:
        return (f"Not yet: {answer}'s interval is {widths[answer]:.2f} wide on {int(gap.loc[answer, 'n'])} records; "
                "one is wider. Few records, wide interval.")
    return f"Right: {widest}, {widths.iloc[-1]:.2f} wide, on {int(gap.loc[widest, 'n'])} records."


def check_table(table: dict, measured: dict, tolerance: float = 0.01) -> str:
    """The decision table of notebook 05: right when every row is within `tolerance` of its measured value."""
    off = [row for row, value in measured.items()
           if not isinstance(table.get(row), (int, float)) or abs(table[row] - value) > tolerance]
    if not off:
        return "Right: every row is the measured number."
    signs = [row for row in off if isinstance(table.get(row), (int, float)) and abs(table[row] + measured[row]) <= tolerance]
    hint = f" {', '.join(signs)}: the sign is the wrong way round (fine-tuned minus prompt-only)." if signs else ""
    return f"Not yet: {len(off)} row(s) to fill or fix: {off}.{hint}"
