"""helpers.pretraining: the two data shapes, the mix-ups, the runs the offline jobs train, measurements, costs,
exercise checks."""
import json

import pytest

from helpers import corpus, formats, local_model, pretraining
from helpers.costs import price
from helpers.evaluation import clause_pairs
from helpers.offline.wire import AwsError
from offline_support import records, wait

BASE = pretraining.BASE_MODEL
SECTIONS = corpus.make_domain_text(40)  # the first 40 of the shipped domain text (same generator and seed)


def jsonl(records: list[dict]) -> bytes:
    return pretraining.to_jsonl(records)


# ------------------------------------------------------------------------------------------ data shapes
def test_both_shapes_pass_the_rules_of_their_own_approach_only():
    rows = corpus.clause_splits()["train_set"][:20]
    cpt, ift = pretraining.domain_records(SECTIONS), pretraining.pair_records(clause_pairs(rows))
    assert cpt[0] == {"input": SECTIONS[0]} and set(ift[0]) == {"prompt", "completion"}
    assert formats.check_file(jsonl(cpt), BASE, pretraining.CPT).ok
    assert formats.check_file(jsonl(ift), BASE, pretraining.IFT).ok
    swapped = formats.check_file(jsonl(ift), BASE, pretraining.CPT, name="train.jsonl")
    assert not swapped.ok and str(swapped.findings[0]).startswith("train.jsonl:1: ")


def test_to_jsonl_writes_one_record_per_line():
    lines = jsonl([{"input": "a"}, {"input": "b"}]).decode().splitlines()
    assert [json.loads(line) for line in lines] == [{"input": "a"}, {"input": "b"}]


def test_flattened_pairs_are_accepted_for_continued_pretraining_and_keep_both_halves():
    pairs = [("Clause: x\nAnswer:", ' {"label": "LC2"}')]
    flat = pretraining.flatten_pairs(pairs)
    assert flat == [{"input": 'Clause: x\nAnswer:\n {"label": "LC2"}'}]
    assert formats.check_file(jsonl(flat), BASE, pretraining.CPT).ok


def test_sections_forced_into_pairs_split_at_the_heading():
    pairs = pretraining.pairs_from_sections(["7. Governing Law. This Agreement is governed by the laws of X."])
    assert pairs == [("7. Governing Law.", " This Agreement is governed by the laws of X.")]
    assert all("".join(p) == t for p, t in zip(pretraining.pairs_from_sections(SECTIONS), SECTIONS))
    assert formats.check_file(jsonl(pretraining.pair_records(pairs)), BASE, pretraining.IFT).ok


def test_a_section_without_a_heading_is_named_in_the_error():
    with pytest.raises(ValueError, match="no numbered heading.*'Governing law without a number"):
        pretraining.pairs_from_sections(["Governing law without a number."])


def test_record_texts_and_tokens_count_every_string_a_record_holds():
    base = local_model.load_base()
    recs = pretraining.pair_records([("Clause:", " x")])
    assert pretraining.record_texts(recs) == ["Clause:", " x"]
    assert pretraining.count_tokens(base, ["Clause:", "Clause:"]) == 2 * local_model.count_tokens(base, "Clause:")


# ------------------------------------------------------------------------------------------ the runs
def test_job_hyperparameters_map_onto_the_local_runs():
    assert pretraining.local_settings(pretraining.CPT) == {"epochs": 1, "learning_rate": 1e-3, "batch_size": 16,
                                                           "seed": 0}
    assert pretraining.local_settings(pretraining.IFT) == {"epochs": 1, "learning_rate": 1e-3, "batch_size": 16,
                                                           "warmup_steps": 0, "seed": 0}
    three = pretraining.local_settings(pretraining.CPT, {**pretraining.HYPERPARAMETERS[pretraining.CPT],
                                                         "epochCount": "3"})
    assert three["epochs"] == 3


def test_a_continued_pretraining_batch_holds_the_sequences_of_batchsize_records():
    """Several short texts share one local sequence, so the local batch is batchSize records' worth of sequences."""
    assert pretraining.local_settings(pretraining.CPT, records_per_sequence=2.5)["batch_size"] == 6  # 16 / 2.5
    assert pretraining.local_settings(pretraining.CPT, records_per_sequence=40)["batch_size"] == 1
    assert pretraining.local_settings(pretraining.IFT)["batch_size"] == 16


def test_equal_records_and_epochs_give_both_approaches_about_the_same_number_of_steps(tiny_base, lab_env):
    """The offline mapping counts a batch in records for both types (a fine-tuning step is 16 records, and so is a
    continued pre-training step, however many records the local model packs into one sequence)."""
    texts = corpus.make_domain_text(96)
    pairs = pretraining.pairs_from_sections(texts)
    hp = {"epochCount": "1", "batchSize": "16"}
    cpt = pretraining.train(tiny_base, pretraining.CPT, texts, hp)
    ift = pretraining.train(tiny_base, pretraining.IFT, pairs, hp)
    assert local_model.packed_sequences(tiny_base, texts) < len(texts) / 2  # packing is what needed the mapping
    assert len(ift.history) == 6 and 5 <= len(cpt.history) <= 7


def test_out_of_range_hyperparameters_fail_as_bedrock_would():
    with pytest.raises(AwsError, match="epochCount value '11' is out of range.*\\[1, 10\\]"):
        pretraining.local_settings(pretraining.CPT, {"epochCount": "11"})


def test_replay_mixes_the_share_of_general_text_deterministically():
    texts = SECTIONS[:14]
    mixed = pretraining.with_replay(texts)
    assert len(mixed) == 20 and sorted(t for t in mixed if t in texts) == sorted(texts)
    assert mixed == pretraining.with_replay(texts)
    assert len(pretraining.replay_texts(70, share=0.3)) == 30


def test_the_offline_jobs_train_the_runs_the_notebook_loads(account, tiny_base, lab_env):
    """A job and pretraining.train with the same data share one cache entry: the notebook never trains twice."""
    pairs = [formats.to_pair(r, "prompt-completion") for r in records("prompt-completion", 24)]
    bucket = account.bucket("lab-pretraining", {"domain.jsonl": jsonl(pretraining.domain_records(SECTIONS[:16])),
                                                "pairs.jsonl": jsonl(pretraining.pair_records(pairs))})
    for name, ctype, key in [("cpt", pretraining.CPT, "domain.jsonl"), ("ift", pretraining.IFT, "pairs.jsonl")]:
        arn = account.job(bucket, name=f"lab-{name}", model=BASE, train=key, validation=None,
                          hp=pretraining.HYPERPARAMETERS[ctype], customizationType=ctype)
        assert wait(account, arn)["status"] == "Completed"
    cache = lab_env / "cache"
    entries = sorted(p.name for p in cache.iterdir())
    assert len(entries) == 2
    pretraining.train(tiny_base, pretraining.CPT, SECTIONS[:16])
    pretraining.train(tiny_base, pretraining.IFT, pairs)
    assert sorted(p.name for p in cache.iterdir()) == entries


# ------------------------------------------------------------------------------------------ measurements
def test_measure_reports_the_four_measurements_on_the_base_model():
    base = local_model.load_base()
    rows = corpus.clause_splits()["test_set"][:8]
    domain_train, domain_test = corpus.domain_splits()
    r = pretraining.measure(base, rows, domain_test[:5], corpus.general_heldout()[:5])
    assert set(r) == {"hits", "domain_ppl", "general_ppl", "exact_match", "exact_match_interval", "format_ok"}
    assert len(r["hits"]) == 8 and r["exact_match"] == sum(r["hits"]) / 8
    assert r["domain_ppl"] > 10 * r["general_ppl"]  # the firm's words never occurred in pre-training
    assert r["format_ok"] >= 0.9  # the format instruction works prompt-only (notebook 01)


def test_forgetting_is_the_ratio_of_general_perplexities():
    assert pretraining.forgetting(3.0, 2.0) == 1.5


def test_continue_text_is_greedy_and_repeatable():
    base = local_model.load_base()
    assert pretraining.continue_text(base, "7. Governing Law.") == pretraining.continue_text(base, "7. Governing Law.")


# ------------------------------------------------------------------------------------------ cost
def test_training_cost_is_tokens_times_epochs_times_the_price_per_1k():
    usd = price("training_per_1k_tokens", BASE)["usd"]
    assert pretraining.training_cost(1_000_000, 2) == pytest.approx(2_000 * usd)
    assert pretraining.training_cost(1_000, 1, "meta.llama3-1-8b-instruct-v1:0:128k") is None  # no checked price


# ------------------------------------------------------------------------------------------ exercises
@pytest.mark.parametrize("path, allowed", [(pretraining.DESCRIPTIONS_PATH, pretraining.SORT_ANSWERS),
                                           (pretraining.RUN_CHOICES_PATH, pretraining.RUN_ANSWERS)])
def test_exercise_items_are_well_formed(path, allowed):
    items = pretraining.load_items(path)
    assert len({i["id"] for i in items}) == len(items) and all(i["expected"] in allowed and i["why"] for i in items)


def test_ten_descriptions_cover_all_three_answers():
    items = pretraining.load_items(pretraining.DESCRIPTIONS_PATH)
    assert len(items) == 10 and {i["expected"] for i in items} == set(pretraining.SORT_ANSWERS)


def test_check_answers_says_right_or_not_yet_and_why():
    items = pretraining.load_items(pretraining.DESCRIPTIONS_PATH)
    key = {i["id"]: i["expected"] for i in items}
    assert all(line.split(": ")[1] == "right" for line in pretraining.check_answers(key))
    wrong = {**key, "d03": "cpt"}
    line = pretraining.check_answers(wrong)[2]
    assert line.startswith("d03: not yet: not continued pre-training. ") and items[2]["why"] in line


def test_check_answers_names_missing_unknown_and_misspelled_answers():
    lines = pretraining.check_answers({"d01": "CPT ", "d02": "finetune", "zz": "cpt"})
    assert lines[0] == "zz: not an item of this exercise (items: d01, d02, d03, d04, d05, d06, d07, d08, d09, d10)"
    assert lines[1].startswith("d01: right")  # case and spaces do not matter
    assert lines[2] == "d02: not yet: 'finetune' is not an answer; choose one of 'cpt', 'ift', 'rag'"
    assert lines[3].startswith("d03: not yet: no answer")


def test_run_choice_check_right_wrong_and_near_miss():
    items = pretraining.load_items(pretraining.RUN_CHOICES_PATH)
    key = {i["id"]: i["expected"] for i in items}
    check = lambda answers: pretraining.check_answers(answers, pretraining.RUN_CHOICES_PATH, pretraining.RUN_ANSWERS)  # noqa: E731
    assert all(": right: " in line for line in check(key))
    other = {a: next(b for b in pretraining.RUN_ANSWERS if b != a) for a in pretraining.RUN_ANSWERS}
    assert all(": not yet: " in line for line in check({k: other[v] for k, v in key.items()}))
    near = check({**key, "t01": other[key["t01"]]})
    assert near[0].startswith("t01: not yet: ") and all(": right: " in line for line in near[1:])


def test_cost_check_right_wrong_and_near_miss():
    cpt, ift = pretraining.training_cost(2e9, 1), pretraining.training_cost(1_500 * 300, 3)
    assert pretraining.check_costs(cpt, ift).startswith("Right")
    assert pretraining.check_costs(None, None).startswith("Not yet: compute both")
    near = pretraining.check_costs(cpt, pretraining.training_cost(1_500 * 300, 1))  # one epoch of fine-tuning
    assert near == "Not yet: the fine-tuning run is three epochs: tokens x 3."
    assert pretraining.check_costs(cpt * 3, ift).startswith("Not yet: price tokens x epochs")
