"""Tests of helpers/costs.py: prices from the table, estimates with their sources."""
import pytest

from helpers import costs

NOVA = "amazon.nova-micro-v1:0:128k"


def test_cost_estimates_come_from_the_price_table():
    job = costs.estimate_cost("job", NOVA, tokens=1_000_000, epochs=2)
    assert job.usd == pytest.approx(2000 * 0.001 + 1.95)
    assert "checked 2026-11-29" in str(job) and "$0.001" in str(job)
    unknown = costs.estimate_cost("throughput", NOVA, hours=2)
    assert unknown.usd is None and "no checked price" in str(unknown)
    assert costs.price("storage_per_month", "any-model")["usd"] == 1.95
    with pytest.raises(ValueError, match="kind must be"):
        costs.estimate_cost("lunch", NOVA)
