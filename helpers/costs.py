"""What customizing and serving a model costs, and how fast it answers: prices from data/prices/prices.csv,
traffic profiles from data/prices/traffic_profiles.csv, estimates shown before a create, break-even volumes,
and latency measured on the local model.

Prices are data, not constants: one row per price with its source, the date it was checked and whether AWS
publishes the figure, read by one function (`price`). Where the table has no figure, an estimate says so
instead of inventing a number, and the functions that need it take it as an argument.

Every cost is one of three kinds, never added together into one headline: one-off (a training job),
recurring (storage while the model exists, serving capacity per hour) and per request (tokens in and out).
"""
from __future__ import annotations

import csv
import html
import math
import statistics
import time
from dataclasses import dataclass, field

from helpers.paths import DATA_DIR

PRICES_CSV = DATA_DIR / "prices" / "prices.csv"
PROFILES_CSV = DATA_DIR / "prices" / "traffic_profiles.csv"
PRICING_PAGE = "https://aws.amazon.com/bedrock/pricing/"

HOURS_PER_MONTH = 730       # 24 h x 365 days / 12 months: the average month AWS's own pricing examples use
HOURS_PER_DAY = 24
WEEKEND_HOURS = 64          # Friday 17:00 to Monday 09:00: a throughput forgotten over a weekend
# commitmentDuration as the API spells it (None = no commitment) -> the price item and the hours billed per month
COMMITMENTS = {None: "provisioned_no_commit_per_hour", "OneMonth": "provisioned_1_month_per_hour",
               "SixMonths": "provisioned_6_month_per_hour"}
TERM_MONTHS = {None: 0, "OneMonth": 1, "SixMonths": 6}
# The example price per model unit the lab shows where AWS publishes none (see data/prices/README.md)
EXAMPLE_PT_MODEL = "amazon.titan-text-lite-v1:0:4k"
SERVING = ("base_on_demand", "deployment", "provisioned")


# --------------------------------------------------------------------------- the price table
def price(item: str, model_id: str) -> dict | None:
    """Return the price row for an item and model (or '*') from data/prices/prices.csv, or None if no row.

    A row whose figure is not published has `usd` None: the row says where the lab looked and why it found none.
    """
    with open(PRICES_CSV, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["item"] == item]
    row = next((r for r in rows if r["model_id"] == model_id), None) or next(
        (r for r in rows if r["model_id"] == "*"), None)
    return None if row is None else {**row, "usd": float(row["usd"]) if row["usd"].strip() else None}


def usd(item: str, model_id: str) -> float | None:
    """The figure of a price row, or None when the table has none."""
    row = price(item, model_id)
    return None if row is None else row["usd"]


def _required(item: str, model_id: str) -> float:
    figure = usd(item, model_id)
    if figure is None:
        raise ValueError(f"data/prices/prices.csv has no figure for {item} on {model_id}; "
                         f"pass the price you were quoted (see {PRICING_PAGE})")
    return figure


def base_model_of(model_id: str) -> str:
    """The on-demand model id behind a customizable variant ('amazon.nova-micro-v1:0:128k' -> 'amazon.nova-micro-v1:0')."""
    head, _, tail = model_id.rpartition(":")
    return head if head and not tail.isdigit() else model_id


# --------------------------------------------------------------------------- plain units
def money(amount: float) -> str:
    """Dollars with the digits the amount needs: $5,183.00, $0.50, $0.04, $0.035, $0.000025."""
    if amount == 0 or abs(amount) >= 0.1:
        return f"${amount:,.2f}"
    text = f"{amount:.{1 - math.floor(math.log10(abs(amount)))}f}"  # two significant digits
    while text.endswith("0") and len(text.partition(".")[2]) > 2:
        text = text[:-1]
    return "$" + text


def per_requests(cost_per_request: float) -> str:
    """A per-request cost in one unit for every option: '$0.04 per 1,000 requests'."""
    return f"{money(cost_per_request * 1000)} per 1,000 requests"


# --------------------------------------------------------------------------- one-off: training
def default_epochs(model_id: str) -> int:
    """The epochCount a customization job uses when none is given (data/bedrock/hyperparameters.csv)."""
    from helpers import catalog

    fm = catalog.customizable_variant(catalog.model_id_of(model_id))
    if fm is None or "epochCount" not in catalog.hyperparameters(fm.hp_group):
        raise ValueError(f"{model_id} is not a customizable model in data/bedrock/foundation_models.csv, so its "
                         "default epochCount is unknown: give the epochs (a job's hyperParameters={'epochCount': ...}) "
                         "to price the job")
    return int(float(catalog.hyperparameters(fm.hp_group)["epochCount"].default))


def training_cost(model_id: str, tokens: int, epochs: int | None = None) -> float:
    """One-off cost of a customization job: tokens x epochs x the price per 1,000 (default epochs if None)."""
    epochs = default_epochs(model_id) if epochs is None else epochs
    return tokens * epochs / 1000 * _required("training_per_1k_tokens", model_id)


# --------------------------------------------------------------------------- recurring: storage and capacity
def storage_cost(months: float = 1.0, model_id: str = "*", versions: int = 1) -> float:
    """Recurring cost of keeping `versions` custom models for `months`."""
    return months * versions * _required("storage_per_month", model_id)


def throughput_hours(commitment: str | None = None, hours_kept: float = HOURS_PER_MONTH) -> float:
    """Hours a provisioned throughput bills in a month: all of them under a commitment (it cannot be deleted
    before the term ends), else only the hours it exists."""
    if commitment not in COMMITMENTS:
        raise ValueError(f"commitment must be one of {list(COMMITMENTS)}, not {commitment!r}")
    return HOURS_PER_MONTH if commitment else min(hours_kept, HOURS_PER_MONTH)


def throughput_cost(price_per_mu_hour: float, model_units: int = 1, hours: float = HOURS_PER_MONTH) -> float:
    """Recurring cost of provisioned throughput: model units x hours x the price per model unit per hour."""
    return price_per_mu_hour * model_units * hours


def forgotten_throughput(price_per_mu_hour: float, model_units: int = 1) -> dict:
    """What a throughput nobody calls costs per day, over a weekend and per month (it bills every hour)."""
    return {span: throughput_cost(price_per_mu_hour, model_units, hours)
            for span, hours in (("per_day", HOURS_PER_DAY), ("weekend", WEEKEND_HOURS),
                                ("per_month", HOURS_PER_MONTH))}


# --------------------------------------------------------------------------- per request: tokens in and out
def request_cost(model_id: str, prompt_tokens: int, answer_tokens: int, serving: str = "base_on_demand") -> float:
    """Cost of one request billed per token: a base model on demand, or a custom model's on-demand deployment."""
    if serving not in ("base_on_demand", "deployment"):
        raise ValueError(f"per-token serving is 'base_on_demand' or 'deployment', not {serving!r}")
    prefix, model = ("on_demand", base_model_of(model_id)) if serving == "base_on_demand" else ("deployment", model_id)
    return (prompt_tokens / 1000 * _required(f"{prefix}_input_per_1k_tokens", model)
            + answer_tokens / 1000 * _required(f"{prefix}_output_per_1k_tokens", model))


# --------------------------------------------------------------------------- traffic profiles and monthly cost
@dataclass(frozen=True)
class Profile:
    """One row of data/prices/traffic_profiles.csv: how much traffic, when, and the capacity its peak needs."""

    name: str
    description: str
    requests_per_day: float
    days_per_month: float
    active_hours_per_day: float
    model_units: int

    @property
    def requests_per_month(self) -> float:
        return self.requests_per_day * self.days_per_month

    @property
    def active_hours_per_month(self) -> float:
        return self.active_hours_per_day * self.days_per_month


def traffic_profiles() -> dict[str, Profile]:
    """The lab's traffic profiles keyed by name: steady, business_hours, spiky, pilot."""
    with open(PROFILES_CSV, newline="", encoding="utf-8") as f:
        return {r["profile"]: Profile(r["profile"], r["description"], float(r["requests_per_day"]),
                                      float(r["days_per_month"]), float(r["active_hours_per_day"]),
                                      int(r["model_units"])) for r in csv.DictReader(f)}


def profile(shape: str | Profile, requests_per_day: float | None = None) -> Profile:
    """A traffic profile by name (or as given), optionally with another daily volume."""
    base = shape if isinstance(shape, Profile) else traffic_profiles().get(shape)
    if base is None:
        raise ValueError(f"unknown traffic profile {shape!r}; data/prices/traffic_profiles.csv has "
                         f"{', '.join(traffic_profiles())}")
    if requests_per_day is None:
        return base
    return Profile(base.name, base.description, requests_per_day, base.days_per_month, base.active_hours_per_day,
                   base.model_units)


def monthly_cost(traffic: Profile, serving: str, *, model_id: str, prompt_tokens: int, answer_tokens: int,
                 price_per_mu_hour: float | None = None, commitment: str | None = None,
                 only_active_hours: bool = False) -> dict:
    """One month of serving a traffic profile, split into recurring and per-request dollars (and their total).

    serving: 'base_on_demand' (the base model, per token: no custom model to store), 'deployment' (a custom
    model on demand, per token, plus storage) or 'provisioned' (a custom model on provisioned throughput: per
    model unit per hour, plus storage). `only_active_hours` deletes a no-commitment throughput outside the
    profile's active hours (a commitment bills every hour anyway).
    """
    if serving not in SERVING:
        raise ValueError(f"serving must be one of {', '.join(SERVING)}, not {serving!r}")
    recurring, per_request = 0.0, 0.0
    if serving != "base_on_demand":
        recurring += storage_cost(1, model_id)
    if serving == "provisioned":
        if price_per_mu_hour is None:
            raise ValueError("provisioned throughput needs price_per_mu_hour: AWS publishes no figure for most "
                             "models; use the price you were quoted or costs.example_price_per_mu_hour()")
        hours = throughput_hours(commitment, traffic.active_hours_per_month if only_active_hours
                                 else HOURS_PER_MONTH)
        recurring += throughput_cost(price_per_mu_hour, traffic.model_units, hours)
    else:
        per_request = traffic.requests_per_month * request_cost(model_id, prompt_tokens, answer_tokens, serving)
    return {"recurring": recurring, "per_request": per_request, "total": recurring + per_request}


def example_price_per_mu_hour() -> dict:
    """The lab's example price per model unit per hour (a third-party figure for another model), with its row."""
    return price(COMMITMENTS[None], EXAMPLE_PT_MODEL)


# --------------------------------------------------------------------------- break-even
def break_even_requests(fixed_per_month: float, cost_per_request: float,
                        other_cost_per_request: float = 0.0) -> float:
    """Requests per month at which a fixed monthly cost (plus `other_cost_per_request`) equals paying
    `cost_per_request` for each request; infinite when the per-request option is never dearer."""
    saving = cost_per_request - other_cost_per_request
    return math.inf if saving <= 0 else fixed_per_month / saving


def break_even_per_day(traffic: Profile, *, model_id: str, prompt_tokens: int, answer_tokens: int,
                       price_per_mu_hour: float, commitment: str | None = None, only_active_hours: bool = False,
                       against: str = "deployment", against_prompt_tokens: int | None = None) -> float:
    """Requests per day (on the profile's active days) above which provisioned throughput is cheaper than
    paying per token (`against`: the custom model's deployment, or the base model with its own prompt length).
    Storage counts only where one option has a custom model and the other has none."""
    pt = monthly_cost(traffic, "provisioned", model_id=model_id, prompt_tokens=prompt_tokens,
                      answer_tokens=answer_tokens, price_per_mu_hour=price_per_mu_hour, commitment=commitment,
                      only_active_hours=only_active_hours)["recurring"]
    fixed = pt - (storage_cost(1, model_id) if against == "deployment" else 0.0)
    per = request_cost(model_id, against_prompt_tokens or prompt_tokens, answer_tokens, against)
    return break_even_requests(fixed, per) / traffic.days_per_month


def cheapest(traffic: Profile, **kwargs) -> str:
    """The serving option with the lowest monthly total for a profile (kwargs as for monthly_cost)."""
    totals = {s: monthly_cost(traffic, s, **kwargs)["total"] for s in SERVING}
    return min(totals, key=totals.get)


# --------------------------------------------------------------------------- operations: retraining
def retraining_cost(model_id: str, tokens: int, epochs: int | None = None, *, cycles_per_year: int = 12,
                    versions_kept: int = 1) -> dict:
    """What keeping a fine-tuned model current costs when its data changes: a training job per cycle
    (one-off each time) and storage for the versions kept (recurring), per month and per year."""
    per_cycle = training_cost(model_id, tokens, epochs)
    storage = storage_cost(1, model_id, versions_kept)
    return {"per_cycle": per_cycle, "storage_per_month": storage,
            "per_month": per_cycle * cycles_per_year / 12 + storage,
            "per_year": per_cycle * cycles_per_year + 12 * storage}


# --------------------------------------------------------------------------- the estimate shown before a create
@dataclass
class Estimate:
    """What a create will cost, as one-off, recurring and per-request lines (each with its source)."""

    what: str
    one_off: list[str] = field(default_factory=list)
    recurring: list[str] = field(default_factory=list)
    per_request: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    one_off_usd: float | None = 0.0
    per_month_usd: float | None = 0.0

    @property
    def usd(self) -> float | None:
        """One-off plus the first month of recurring cost (None when a price is unknown); never printed as a
        headline, because it mixes a cost paid once with one paid every month."""
        if self.one_off_usd is None or self.per_month_usd is None:
            return None
        return round(self.one_off_usd + self.per_month_usd, 4)

    def __str__(self) -> str:
        out = [f"cost estimate for {self.what}:"]
        for label, lines in (("one-off", self.one_off), ("recurring", self.recurring),
                             ("per request", self.per_request)):
            out += [f"  {label + ':':<13}{line}" for line in lines or ["none"]]
        return "\n".join(out + [f"  source: {s}" for s in self.sources])


def _sources(rows: list[dict]) -> list[str]:
    """One line per distinct source, naming the price items it backs."""
    grouped: dict[str, list[str]] = {}
    for row in rows:
        flag = "published by AWS" if row.get("published") == "yes" else "NOT published by AWS"
        key = f"{row['source']} (checked {row['checked_on']}; {row['evidence']}; {flag})"
        grouped.setdefault(key, []).append(row["item"])
    return [f"{', '.join(dict.fromkeys(items))}: {key}" for key, items in grouped.items()]


def estimate_cost(kind: str, model_id: str, *, tokens: int = 0, epochs: int | None = None, hours: float = 1.0,
                  model_units: int = 1, months: float = 1.0, commitment: str | None = None) -> Estimate:
    """Estimate a job (tokens x epochs, default epochs if None; then storage), a provisioned throughput (per
    model unit per hour) or an on-demand deployment (per token, plus storage)."""
    est = Estimate("")
    rows: list[dict] = []

    def figure(item: str, model: str) -> float | None:
        row = price(item, model)
        if row is not None:
            rows.append(row)
        return None if row is None else row["usd"]

    def storage_line() -> None:
        fee = figure("storage_per_month", model_id)
        est.per_month_usd = None if fee is None or est.per_month_usd is None else est.per_month_usd + fee * months
        est.recurring.append("storage: no checked price" if fee is None
                             else f"{money(fee)} per month while the custom model exists (storage)")

    if kind == "job":
        epochs = default_epochs(model_id) if epochs is None else epochs
        rate = figure("training_per_1k_tokens", model_id)
        est.what = (f"a customization job on {model_id} ({tokens:,} tokens x {epochs} "
                    f"epoch{'s' if epochs != 1 else ''}), if it completes")
        est.one_off_usd = None if rate is None else tokens * epochs / 1000 * rate
        est.one_off.append(f"training for {model_id}: no checked price (see {PRICING_PAGE})" if rate is None else
                           f"{money(est.one_off_usd)} training: {tokens * epochs:,} tokens x epochs at "
                           f"{money(rate * 1000)} per million tokens x epochs")
        storage_line()
    elif kind == "throughput":
        term = "no commitment" if commitment is None else f"{commitment} commitment"
        est.what = f"provisioned throughput for a custom {model_id} ({model_units} MU, {term})"
        rate = figure(COMMITMENTS[commitment], model_id)
        if rate is None:
            est.per_month_usd = None
            est.recurring.append(f"price per model unit per hour: not published for {model_id}; it bills every "
                                 f"hour until deleted (notebook 06 shows the cost as a function of that price)")
        else:
            est.per_month_usd = throughput_cost(rate, model_units, throughput_hours(commitment))
            est.recurring.append(f"{money(rate * model_units)} per hour while it exists ({model_units} MU x "
                                 f"{money(rate)}), {money(est.per_month_usd)} per month")
        if rate is not None and hours:
            est.recurring.append(f"{money(throughput_cost(rate, model_units, hours))} for the {hours:g} h planned "
                                 f"before teardown()")
    elif kind == "deployment":
        est.what = f"an on-demand deployment of a custom {model_id}"
        rate_in = figure("deployment_input_per_1k_tokens", model_id)
        rate_out = figure("deployment_output_per_1k_tokens", model_id)
        storage_line()
        if rate_in is None or rate_out is None:
            est.per_request.append("tokens: no checked price")
        else:
            est.per_request.append(f"{money(rate_in * 1000)} per million input tokens, {money(rate_out * 1000)} "
                                   f"per million output tokens"
                                   + (f" ({tokens:,} input tokens: {money(tokens / 1000 * rate_in)})" if tokens else ""))
    else:
        raise ValueError(f"kind must be 'job', 'throughput' or 'deployment', not {kind!r}")
    est.sources = _sources(rows)
    return est


# --------------------------------------------------------------------------- latency, measured
def _timed(model, prompt: str, n: int) -> tuple[float, str]:
    from helpers import local_model

    t0 = time.perf_counter()
    text = local_model.generate(model, prompt, max_new_tokens=n)
    return time.perf_counter() - t0, text


def time_runs(runs: list[tuple], *, answer_tokens: int = 12, repeats: int = 5) -> list[dict]:
    """Median time to first token and total time of greedy generation for each (model, prompt) pair (seconds).

    Time to first token is a run that stops after one new token (reading the whole prompt, then one step);
    total time is a run of up to `answer_tokens`. The pairs take turns within each repeat, so a burst of load on
    a shared machine falls on all of them alike; a first round is a warm-up and is not counted.
    """
    from helpers import local_model

    times = [{"ttft": [], "total": []} for _ in runs]
    for r in range(repeats + 1):
        for (model, prompt), t in zip(runs, times):
            ttft, _ = _timed(model, prompt, 1)
            total, _ = _timed(model, prompt, answer_tokens)
            if r:
                t["ttft"].append(ttft)
                t["total"].append(total)
    return [{"prompt_tokens": local_model.count_tokens(model, prompt),
             "answer_tokens": local_model.count_tokens(model, _timed(model, prompt, answer_tokens)[1]),
             "ttft_s": statistics.median(t["ttft"]), "total_s": statistics.median(t["total"])}
            for (model, prompt), t in zip(runs, times)]


def time_generation(model, prompt: str, *, answer_tokens: int = 12, repeats: int = 5) -> dict:
    """time_runs for one prompt."""
    return time_runs([(model, prompt)], answer_tokens=answer_tokens, repeats=repeats)[0]


def latency_by_prompt_length(model, question: str, filler: str, word_counts, *, answer_tokens: int = 12,
                             repeats: int = 5) -> list[dict]:
    """time_runs for the question after the first n words of `filler`, for each n that still fits the
    model's context with room for the answer."""
    from helpers import local_model

    prompts = {n: (" ".join(filler.split()[:n]) + "\n" + question) if n else question for n in word_counts}
    fits = {n: p for n, p in prompts.items()
            if local_model.count_tokens(model, p) + answer_tokens <= model.config["context"]}
    timed = time_runs([(model, p) for p in fits.values()], answer_tokens=answer_tokens, repeats=repeats)
    return [{"filler_words": n, **t} for n, t in zip(fits, timed)]


# --------------------------------------------------------------------------- the calculator and the checks
SERVING_NAMES = {"base_on_demand": "base model on demand (long prompt)",
                 "deployment": "custom model, on-demand deployment",
                 "provisioned": "custom model, provisioned throughput"}


def calculator(requests_per_day: float, *, prompt_tokens: int, base_prompt_tokens: int, answer_tokens: int,
               shape: str = "steady", commitment: str | None = None, price_per_mu_hour: float,
               only_active_hours: bool = False, model_id: str = "amazon.nova-micro-v1:0:128k") -> dict:
    """A month of one workload served three ways (the base model with its long prompt; the custom model with
    its short prompt on demand or on provisioned throughput), the cheapest, and the break-even volumes."""
    traffic = profile(shape, requests_per_day)
    common = {"model_id": model_id, "answer_tokens": answer_tokens, "price_per_mu_hour": price_per_mu_hour,
              "commitment": commitment, "only_active_hours": only_active_hours}
    options = {s: monthly_cost(traffic, s, prompt_tokens=base_prompt_tokens if s == "base_on_demand"
                               else prompt_tokens, **common) for s in SERVING}
    per_request = {s: request_cost(model_id, base_prompt_tokens if s == "base_on_demand" else prompt_tokens,
                                   answer_tokens, s) for s in ("base_on_demand", "deployment")}
    return {"profile": traffic, "options": options, "per_request": per_request,
            "cheapest": min(options, key=lambda s: options[s]["total"]),
            "pt_vs_deployment_per_day": break_even_per_day(traffic, prompt_tokens=prompt_tokens, **common),
            "pt_vs_base_per_day": break_even_per_day(traffic, prompt_tokens=prompt_tokens, against="base_on_demand",
                                                     against_prompt_tokens=base_prompt_tokens, **common),
            "tuning_vs_base_per_day": break_even_requests(storage_cost(1, model_id), per_request["base_on_demand"],
                                                          per_request["deployment"]) / traffic.days_per_month}


def calculator_text(result: dict) -> str:
    """The calculator's answer in plain units: recurring and per-request apart, then the break-even volumes."""
    traffic = result["profile"]
    lines = [f"{traffic.requests_per_day:,.0f} requests a day, {traffic.name} ({traffic.days_per_month:g} days a "
             f"month, {traffic.model_units} MU for its peak): {traffic.requests_per_month:,.0f} requests a month"]
    for s, cost in result["options"].items():
        parts = [f"{money(cost['recurring'])} per month recurring"] if cost["recurring"] else []
        if s in result["per_request"]:
            parts.append(f"{per_requests(result['per_request'][s])} ({money(cost['per_request'])} this month)")
        lines.append(f"  {SERVING_NAMES[s] + ':':<40}{' + '.join(parts)} = {money(cost['total'])} per month")
    lines += [f"cheapest: {SERVING_NAMES[result['cheapest']]}",
              f"provisioned throughput pays off above {result['pt_vs_deployment_per_day']:,.0f} requests a day "
              f"against the on-demand deployment, above {result['pt_vs_base_per_day']:,.0f} against the base model "
              f"(if {traffic.model_units} MU can carry that load: AWS does not publish what an MU delivers)",
              f"the custom model's storage pays for itself above {result['tuning_vs_base_per_day']:,.0f} requests "
              f"a day (shorter prompts than the base model's)"]
    return "\n".join(lines)


def calculator_widget(*, prompt_tokens: int, base_prompt_tokens: int, answer_tokens: int, price_per_mu_hour: float):
    """Sliders for the calculator (requests per day, prompt and answer lengths, traffic shape, commitment,
    price per model unit per hour) above its answer."""
    import ipywidgets as widgets

    from helpers.ui import Panel

    controls = {
        "requests_per_day": widgets.FloatLogSlider(value=10_000, base=10, min=1, max=9, step=0.1,
                                                   description="requests/day", readout_format=",.0f"),
        "prompt_tokens": widgets.IntSlider(value=prompt_tokens, min=10, max=4000, description="tuned prompt"),
        "base_prompt_tokens": widgets.IntSlider(value=base_prompt_tokens, min=10, max=8000, description="base prompt"),
        "answer_tokens": widgets.IntSlider(value=answer_tokens, min=1, max=2000, description="answer"),
        "shape": widgets.Dropdown(options=list(traffic_profiles()), value="steady", description="traffic"),
        "commitment": widgets.Dropdown(options=[("none", None), ("1 month", "OneMonth"), ("6 months", "SixMonths")],
                                       value=None, description="commitment"),
        "price_per_mu_hour": widgets.FloatLogSlider(value=price_per_mu_hour, base=10, min=-1, max=3, step=0.05,
                                                    description="$ per MU-hour", readout_format=",.2f"),
        "only_active_hours": widgets.Checkbox(value=False, description="delete the throughput outside active hours"),
    }
    out = widgets.HTML()

    def show(_=None):
        out.value = f"<pre>{html.escape(calculator_text(calculator(**{k: c.value for k, c in controls.items()})))}</pre>"

    for control in controls.values():
        control.observe(show, names="value")
    show()
    return Panel([widgets.HBox([widgets.VBox(list(controls.values())[:4]), widgets.VBox(list(controls.values())[4:])]),
                  out], "cost calculator: sliders for volume, prompt and answer lengths, traffic, commitment, "
                        "price per model unit (needs a running kernel)")


def check_cheapest(answer: str, result: dict) -> str:
    """Right or not yet, with the monthly totals that decide it."""
    totals = ", ".join(f"{s} {money(c['total'])}" for s, c in result["options"].items())
    if answer not in SERVING:
        return f"Not yet: answer one of {', '.join(SERVING)} (got {answer!r})."
    if answer == result["cheapest"]:
        return f"Right: {answer} is cheapest per month ({totals})."
    return (f"Not yet: {answer} costs {money(result['options'][answer]['total'])} a month, "
            f"{result['cheapest']} {money(result['options'][result['cheapest']]['total'])}. Compare what is "
            f"recurring (storage, hours) with what grows with requests ({totals}).")


def check_break_even(answer: float, expected: float, tolerance: float = 0.1) -> str:
    """Right when within `tolerance` of the break-even volume; otherwise how far off, and how to find it."""
    if answer and abs(answer - expected) <= tolerance * expected:
        return f"Right: about {expected:,.0f} requests a day."
    hint = ("divide the throughput's fixed cost per month by the per-request saving, then by the days "
            "in the month")
    if not answer:
        return f"Not yet: no answer given; {hint}."
    per_month = expected * HOURS_PER_MONTH / 24
    if abs(answer - per_month) <= tolerance * per_month:
        return f"Not yet: {answer:,.0f} is about the break-even per month; the question asks for requests a day."
    return f"Not yet: {answer:,.0f} is {'too high' if answer > expected else 'too low'}; {hint}."
