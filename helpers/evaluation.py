"""Scoring a model's answers on the clause task: the JSON it must produce, the label it picks, accuracy by slice."""
from __future__ import annotations

import json

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
    prefix = "".join(corpus.clause_prompt(s["text"]) + corpus.clause_completion(s["label"]) + "\n" for s in shots)
    answers = local_model.generate_batch(model, [prefix + corpus.clause_prompt(t) for t in texts], max_new_tokens=12)
    return [(parse_json(a) or {}).get("label") for a in answers]


def clause_accuracy(model, rows: list[dict], shots: list[dict] = ()) -> dict:
    """Exact-match accuracy overall, on plain-language labels and on the firm's codes, with chance level."""
    pred = predict_labels(model, [r["text"] for r in rows], shots)
    hit = [p == r["label"] for p, r in zip(pred, rows)]
    plain = [h for h, r in zip(hit, rows) if r["label"] in corpus.PLAIN_LABELS]
    code = [h for h, r in zip(hit, rows) if r["label"] not in corpus.PLAIN_LABELS]
    return {"overall": sum(hit) / len(hit), "plain": sum(plain) / max(1, len(plain)),
            "code": sum(code) / max(1, len(code)), "chance": 1 / len(corpus.LABELS),
            "format_ok": sum(p is not None for p in pred) / len(pred)}
