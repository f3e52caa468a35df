"""Tests of helpers/costs.py: prices from the table, estimates in three kinds, break-even by hand.

The expected figures below are worked out by hand from the rows of data/prices/prices.csv (quoted in the
comments), not by calling the code under test a second way.
"""
import ast
import csv
import json
import math
import re

import pytest

from helpers import costs
from helpers.paths import ROOT as REPO_ROOT

NOVA = "amazon.nova-micro-v1:0:128k"
# rows of data/prices/prices.csv the hand calculations use
IN, OUT, STORAGE, TRAIN, EXAMPLE_MU_HOUR = 0.000035, 0.00014, 1.95, 0.001, 7.10
SHORT, LONG, ANSWER = 60, 400, 8  # tuned model's prompt, base model's few-shot prompt, answer (tokens)


def test_every_price_row_has_a_source_a_date_and_a_published_flag():
    with open(costs.PRICES_CSV, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for line, row in enumerate(rows, start=2):
        where = f"data/prices/prices.csv:{line}"
        assert row["source"].strip() and row["checked_on"][:4] == "2026", where
        assert row["published"] in ("yes", "no"), where
        assert row["usd"].strip() or row["evidence"] == "not-found", where
    assert costs.usd("provisioned_no_commit_per_hour", NOVA) is None  # AWS publishes no PT price for Nova Micro
    assert costs.example_price_per_mu_hour()["published"] == "no"


def test_break_even_matches_hand_calculations_for_three_profiles():
    profiles = costs.traffic_profiles()
    common = {"model_id": NOVA, "prompt_tokens": SHORT, "answer_tokens": ANSWER,
              "price_per_mu_hour": EXAMPLE_MU_HOUR}
    tuned_request = SHORT / 1000 * IN + ANSWER / 1000 * OUT  # 0.0000021 + 0.00000112 = $0.00000322

    # steady: 1 MU x $7.10 x 730 h = $5,183 a month; storage is paid with either option, so it cancels
    steady = 1 * 7.10 * 730 / tuned_request / 30
    assert costs.break_even_per_day(profiles["steady"], **common) == pytest.approx(steady)
    assert steady == pytest.approx(53_654_244, rel=1e-6)

    # business hours, a no-commitment throughput deleted after hours: 10 h x 22 days = 220 h x $7.10 = $1,562
    office = 7.10 * 220 / tuned_request / 22
    assert costs.break_even_per_day(profiles["business_hours"], only_active_hours=True, **common) == \
        pytest.approx(office)
    assert office == pytest.approx(22_049_689, rel=1e-6)
    # ... and with a one-month commitment every one of the 730 hours bills, deleted or not
    committed = 7.10 * 730 / tuned_request / 22
    assert costs.break_even_per_day(profiles["business_hours"], only_active_hours=True, commitment="OneMonth",
                                    **common) == pytest.approx(committed)

    # spiky, against the base model with a 400-token few-shot prompt: 2 MU x $7.10 x 730 h + $1.95 storage
    # = $10,367.95 a month, vs 400/1000 x $0.000035 + 8/1000 x $0.00014 = $0.00001512 per request
    spiky = (2 * 7.10 * 730 + 1.95) / (LONG / 1000 * IN + ANSWER / 1000 * OUT) / 30
    assert costs.break_even_per_day(profiles["spiky"], against="base_on_demand", against_prompt_tokens=LONG,
                                    **common) == pytest.approx(spiky)
    assert spiky == pytest.approx(22_857_033, rel=1e-6)


def test_monthly_cost_separates_recurring_from_per_request():
    pilot = costs.traffic_profiles()["pilot"]  # 200 requests a day, 22 days
    kw = {"model_id": NOVA, "prompt_tokens": SHORT, "answer_tokens": ANSWER}
    deployment = costs.monthly_cost(pilot, "deployment", **kw)
    assert deployment["recurring"] == pytest.approx(1.95)
    assert deployment["per_request"] == pytest.approx(4400 * (SHORT / 1000 * IN + ANSWER / 1000 * OUT))
    base = costs.monthly_cost(pilot, "base_on_demand", **{**kw, "prompt_tokens": LONG})
    assert base["recurring"] == 0 and base["total"] == pytest.approx(4400 * (LONG / 1000 * IN + ANSWER / 1000 * OUT))
    assert costs.cheapest(pilot, price_per_mu_hour=EXAMPLE_MU_HOUR, **kw) == "base_on_demand"
    with pytest.raises(ValueError, match="price_per_mu_hour"):
        costs.monthly_cost(pilot, "provisioned", **kw)
    with pytest.raises(ValueError, match="unknown traffic profile 'lunch'"):
        costs.profile("lunch")


def test_forgotten_throughput_and_retraining():
    left_on = costs.forgotten_throughput(EXAMPLE_MU_HOUR, model_units=1)
    assert left_on == pytest.approx({"per_day": 24 * 7.10, "weekend": 64 * 7.10, "per_month": 730 * 7.10})
    cycle = costs.retraining_cost(NOVA, tokens=26_057)  # Nova's default epochCount is 2
    assert cycle["per_cycle"] == pytest.approx(26_057 * 2 / 1000 * TRAIN)
    assert cycle["per_year"] == pytest.approx(12 * 26_057 * 2 / 1000 * TRAIN + 12 * STORAGE)
    assert math.isinf(costs.break_even_requests(100.0, 0.001, 0.002))


def test_estimates_print_one_off_recurring_and_per_request_apart():
    job = costs.estimate_cost("job", NOVA, tokens=1_000_000)  # no epochs: the model's default, 2
    assert job.one_off_usd == pytest.approx(2000 * TRAIN) and job.per_month_usd == pytest.approx(STORAGE)
    text = str(job)
    assert "x 2 epochs), if it completes:" in text
    assert "one-off:     $2.00 training" in text
    assert "recurring:   $1.95 per month while the custom model exists (storage)" in text
    assert "checked 2026-12-01" in text and "published by AWS" in text
    pt = costs.estimate_cost("throughput", NOVA, hours=2)
    assert pt.usd is None and "not published for amazon.nova-micro-v1:0:128k" in str(pt)
    example = costs.estimate_cost("throughput", costs.EXAMPLE_PT_MODEL, model_units=2)
    assert "$14.20 per hour while it exists" in str(example) and "NOT published by AWS" in str(example)
    deployment = str(costs.estimate_cost("deployment", NOVA, tokens=10_000))
    assert "per request: $0.035 per million input tokens, $0.14 per million output tokens" in deployment
    with pytest.raises(ValueError, match="kind must be"):
        costs.estimate_cost("lunch", NOVA)


def test_plain_units():
    assert costs.per_requests(0.00004) == "$0.04 per 1,000 requests"
    assert costs.per_requests(0.0000032) == "$0.0032 per 1,000 requests"
    assert costs.money(5183) == "$5,183.00" and costs.money(0.000025) == "$0.000025"


RATE_NAMES = {"learning_rate", "lr"}


def _numbers_in(source: str) -> set[float]:
    """Float literals of a cell, but for learning rates (`learning_rate=1e-3`, {"learning_rate": 1e-3},
    `for lr in (1e-3, 3e-3)`): training settings that may equal a price (notebook 05 trains at 1e-3)."""
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    tree = ast.parse("\n".join(lines))
    rates = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in RATE_NAMES:
            rates.append(node.value)
        elif isinstance(node, ast.Dict):
            rates += [v for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant) and k.value in RATE_NAMES]
        elif isinstance(node, (ast.For, ast.comprehension)) and getattr(node.target, "id", None) in RATE_NAMES:
            rates.append(node.iter)
    skip = {id(n) for r in rates for n in ast.walk(r)}
    return {n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, float) and id(n) not in skip}


def test_no_price_literal_sits_in_a_notebook_code_cell():
    with open(costs.PRICES_CSV, newline="", encoding="utf-8") as f:
        figures = {float(r["usd"]) for r in csv.DictReader(f) if r["usd"].strip()}
    for path in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            if cell["cell_type"] == "code":
                source = "".join(cell["source"])
                assert not _numbers_in(source) & figures, f"{path.name} cell {i}: a price typed in, not read"
                assert not re.search(r"\$\s*\d", source), f"{path.name} cell {i}: a dollar figure typed in"


def test_calculator_and_exercise_checks_say_why():
    kw = {"prompt_tokens": SHORT, "base_prompt_tokens": LONG, "answer_tokens": ANSWER,
          "price_per_mu_hour": EXAMPLE_MU_HOUR}
    small = costs.calculator(150, shape="pilot", **kw)
    assert small["cheapest"] == "base_on_demand"  # $1.95 of storage outweighs 3,300 requests' token savings
    assert costs.check_cheapest("base_on_demand", small).startswith("Right")
    wrong = costs.check_cheapest("provisioned", small)
    assert wrong.startswith("Not yet") and "$5,184.95" in wrong
    assert "1,000 requests" in costs.calculator_text(small)
    expected = small["pt_vs_deployment_per_day"]
    assert costs.check_break_even(expected * 1.05, expected).startswith("Right")
    assert "too low" in costs.check_break_even(expected / 2, expected)
    assert "no answer" in costs.check_break_even(0, expected)


def test_latency_runs_skip_prompts_that_do_not_fit_the_context():
    from helpers import local_model

    base = local_model.load_base()
    rows = costs.latency_by_prompt_length(base, "Answer:", "word " * 5000, [0, 5, 100_000], repeats=1,
                                          answer_tokens=2)
    assert [r["filler_words"] for r in rows] == [0, 5]
    assert all(r["ttft_s"] > 0 and r["total_s"] > 0 and r["prompt_tokens"] > 0 for r in rows)  # times, not speeds


def test_break_even_check_right_wrong_and_near_miss():
    expected = 1_000.0
    assert costs.check_break_even(1_040, expected) == "Right: about 1,000 requests a day."
    assert costs.check_break_even(2_000, expected).startswith("Not yet: 2,000 is too high")
    near = costs.check_break_even(expected * costs.HOURS_PER_MONTH / 24, expected)  # the monthly figure
    assert near.startswith("Not yet: 30,417 is about the break-even per month")


def test_cheapest_check_names_an_unknown_choice():
    kw = {"prompt_tokens": SHORT, "base_prompt_tokens": LONG, "answer_tokens": ANSWER,
          "price_per_mu_hour": EXAMPLE_MU_HOUR}
    result = costs.calculator(150, shape="pilot", **kw)
    assert costs.check_cheapest("", result).startswith("Not yet: answer one of")  # the learner copy's blank
    near = costs.check_cheapest("deployment", result)  # the other per-token option, dearer by its storage
    assert near.startswith("Not yet: deployment costs")
