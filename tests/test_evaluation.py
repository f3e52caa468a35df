"""Tests of helpers/evaluation.py: parsing the firm's JSON answer and scoring labels by slice."""
from helpers import corpus, evaluation, local_model


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
