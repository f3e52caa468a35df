"""helpers.dataprep: each pipeline step on small fixtures, the review log, the leak-free split, the CLI."""
import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import dataprep as D
from helpers import formats

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
NOVA = "amazon.nova-micro-v1:0:128k"
WORDS = ("party supplier customer shall pay fees invoice days notice terminate agreement breach liability cap "
         "exceed loss profits data personal process law courts govern event control delay warrant goods defect "
         "assign transfer consent confidential disclose secret indemnify claim third").split()


def clause(rng: random.Random, n_words: int = 18) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words)).capitalize() + "."


def frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([{"id": f"c{i:03d}", "text": t, "label": lab, "effective_date": d}
                         for i, (t, lab, d) in enumerate(rows, start=1)])


# ---------------------------------------------------------------- loading

def test_load_records_tolerates_bom_crlf_blank_lines_and_reports_bad_lines():
    data = (b'\xef\xbb\xbf{"id": "a", "text": "x"}\r\n\r\n{"id": "b", "text": "y"}\n{"id": \n[1, 2]\n'
            b'\xff{"id": "c"}\n{"id": "d", "text": "z"}')
    df, findings = D.load_records(data, name="raw.jsonl")
    assert df["id"].tolist() == ["a", "b", "d"] and df["line"].tolist() == [1, 3, 7]
    assert [(f.line, f.field) for f in findings] == [(4, "(line)"), (5, "(line)"), (6, "(line)")]
    assert str(findings[1]) == "raw.jsonl:5: (line): must be a JSON object, not list (one JSON object per line, UTF-8)"
    assert "not valid UTF-8" in findings[2].message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=60) | st.integers(1, 20_000).map(lambda n: b"{\"a\":" + b"[" * n), max_size=20))
def test_load_records_never_crashes(lines):
    data = b"\n".join(lines)
    df, findings = D.load_records(data)
    assert len(df) + len(findings) <= data.count(b"\n") + 1
    assert all(1 <= f.line <= data.count(b"\n") + 1 for f in findings)


# ---------------------------------------------------------------- exact duplicates and label conflicts

def test_normalise_text():
    assert D.normalise_text("  The  Fees ,\tare DUE .\n") == "the fees, are due."
    assert D.normalise_text("ﬁnal") == "final"  # NFKC folds the ligature
    assert D.normalise_text(None) == ""


def test_dedup_exact_keeps_the_first_copy_and_names_it():
    df = frame([("Fees are due.", "payment", "2024-01-01"), ("fees  are due .", "payment", "2024-02-01"),
                ("Fees are due.", "LC1", "2024-03-01"), ("Other text.", "payment", "2024-01-01")])
    kept, dropped = D.dedup_exact(df)
    assert kept["id"].tolist() == ["c001", "c003", "c004"]
    assert dropped[["id", "duplicate_of"]].values.tolist() == [["c002", "c001"]]


def test_find_label_conflicts():
    df = frame([("Fees are due.", "payment", ""), ("fees are due.", "LC1", ""), ("Other.", "payment", "")])
    conflicts = D.find_label_conflicts(df)
    assert conflicts["id"].tolist() == ["c001", "c002"]
    assert set(conflicts["labels_seen"]) == {"LC1, payment"}


def test_majority_labels_leaves_out_ties():
    df = frame([("A a.", "x", ""), ("A a.", "x", ""), ("A a.", "y", ""), ("B b.", "x", ""), ("B b.", "y", "")])
    assert D.majority_labels(df).to_dict() == {"a a.": "x"}


# ---------------------------------------------------------------- near duplicates

def test_one_word_edit_is_a_near_duplicate_and_similarity_is_exact_jaccard():
    rng = random.Random(1)
    base = clause(rng, 25)
    edited = base.replace(base.split()[10], "zebra", 1)
    texts = [base, clause(rng), edited, clause(rng)]
    clusters = D.near_duplicates(texts)
    assert clusters["index"].tolist() == [0, 2]
    assert clusters["cluster"].nunique() == 1
    assert clusters["similarity"].iloc[1] == round(D.jaccard(base, edited), 3) < 1


def test_near_duplicates_agree_with_brute_force():
    rng = random.Random(7)
    texts = [clause(rng, rng.randint(8, 30)) for _ in range(250)]
    for i in range(120):  # edited copies, one to four word changes: similarities both sides of the threshold
        words = texts[i].split()
        for _ in range(1 + i % 4):
            words[rng.randrange(len(words))] = rng.choice(WORDS)
        texts.append(" ".join(words))
    groups = D.cluster_ids(len(texts), D.near_duplicates(texts, 0.7))
    shingles = [D.shingles(t) for t in texts]
    above = 0
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            sim = len(shingles[i] & shingles[j]) / len(shingles[i] | shingles[j])
            if sim >= 0.7:
                above += 1
                assert groups[i] == groups[j], (i, j, sim)
    assert above > 30
    # every linked pair was confirmed exactly, so a cluster never joins two texts unless a chain of >= 0.7 does


def test_minhash_estimates_jaccard_and_is_deterministic():
    rng = random.Random(3)
    a = clause(rng, 40)
    b = " ".join(a.split()[:30] + [clause(rng, 10)])
    sig = D.minhash_signatures([a, b, a])
    assert sig.shape == (3, 128) and sig.dtype == np.uint16
    assert (sig[0] == sig[2]).all()
    assert abs((sig[0] == sig[1]).mean() - D.jaccard(a, b)) < 0.15
    assert (D.minhash_signatures([a, b]) == sig[:2]).all()


def test_short_and_empty_texts_are_handled():
    clusters = D.near_duplicates(["", "", "word", "Word", "two words", "other"])
    grouped = clusters.groupby("cluster")["index"].apply(list).tolist()
    assert sorted(grouped) == [[0, 1], [2, 3]]


def test_cross_split_pairs():
    assert D.cross_split_pairs(["a b c d"], ["a b c d", "x y z"]) == [(0, 0, 1.0)]


# ---------------------------------------------------------------- format check of converted records

def test_check_format_maps_findings_to_record_ids():
    df = frame([("Fees are due.", "payment", ""), ("", "LC1", ""), ("User: hi", "x", "")])
    records = D.to_bedrock_records(df, "bedrock-conversation-2024", lambda r: r["text"], lambda r: r["label"])
    findings = D.check_format(records, NOVA, ids=df["id"].tolist())
    by_id = findings.groupby("id")["field"].apply(list).to_dict()
    assert by_id == {0: ["(file)"], "c002": ["messages[0].content[0].text"], "c003": ["(text)"]}


# ---------------------------------------------------------------- dates

@pytest.mark.parametrize("written,fmt,iso", [
    ("2024-03-05", "YYYY-MM-DD", "2024-03-05"), ("2024.03.05", "YYYY.MM.DD", "2024-03-05"),
    ("25/03/2024", "DD/MM/YYYY", "2024-03-25"), ("03/25/2024", "MM/DD/YYYY", "2024-03-25"),
    ("March 5, 2024", "Month D, YYYY", "2024-03-05"), ("5 Mar 2024", "D Mon YYYY", "2024-03-05"),
    ("07/07/2021", "NN/NN/YYYY", "2021-07-07"),
])
def test_parse_date_formats(written, fmt, iso):
    assert D.parse_date(written) == {"format": fmt, "iso": iso, "problem": None}


def test_parse_date_problems():
    assert D.parse_date("03/04/2024")["problem"] == "day and month are ambiguous (both <= 12)"
    assert D.parse_date("03/04/2024", slash_order="DMY")["iso"] == "2024-04-03"
    assert D.parse_date("03/04/2024", slash_order="MDY")["iso"] == "2024-03-04"
    assert D.parse_date("31/02/2024")["problem"].startswith("not a date")
    assert D.parse_date("5 Smarch 2024")["problem"] == "unknown month 'Smarch'"
    assert D.parse_date("yesterday")["format"] == "unrecognised"
    assert D.parse_date(None)["problem"] == "no date"


def test_check_dates_and_dates_in_text():
    df = frame([("Applies from 2024-01-02 and 3 Mar 2023.", "x", "2024-01-02"), ("None.", "x", "13/01/2024")])
    dates = D.check_dates(df)
    assert dates[["id", "format", "iso"]].values.tolist() == [["c001", "YYYY-MM-DD", "2024-01-02"],
                                                             ["c002", "DD/MM/YYYY", "2024-01-13"]]
    counts = D.dates_in_text(df["text"])
    assert counts["YYYY-MM-DD"] == 1 and counts["D Mon YYYY"] == 1 and counts["NN/NN/YYYY"] == 0


# ---------------------------------------------------------------- review queue and decisions

@pytest.fixture
def reviewed_set():
    raw = frame([("Fees are due.", "payment", "2024-01-01"), ("Fees are due.", "payment", "2024-01-02"),
                 ("Fees are due.", "LC1", "2024-01-03"), ("Either party may end it on notice.", "termination", "x"),
                 ("Either party may end it on thirty days notice.", "payment", "x"), ("", "payment", "x")])
    kept, _ = D.dedup_exact(raw)
    clusters = D.near_duplicates(kept["text"].tolist(), 0.5)
    return raw, kept, clusters


def test_label_flags_suggest_the_majority(reviewed_set):
    raw, kept, clusters = reviewed_set
    flags = D.label_flags(raw, kept, clusters)
    assert ("c001", "same text, labels LC1, payment", "payment") in flags
    assert ("c003", "same text, labels LC1, payment", "payment") in flags
    near = {f[0]: f[2] for f in flags if f[1].startswith("near duplicates")}
    assert near == {"c003": "payment", "c004": None, "c005": None}  # c004 and c005 tie: no suggestion


def test_decisions_are_saved_and_replayed(reviewed_set, tmp_path):
    raw, kept, clusters = reviewed_set
    queue = D.build_review_queue(kept, D.label_flags(raw, kept, clusters) + [("c006", "format: empty", None)])
    assert queue["id"].tolist() == ["c001", "c003", "c004", "c005", "c006"]
    log = tmp_path / "decisions.jsonl"
    items = {item["id"]: item for item in queue.to_dict("records")}
    D.record_decision(log, items["c004"], "drop")
    D.record_decision(log, items["c004"], "fix", {"label": "termination"})  # the last decision wins
    yours = D.load_decisions(log)
    rule = D.suggest_decisions(queue, yours)
    assert {k: v["action"] for k, v in rule.items()} == {"c001": "accept", "c003": "fix", "c005": "accept",
                                                         "c006": "drop"}
    assert len(log.read_text().splitlines()) == 2  # only your decisions are saved
    out, applied = D.apply_decisions(kept, {**rule, **yours})
    assert out[["id", "label"]].values.tolist() == [["c001", "payment"], ["c003", "payment"],
                                                    ["c004", "termination"], ["c005", "payment"]]
    assert applied["applied"].all() and applied.set_index("id").loc["c004", "by"] == "you"


def test_the_rule_drops_a_text_whose_labels_have_no_majority():
    raw = frame([("Fees are due.", "payment", ""), ("Fees are due.", "LC1", ""), ("Other.", "x", "")])
    kept, _ = D.dedup_exact(raw)
    queue = D.build_review_queue(kept, D.label_flags(raw, kept, D.near_duplicates(kept["text"].tolist())))
    assert {k: v["action"] for k, v in D.suggest_decisions(queue, {}).items()} == {"c001": "drop", "c002": "drop"}


def test_a_decision_on_a_changed_record_is_not_applied(reviewed_set, tmp_path):
    _, kept, _ = reviewed_set
    item = D.build_review_queue(kept, [("c004", "check", None)]).iloc[0].to_dict()
    decision = D.make_decision(item, "drop")
    changed = kept.assign(text=kept["text"].where(kept["id"] != "c004", "Edited since."))
    out, log = D.apply_decisions(changed, {"c004": decision, "c999": dict(decision, id="c999")})
    assert len(out) == len(kept)
    assert log["note"].tolist() == ["record changed since the decision: review it again", "record not in the data"]


def test_bad_decisions_are_refused_and_bad_log_lines_skipped(tmp_path):
    item = {"id": "c1", "fingerprint": "f"}
    with pytest.raises(ValueError, match="action must be one of"):
        D.make_decision(item, "keep")
    with pytest.raises(ValueError, match="needs the corrected fields"):
        D.make_decision(item, "fix")
    log = tmp_path / "d.jsonl"
    log.write_bytes(b'{"id": "c1", "action": "drop", "fingerprint": "f"}\nnot json\n{"id": "c2", "action": "?"}\n')
    assert list(D.load_decisions(log)) == ["c1"]
    assert D.load_decisions(tmp_path / "missing.jsonl") == {}


@pytest.fixture
def review(reviewed_set, tmp_path):
    """A review widget over the flagged records of reviewed_set: (widget, its buttons by label, decisions log)."""
    raw, kept, clusters = reviewed_set
    queue = D.build_review_queue(kept, D.label_flags(raw, kept, clusters))
    log = tmp_path / "decisions.jsonl"
    ui = D.review_ui(queue, log, sorted(set(kept["label"])))
    return ui, {b.description: b for b in ui.children[3].children}, log


def test_review_ui_saves_a_click(review):
    ui, buttons, log = review
    buttons["Drop"].click()
    buttons["Fix"].click()  # the dropdown holds the suggested label: a fix to it
    decided = D.load_decisions(log)
    assert decided["c001"]["action"] == "drop"
    assert decided["c003"] == dict(decided["c003"], action="fix", fix={"label": "payment"}, by="you")
    assert "2 of 4 decided" in ui.children[4].value


# ---------------------------------------------------------------- split and balance

def test_split_is_stratified_and_keeps_groups_together():
    rng = np.random.default_rng(0)
    labels = np.array(["a"] * 600 + ["b"] * 300 + ["c"] * 100)
    groups = np.arange(1000)
    groups[:60] = 0  # one large cluster
    groups[600:630] = 600
    groups[700:900:2] = groups[701:901:2]  # many pairs
    split = D.split_stratified(labels, groups, seed=1)
    assert D.leaking_groups(groups, split) == []
    report = D.split_report(labels, split)
    for label in "abc":
        assert abs(report.loc[label, "train"] / report.loc[label, list(D.SPLITS)].sum() - 0.8) < 0.03
        assert abs(report.loc[label, "test"] / report.loc[label, list(D.SPLITS)].sum() - 0.1) < 0.03
    assert report.loc["total", list(D.SPLITS)].sum() == 1000
    assert (D.split_stratified(labels, groups, seed=1) == split).all()
    assert not (D.split_stratified(labels, groups, seed=2) == split).all()
    assert rng is not None


def test_leaking_groups_finds_a_straddling_cluster():
    assert D.leaking_groups([1, 1, 2], ["train", "test", "train"]) == [1]


def test_balance_options_touch_only_the_training_split():
    df = pd.DataFrame({"label": ["a"] * 80 + ["b"] * 20, "text": [str(i) for i in range(100)]})
    split = np.array((["train"] * 8 + ["validation", "test"]) * 10)
    table = D.balance_options(df, split)
    assert table.loc["a", "train"] == 64 and table.loc["b", "train"] == 16
    assert table.loc["b", "collect more (to reach the median)"] == 24
    assert table.loc["b", "train after up-sampling"] == 40 and table.loc["a", "train after up-sampling"] == 64
    assert table.loc["b", "validation"] == 2 and table.loc["b", "test"] == 2
    assert table.loc["a", "weight when re-weighting"] == 0.625 and table.loc["b", "weight when re-weighting"] == 2.5
    assert table["weighted train count"].nunique() == 1


def test_upsample_repeats_minority_records_only():
    df = pd.DataFrame({"label": ["a"] * 5 + ["b"] * 2, "text": list("abcdefg")})
    up = D.upsample(df)
    assert up["label"].value_counts().to_dict() == {"a": 5, "b": 5}
    assert set(up[up["label"] == "b"]["text"]) == {"f", "g"}


# ---------------------------------------------------------------- the whole pipeline and writing files

def test_prepare_runs_every_step_without_leakage(tmp_path):
    rng = random.Random(5)
    rows = []
    for i in range(400):
        text = clause(rng, 20)
        label = ["payment", "LC1", "DP4"][i % 3 if i % 10 else 2]
        rows.append((text, label, "2024-01-0%d" % (1 + i % 9)))
        if i % 7 == 0:
            rows.append((text.replace(text.split()[5], "zebra", 1), label, "01/02/2024"))
        if i % 11 == 0:
            rows.append((text, "LC1" if label != "LC1" else "payment", "2024-01-01"))
    raw = frame(rows)
    log = tmp_path / "decisions.jsonl"
    out = D.prepare(raw, NOVA, decisions_path=log)
    assert out["stages"]["raw records"] == len(raw)
    assert out["stages"]["train_set"] + out["stages"]["val_set"] + out["stages"]["test_set"] == len(out["reviewed"])
    assert D.leaking_groups(out["groups"], out["split"]) == []
    assert D.cross_split_pairs(out["train_set"]["text"].tolist(), out["test_set"]["text"].tolist()) == []
    again = D.prepare(raw, NOVA, decisions_path=log)
    assert again["stages"] == out["stages"] and (again["split"] == out["split"]).all()


def test_write_jsonl_never_overwrites_silently(tmp_path):
    path = tmp_path / "train.jsonl"
    assert D.write_jsonl(path, [{"a": 1}]).startswith("train.jsonl: 1 records, sha256 ")
    assert D.write_jsonl(path, [{"a": 1}]) == D.write_jsonl(path, [{"a": 1}])  # same content: nothing to keep
    assert "previous file is kept as train.jsonl~1~" in D.write_jsonl(path, [{"a": 2}])
    assert "train.jsonl~2~" in D.write_jsonl(path, [{"a": 3}])
    assert json.loads((tmp_path / "train.jsonl~1~").read_text()) == {"a": 1}
    assert json.loads(path.read_text()) == {"a": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.jsonl", "train.jsonl~1~", "train.jsonl~2~"]


def test_plots_draw_the_numbers_given():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = D.plot_funnel({"raw": 10, "kept": 7, "train": 5})
    assert [bar.get_width() for bar in ax.patches] == [5, 7, 10]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["train", "kept", "raw"]
    ax = D.plot_class_balance(pd.Series({"a": 50, "b": 10, "c": 40}))
    assert [bar.get_width() for bar in ax.patches] == [10, 40, 50]
    assert [bar.get_facecolor() == matplotlib.colors.to_rgba("tab:red") for bar in ax.patches] == [True, False, False]
    plt.close("all")


def test_work_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_WORK_DIR", str(tmp_path))
    assert D.work_dir() == tmp_path
    monkeypatch.delenv("LAB_WORK_DIR")
    assert D.work_dir().name == "work"


def test_split_handles_unlabelled_records_and_full_splits():
    split = D.split_stratified(["a", None, None, "a"], [0, 1, 2, 0], fractions=(0.5, 0.25, 0.25))
    assert split[0] == split[3]
    assert D.leaking_groups([0, 1, 2, 0], split) == []
    split = D.split_stratified(["a"] * 12, [0] * 8 + [8, 9, 10, 11], fractions=(0.5, 0.25, 0.25))
    assert list(split[:8]) == ["train"] * 8  # the cluster overfills train: the single records fill the rest
    assert sorted(split[8:]) == ["test", "test", "validation", "validation"]
    split = D.split_stratified(["a"] * 4, [0, 0, 2, 2], fractions=(0.5, 0.5, 0))  # clusters fill every split
    assert sorted(split) == ["train", "train", "validation", "validation"]


def test_prepare_names_missing_columns_and_repeated_ids():
    with pytest.raises(ValueError, match="missing: label"):
        D.prepare(pd.DataFrame({"id": ["a"], "text": ["x"]}), NOVA)
    with pytest.raises(ValueError, match="repeated: a"):
        D.prepare(pd.DataFrame({"id": ["a", "a"], "text": ["x", "y"], "label": ["p", "q"]}), NOVA)
    out = D.prepare(pd.DataFrame({"id": list("abcdefghij"), "text": [f"clause {i} text" for i in range(10)],
                                  "label": ["p", "q"] * 5}), NOVA)
    assert out["stages"]["after review"] == 10 and "effective_date_iso" not in out["reviewed"]


@pytest.mark.parametrize("choice", ["fix-minority", "accept-minority", "accept-all"])
def test_your_label_for_one_copy_of_a_text_goes_to_its_other_copies(choice):
    raw = frame([("Fees are due.", "payment", ""), ("Fees are due.", "payment", ""), ("fees are due.", "LC1", ""),
                 ("Fees are due .", "payment", ""), ("Other.", "x", "")])
    kept, _ = D.dedup_exact(raw)
    queue = D.build_review_queue(kept, D.label_flags(raw, kept, D.near_duplicates(kept["text"].tolist())))
    items = {item["id"]: item for item in queue.to_dict("records")}
    minority = next(rid for rid, item in items.items() if item["label"] == "LC1")
    yours = {"fix-minority": {minority: D.make_decision(items[minority], "fix", {"label": "warranty"})},
             "accept-minority": {minority: D.make_decision(items[minority], "accept")},
             "accept-all": {rid: D.make_decision(item, "accept") for rid, item in items.items()}}[choice]
    reviewed, _ = D.apply_decisions(kept, {**D.suggest_decisions(queue, yours), **yours})
    conflicts = D.find_label_conflicts(reviewed)
    if choice == "accept-all":  # you kept two labels for one text yourself: the conflict is reported, not hidden
        assert not conflicts.empty
    else:
        assert conflicts.empty
        expected = "warranty" if choice == "fix-minority" else "LC1"
        assert set(reviewed.loc[reviewed["text"].str.lower().str.startswith("fees"), "label"]) == {expected}


def test_review_ui_shows_your_saved_fix_when_you_come_back(review):
    ui, buttons, _ = review
    dropdown = next(child for child in ui.children[2].children if getattr(child, "description", "") == "label")
    chosen = next(option for option in dropdown.options if option != dropdown.value)
    dropdown.value = chosen
    buttons["Fix"].click()
    buttons["◀"].click()
    assert dropdown.value == chosen and "decided: fix" in ui.children[0].value


NOVA = "amazon.nova-micro-v1:0:128k"


def _clauses(n: int, label: str = "payment") -> pd.DataFrame:
    return pd.DataFrame({"id": [f"c{i:03d}" for i in range(n)], "text": [f"Fees for lot {i} are due." for i in range(n)],
                         "label": [label] * n})


def _records(df: pd.DataFrame, family: str) -> list[dict]:
    return D.to_bedrock_records(df, family, lambda r: f"Clause: {r['text']}\nAnswer:",
                                lambda r: json.dumps({"label": r["label"]}))


def test_repair_check_right_wrong_and_near_miss():
    fixed = _records(_clauses(8), "bedrock-conversation-2024")
    broken = [{"prompt": "a", "completion": "b"}] * 8
    assert D.check_repair(fixed, broken, NOVA).startswith("Right")
    assert D.check_repair([], broken, NOVA) == "Not yet: write all 8 records (you have 0)."
    near = D.check_repair(fixed[:7] + [{"prompt": "a", "completion": "b"}], broken, NOVA)  # one left broken
    assert near.startswith("Not yet: lines [8] still break a rule")
    copied = D.check_repair([fixed[0]] * 8, broken, NOVA)  # valid, but one good record copied over the others
    assert copied.startswith("Not yet: only 1 different records")


def test_family_records_check_right_wrong_and_near_miss():
    train = _clauses(40)  # the family's minimum is 32 training records
    claude = "anthropic.claude-3-haiku-20240307-v1:0:200k"
    family = formats.family_for(claude)
    assert D.check_family_records(_records(train, family), train, claude).startswith("Right")
    assert D.check_family_records([], train, claude).startswith("Not yet: one record per training record (40)")
    nova_shaped = D.check_family_records(_records(train, "bedrock-conversation-2024"), train, claude)
    assert nova_shaped.startswith("Not yet: records:1: ")  # a near miss: another family's format
    shuffled = D.check_family_records(_records(train.iloc[::-1], family), train, claude)
    assert shuffled.startswith("Not yet: record 1 does not hold training clause 1")


def test_balance_check_rejects_up_sampling_held_out_records():
    train = pd.concat([_clauses(6, "payment"), _clauses(5, "term").assign(id=lambda d: "t" + d["id"]),
                       _clauses(1, "DP4").assign(id="dp")], ignore_index=True)
    held_out = _clauses(3, "DP4").assign(id=lambda d: "test-" + d["id"])
    options = {"collect more", "up-sample"}
    right = D.upsample(train, target=5)
    assert D.check_balance(options, right, train).startswith("Right: DP4 now has 5 records")
    assert D.check_balance(options | {"re-weight"}, right, train).startswith("Not yet: which option needs the training loss")
    leak = D.upsample(pd.concat([train, held_out], ignore_index=True), target=5)  # the whole data set up-sampled
    verdict = D.check_balance(options, leak, train)
    assert verdict.startswith("Not yet: 3 of your records are not in the training split") and "leak" in verdict
    near = D.upsample(train, target=4)  # training split only, one short of the median
    assert D.check_balance(options, near, train) == "Not yet: DP4 has 4 records; the median class has 5."
    assert D.check_balance(options, train, train).startswith("Not yet: DP4 has 1 records")  # the learner's start
