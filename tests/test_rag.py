"""Retrieval: BM25 finds the asked-for product, and the model (not this code) reads the current price."""
import numpy as np
import pytest

from helpers import corpus, local_model as lm, rag

V1 = corpus.read_catalog(corpus.DATA / "catalog" / "catalog_v1.csv")
V2 = corpus.read_catalog(corpus.DATA / "catalog" / "catalog_v2.csv")


def test_bm25_prefers_rare_matching_terms():
    index = rag.BM25(["red apple pie", "green apple", "blue car"])
    assert index.top("apple pie") == [0]
    assert index.top("car", k=2)[0] == 2
    assert index.scores("zebra") == [0.0, 0.0, 0.0]


def test_retrieval_finds_every_product_of_the_current_catalog():
    for row in V2:
        assert rag.retrieve(corpus.price_question(row["product"]), V2)[0] is row


def test_changed_items_are_the_new_prices_and_the_new_product():
    items = rag.changed_items(V1, V2)
    assert len(items) == 13 and items[-1] is V2[-1]
    assert rag.price_in(" It costs $49.00.") == 49.0 and rag.price_in("no idea") is None


@pytest.fixture(scope="module")
def base():
    return lm.load_base()


def test_the_answer_comes_from_the_model_reading_the_passage(base):
    row = rag.changed_items(V1, V2)[0]
    q = corpus.price_question(row["product"])
    assert rag.price_in(rag.answer_with_retrieval(base, q, V2)) == float(row["price"])
    # the same pipeline with an untrained model of the same shape does not produce the price
    blank = lm.Model(base.config, base.tokenizer, lm.init_params(base.config, np.random.default_rng(0)))
    assert rag.price_in(rag.answer_with_retrieval(blank, q, V2)) != float(row["price"])


def test_freshness_retrieval_answers_current_prices_and_the_snapshot_does_not(base):
    r = rag.freshness(base, V1, V2)
    assert r["n_changed"] == 13
    assert r["rag_accuracy"] >= 0.9
    assert r["tuned_accuracy"] <= 0.2
    assert r["tuned_says_old_price"] >= 0.8  # it memorised the snapshot
