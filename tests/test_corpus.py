"""The lab's generated data: deterministic, in the agreed schemas, with the imperfections it promises."""
import collections
import csv
import json
import re

import pytest

from helpers import corpus, dataprep


def test_files_on_disk_are_exactly_what_the_generator_writes(tmp_path):
    files = corpus.build_files()
    assert files == corpus.build_files()  # deterministic
    for rel, content in files.items():
        assert (corpus.DATA / rel).read_text(encoding="utf-8") == content, f"data/{rel} is stale: run python -m helpers.corpus"
    assert corpus.main([str(tmp_path)]) == 0
    assert (tmp_path / "clauses" / "raw.jsonl").read_bytes() == (corpus.DATA / "clauses" / "raw.jsonl").read_bytes()
    assert sum(len(c.encode()) for c in files.values()) < 3_000_000
    for folder in ("clauses", "catalog", "general"):
        assert (corpus.DATA / folder / "README.md").is_file()


def test_raw_clauses_schema_labels_and_minority_class():
    rows = corpus.read_jsonl(corpus.DATA / "clauses" / "raw.jsonl")
    assert 1500 <= len(rows) <= 3000
    assert all(list(r) == ["id", "text", "label", "effective_date"] for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)
    counts = collections.Counter(r["label"] for r in rows)
    assert len(counts) >= 8 and set(counts) == set(corpus.LABELS)
    assert min(counts, key=counts.get) == "DP4" and counts["DP4"] < 0.5 * len(rows) / len(counts)
    assert all(re.fullmatch(r"[A-Za-z0-9]{2,16}", lab) for lab in counts)  # short single-word or code labels


def test_taxonomy_has_plain_words_and_firm_codes():
    with open(corpus.DATA / "clauses" / "taxonomy.csv", newline="") as f:
        tax = list(csv.DictReader(f))
    assert list(tax[0]) == ["label", "kind", "description", "source"]
    kinds = collections.Counter(t["kind"] for t in tax)
    assert kinds["plain"] >= 3 and kinds["code"] >= 3 and set(kinds) == {"plain", "code"}
    assert [t["label"] for t in tax] == corpus.LABELS


def test_raw_clauses_carry_the_promised_imperfections():
    rows = corpus.read_jsonl(corpus.DATA / "clauses" / "raw.jsonl")
    texts = collections.Counter(r["text"] for r in rows)
    assert sum(n - 1 for n in texts.values()) >= 0.04 * len(rows)  # exact duplicates
    norm = collections.defaultdict(set)
    for r in rows:
        norm[corpus.normalize(r["text"])].add(r["text"])
    assert sum(len(v) > 1 for v in norm.values()) >= 20  # near duplicates: same text up to small edits
    labels = collections.defaultdict(set)
    for r in rows:
        labels[r["text"]].add(r["label"])
    assert 3 <= sum(len(v) > 1 for v in labels.values()) <= 0.03 * len(rows)  # a few wrong labels
    formats = {re.sub(r"[A-Za-z]+", "M", re.sub(r"\d", "9", r["effective_date"])) for r in rows}
    assert len(formats) >= 5  # inconsistent date formats
    assert sum(" applies from " in r["text"] for r in rows) > 50  # dates inside the text too
    borderline = [re.compile(re.sub(r"\\{[abn]\\}", ".+", re.escape(tpl))) for tpl, _ in corpus.BORDERLINE]
    assert 0.01 * len(rows) < sum(any(b.fullmatch(r["text"]) for b in borderline) for r in rows) < 0.06 * len(rows)


def test_clause_splits_are_the_shipped_leak_free_split():
    s = corpus.clause_splits()
    assert list(s) == ["train_set", "val_set", "test_set"]
    assert all(list(r) == list(corpus.SPLIT_FIELDS) for rows in s.values() for r in rows)
    ids = {k: {r["id"] for r in v} for k, v in s.items()}
    assert not (ids["train_set"] & ids["val_set"]) and not (ids["train_set"] & ids["test_set"])
    assert not (ids["val_set"] & ids["test_set"])
    keys = {k: {corpus.normalize(r["text"]) for r in v} for k, v in s.items()}
    assert not (keys["train_set"] & keys["test_set"]) and not (keys["train_set"] & keys["val_set"])
    assert len(s["test_set"]) >= 100 and len(s["train_set"]) > 5 * len(s["test_set"])
    train_texts = [corpus.normalize(r["text"]) for r in s["train_set"]]
    for held in ("val_set", "test_set"):  # notebook 03's rule: word-pair Jaccard >= 0.7 is a near duplicate
        pairs = dataprep.cross_split_pairs([corpus.normalize(r["text"]) for r in s[held]], train_texts, 0.7)
        assert pairs == [], f"{held}: {len(pairs)} near-duplicate pairs with train_set"
        assert {r["label"] for r in s[held]} == set(corpus.LABELS)
        assert sum(r["label"] == "DP4" for r in s[held]) >= 3  # the minority class
        assert sum(corpus.is_borderline(r["text"]) for r in s[held]) >= 3
    val_texts = [corpus.normalize(r["text"]) for r in s["val_set"]]
    assert dataprep.cross_split_pairs([corpus.normalize(r["text"]) for r in s["test_set"]], val_texts, 0.7) == []


def test_clause_splits_name_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing train.jsonl.*make data"):
        corpus.clause_splits(tmp_path)


def test_is_borderline_recognises_each_template_and_not_a_plain_clause():
    for tpl, _ in corpus.BORDERLINE:
        assert corpus.is_borderline(tpl.format(a="Supplier", b="Customer", n="30"))
    assert not corpus.is_borderline("The Customer shall pay the Supplier the fees set out in Schedule 1.")


def test_domain_text_and_general_heldout():
    rows = corpus.read_jsonl(corpus.DATA / "clauses" / "domain_text.jsonl")
    assert len(rows) >= 1000 and all(list(r) == ["input"] for r in rows)
    train, held = corpus.domain_splits()
    assert len(held) == len(rows) - len(train) > 100
    assert len(corpus.general_heldout()) > 200
    assert corpus.general_documents(50, seed=1) == corpus.general_documents(50, seed=1)


def test_catalog_v2_changes_prices_and_adds_one_product():
    v1 = corpus.read_catalog(corpus.DATA / "catalog" / "catalog_v1.csv")
    v2 = corpus.read_catalog(corpus.DATA / "catalog" / "catalog_v2.csv")
    assert list(v1[0]) == ["sku", "product", "category", "price"]
    assert len(v2) == len(v1) + 1 and v2[-1]["product"] not in {r["product"] for r in v1}
    changed = [a for a, b in zip(v1, v2) if a["price"] != b["price"]]
    assert len(changed) >= 10 and all(a["product"] == b["product"] for a, b in zip(v1, v2))


def test_prompts_have_the_firms_json_format():
    assert json.loads(corpus.clause_completion("LC1")) == {"label": "LC1"}
    assert corpus.clause_prompt("X.").endswith('Answer in JSON with key "label".\nAnswer:')
    assert "JSON" not in corpus.clause_prompt("X.", json_format=False)
