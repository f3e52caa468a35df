"""The foundation-model catalog, its lifecycle per Region and the hyperparameter table (data/bedrock/*.csv): read by
the offline emulator and by learner code alike (a plain reader of the data, no emulator inside).

Lifecycle follows AWS's model-lifecycle page: ACTIVE, LEGACY (no new Provisioned Throughput, not open to new
customers) or EOL (requests fail). A model's `lifecycle` column holds its state in every Region it is listed in,
and data/bedrock/lifecycle_regions.csv the Regions where it differs (Claude 3 Haiku lives on in a few).
"""
from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from helpers.paths import DATA_DIR as _DATA

DATA_DIR = _DATA / "bedrock"
PROFILE_PREFIXES = ("us.", "eu.", "apac.", "global.")
# AWS wording: what a request to a model version past its end of life answers (ResourceNotFoundException), quoted on
# https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-3-haiku.html (checked 2026-12-01).
EOL_MESSAGE = "This model version has reached the end of its life."
# The lab's wording: AWS documents the rule ("You can't create new Provisioned Throughput for models in the Legacy
# state", https://docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle-legacy.html, checked 2026-12-01) but
# not the message the API answers with; the second sentence quotes the rule.
LEGACY_PROVISIONING_MESSAGE = ("The model {model} is in the Legacy state in this Region. You can't create new "
                               "Provisioned Throughput for models in the Legacy state.")


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
    lifecycle: str            # ACTIVE | LEGACY | EOL in its Regions, unless lifecycle_regions.csv says otherwise
    hp_group: str
    custom_serving: tuple[str, ...]  # PROVISIONED and/or DEPLOYMENT (on-demand) for its custom models
    input_modalities: tuple[str, ...]  # from the model card: TEXT, IMAGE, VIDEO


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
            _split(r["custom_serving"]), _split(r["input_modalities"])) for r in csv.DictReader(f)}


@functools.lru_cache(maxsize=1)
def _regional_lifecycles() -> dict[tuple[str, str], str]:
    with open(DATA_DIR / "lifecycle_regions.csv", newline="", encoding="utf-8") as f:
        return {(r["model_id"], r["region"]): r["lifecycle"] for r in csv.DictReader(f)}


def lifecycle(model: FoundationModel, region: str) -> str:
    """Return the model's lifecycle state in a Region (ACTIVE | LEGACY | EOL); a customizable variant
    (`...:128k`) shares the state of its model version unless it has a row of its own."""
    regional = _regional_lifecycles()
    version = model.model_id.rsplit(":", 1)[0] if model.model_id.count(":") > 1 else model.model_id
    return regional.get((model.model_id, region)) or regional.get((version, region)) or model.lifecycle


def available(model: FoundationModel, region: str) -> bool:
    """Whether the model is listed in the Region and has not reached end of life there."""
    return region in model.regions and lifecycle(model, region) != "EOL"


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
