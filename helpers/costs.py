"""What customizing and serving a model costs: prices from data/prices/prices.csv, estimates shown before a create.

Prices are data, not constants: one row per price with its source and the date it was checked, read by one
function (`price`). Where the table has no row, an estimate says so instead of inventing a number.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass

from helpers.paths import DATA_DIR

PRICES_CSV = DATA_DIR / "prices" / "prices.csv"
PRICING_PAGE = "https://aws.amazon.com/bedrock/pricing/"


def price(item: str, model_id: str) -> dict | None:
    """Return the price row for an item and model (or '*') from data/prices/prices.csv, or None if unknown."""
    with open(PRICES_CSV, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["item"] == item]
    row = next((r for r in rows if r["model_id"] == model_id), None) or next(
        (r for r in rows if r["model_id"] == "*"), None)
    return None if row is None else {**row, "usd": float(row["usd"])}


@dataclass
class Estimate:
    """What a create will cost: one line per priced item, and the total (None when a price is unknown)."""

    what: str
    lines: list[str]
    usd: float | None

    def __str__(self) -> str:
        total = "unknown (no checked price; see " + PRICING_PAGE + ")" if self.usd is None else f"${self.usd:,.2f}"
        return "\n".join([f"cost estimate for {self.what}: {total}"] + [f"  - {line}" for line in self.lines])


def estimate_cost(kind: str, model_id: str, *, tokens: int = 0, epochs: int = 1, hours: float = 1.0,
                  model_units: int = 1, months: float = 1.0) -> Estimate:
    """Estimate a job (tokens x epochs + storage), a provisioned throughput (per hour) or a deployment (per token)."""
    def priced(item: str, quantity: float, unit: str) -> tuple[str, float | None]:
        row = price(item, model_id)
        if row is None:
            return f"{item.replace('_', ' ')} for {model_id}: no checked price", None
        cost = row["usd"] * quantity
        return (f"{quantity:,.4g} {unit} x ${row['usd']:g} {row['unit']} = ${cost:,.4f} "
                f"(source: {row['source']}; checked {row['checked_on']}; {row['evidence']})"), cost

    if kind == "job":
        parts = [priced("training_per_1k_tokens", tokens * epochs / 1000, "thousand tokens x epochs"),
                 priced("storage_per_month", months, "model-months")]
        what = f"a customization job on {model_id} ({tokens:,} tokens x {epochs} epochs)"
    elif kind == "throughput":
        parts = [priced("provisioned_no_commit_per_hour", hours * model_units, "model-unit hours")]
        what = f"provisioned throughput for a custom {model_id} ({model_units} MU, {hours:g} h)"
    elif kind == "deployment":
        parts = [priced("on_demand_input_per_1k_tokens", tokens / 1000, "thousand input tokens"),
                 priced("storage_per_month", months, "model-months")]
        what = f"an on-demand deployment of a custom {model_id} ({tokens:,} input tokens)"
    else:
        raise ValueError(f"kind must be 'job', 'throughput' or 'deployment', not {kind!r}")
    costs = [c for _, c in parts]
    return Estimate(what, [line for line, _ in parts], None if None in costs else round(sum(costs), 4))
