"""The foundation-model catalog and hyperparameter table (data/bedrock/*.csv): read by the offline emulator
and by learner code alike (a plain reader of the data, no emulator inside)."""
from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from helpers.paths import DATA_DIR as _DATA

DATA_DIR = _DATA / "bedrock"
PROFILE_PREFIXES = ("us.", "eu.", "apac.", "global.")


@dataclass(frozen=True)
class FoundationModel:
    """One row of data/bedrock/foundation_models.csv."""

    model_id: str
    name: str
    provider: str
    body_format: str          # anthropic | nova | llama | titan: the invoke_model body it speaks
    customizations: tuple[str, ...]
    regions: tuple[str, ...]
    inference_types: tuple[str, ...]
    lifecycle: str
    hp_group: str
    custom_serving: tuple[str, ...]  # PROVISIONED and/or DEPLOYMENT (on-demand) for its custom models


@dataclass(frozen=True)
class HyperParameter:
    """One row of data/bedrock/hyperparameters.csv: a name Bedrock accepts, as a string, within [low, high]."""

    name: str
    kind: str
    low: float
    high: float
    default: str


def _split(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.split(";") if v)


@functools.lru_cache(maxsize=1)
def foundation_models() -> dict[str, FoundationModel]:
    """Return the catalog keyed by model id."""
    with open(DATA_DIR / "foundation_models.csv", newline="", encoding="utf-8") as f:
        return {r["model_id"]: FoundationModel(
            r["model_id"], r["name"], r["provider"], r["body_format"], _split(r["customizations"]),
            _split(r["regions"]), _split(r["inference_types"]), r["lifecycle"], r["hp_group"],
            _split(r["custom_serving"])) for r in csv.DictReader(f)}


@functools.lru_cache(maxsize=None)
def hyperparameters(hp_group: str) -> dict[str, HyperParameter]:
    """Return the hyperparameters a customizable model accepts, keyed by API name."""
    with open(DATA_DIR / "hyperparameters.csv", newline="", encoding="utf-8") as f:
        return {r["name"]: HyperParameter(r["name"], r["type"], float(r["min"]), float(r["max"]), r["default"])
                for r in csv.DictReader(f) if r["hp_group"] == hp_group}


def model_id_of(identifier: str) -> str:
    """Return the bare model id of an id, a foundation-model ARN or an inference-profile id."""
    bare = identifier.rsplit("/", 1)[-1] if identifier.startswith("arn:") else identifier
    return bare.split(".", 1)[1] if bare.startswith(PROFILE_PREFIXES) else bare


def customizable_variant(model_id: str) -> FoundationModel | None:
    """Return the customizable sibling of an on-demand model id (its data family), or itself."""
    catalog = foundation_models()
    if model_id in catalog and catalog[model_id].customizations:
        return catalog[model_id]
    return next((m for m in catalog.values() if m.model_id.startswith(model_id + ":") and m.customizations), None)
