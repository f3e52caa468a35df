"""AWS's public Bedrock fine-tuning sample pairs the lab runs offline, where they live, and their stand-ins.

Two pairs, each published in github.com/aws-samples/amazon-bedrock-samples (custom-models/) and copied into
github.com/aws-samples/amazon-bedrock-workshop (03_Model_customization/, synced from the former since
2026-04-10): the Claude 3 Haiku fine-tuning pair and the Amazon Nova Micro fine-tuning pair with on-demand
deployment. The lab stores none of their code; it reads the learner's (or CI's) checkout. Every prompt,
instruction and data-shaping cell runs as published; the stand-ins below are only for what cannot run offline
(downloads, pip, %store, kernel restarts) or what the sample leaves to the learner, each with its reason.

Claude 3 Haiku reached end of life on 2026-09-10 in us-west-2, the only Region that fine-tuned it
(https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-3-haiku.html, checked
2026-12-01): no Region runs the Haiku pair today. It runs as published up to its create_model_customization_job,
which gets Bedrock's end-of-life answer as a live account would, and the command reports it ENDED.
"""
from __future__ import annotations

import types
from dataclasses import dataclass
from pathlib import Path

from helpers.aws_samples import english
from helpers.aws_samples.runner import POLL_SLEEP, ModuleStandIn, StandIn, placeholder_module

HAIKU_REGION = "us-west-2"  # where the Haiku sample fine-tunes Claude 3 Haiku (custom-model-fine-tuning.html)
NOVA_MICRO_REGION = "us-east-1"  # the Nova Micro sample's own `region = "us-east-1"`
WAIT_TIMEOUT = 300.0  # seconds the runner waits where a sample leaves the learner to wait


@dataclass(frozen=True)
class SampleFamily:
    """One sample pair: its notebooks (in order), the folder holding them per repository, region and stand-ins."""

    key: str
    name: str
    notebooks: tuple[str, ...]
    folders: dict[str, str]
    region: str
    stand_ins: dict[str, StandIn]


def create_bucket_in_region(namespace: dict) -> None:
    """The sample's create_bucket call with the LocationConstraint its own comment says to uncomment."""
    extra = {} if namespace["region"] == "us-east-1" else {
        "CreateBucketConfiguration": {"LocationConstraint": namespace["region"]}}
    namespace["s3bucket"] = namespace["s3_client"].create_bucket(Bucket=namespace["bucket_name"], **extra)


def load_stand_in_dataset(name: str):
    """Return an action binding `dataset` to the lab's English records shaped like Hugging Face's `name`."""
    def action(namespace: dict) -> None:
        namespace["dataset"] = english.stand_in_dataset(name)
    return action


def copy_validation_metrics(namespace: dict) -> None:
    """Copy the job's validation_metrics.csv to the extra `validation/` level the sample reads it from."""
    s3, bucket = namespace["s3_client"], namespace["bucket_name"]
    prefix = f"outputs/output-{namespace['custom_model_name']}/{namespace['output_job_name']}/validation_artifacts/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
            if o["Key"].endswith("/validation_metrics.csv")]
    if len(keys) != 1:
        raise RuntimeError(f"expected one validation_metrics.csv under s3://{bucket}/{prefix}, found {keys}")
    s3.copy_object(Bucket=bucket, Key=namespace["validation_metrics_s3_prefix"],
                   CopySource={"Bucket": bucket, "Key": keys[0]})


def wait_for_deployment(namespace: dict) -> None:
    """Poll the sample's deployment (deployed_model_id) until it settles; fail unless Active."""
    from helpers import aws
    deployment = aws.wait_for(namespace["deployed_model_id"], client=namespace["bedrock"], poll_seconds=POLL_SLEEP,
                              timeout_seconds=WAIT_TIMEOUT, progress=False)
    if deployment["status"] != "Active":
        raise RuntimeError(f"deployment {deployment['modelDeploymentName']} ended {deployment['status']}: "
                           f"{deployment.get('failureMessage', '')}")


def _jsonlines_module() -> types.ModuleType:
    """Return a `jsonlines` whose open(path, 'w').write(obj) writes one JSON object per line (all the samples use)."""
    import json
    module = types.ModuleType("jsonlines")

    class Writer:
        def __init__(self, path, mode: str = "w"):
            if mode not in ("w", "a"):
                raise ValueError(f"the lab's jsonlines stand-in only writes (mode 'w' or 'a'), not {mode!r}")
            self._file = open(path, mode, encoding="utf-8")

        def write(self, obj) -> None:
            self._file.write(json.dumps(obj, ensure_ascii=False) + "\n")

        def close(self) -> None:
            self._file.close()

        def __enter__(self):
            return self

        def __exit__(self, *_exc) -> None:
            self.close()

    module.open = Writer  # type: ignore[attr-defined]
    return module


# Modules the samples pip-install that the lab's environment does not have (stood in only where missing).
MODULES = (
    ModuleStandIn("datasets", "pip-installed by the samples to download from Hugging Face (no internet "
                  "offline): the import runs; its only use, load_dataset, is in stood-in cells",
                  lambda: placeholder_module("datasets")),
    ModuleStandIn("jsonlines", "pip-installed by the samples to write JSONL: a stand-in whose "
                  "open(path, 'w').write(record) writes one JSON object per line, as jsonlines does",
                  _jsonlines_module),
)

_INSTALL = "pip install: the lab's environment already has what the AWS cells need; nothing is installed"
_RESTART = "kernel restart after the installs: nothing was installed, and a restart would drop the namespace"
_STORE = "%store magic: one namespace carries the variables from the set-up notebook to the next"
_HAIKU_SETUP, _HAIKU_TUNE = "00_Setup_and_DataPrep_Haiku.ipynb", "01_Claude_Haiku_Fine_Tuning.ipynb"
_NOVA_SETUP = "01_setup_nova_micro.ipynb"
_NOVA_TUNE = "02_fine-tune_nova_micro_with_on_demand_inference.ipynb"

# Keyed by the cell ids of the notebooks at amazon-bedrock-samples 85fba9d (identical in amazon-bedrock-workshop
# 8b378f2).
HAIKU_STAND_INS: dict[str, StandIn] = {
    "93e28916": StandIn(_INSTALL, "pip install"),
    "e6958613": StandIn(_RESTART, "kernel.restart()"),
    "199c4502": StandIn("create_bucket without CreateBucketConfiguration fails outside us-east-1 on AWS too; the "
                        "same call runs with the LocationConstraint the cell says to uncomment",
                        "create_bucket(", create_bucket_in_region),
    "698f48aa": StandIn("downloads knkarthick/samsum from Hugging Face (no internet offline): the lab's seeded "
                        "English chat dialogues with summaries stand in, with samsum's splits and fields "
                        "(id, dialogue, summary)", 'load_dataset("knkarthick/samsum")',
                        load_stand_in_dataset("knkarthick/samsum")),
    "b714f27f": StandIn(_STORE, "%store role_arn"),
    "a3df9fa6": StandIn(_INSTALL, "pip install"),
    "ec065f85": StandIn(_RESTART, "kernel.restart()"),
    "64d6535c": StandIn(_STORE, "%store -r role_arn"),
    "d1bce422": StandIn("BERTScore evaluation: downloads a BERT model from the internet and calls no AWS API",
                        "from bert_score import score"),
}

# The Nova Micro notebooks' cells have no ids: 'cell-N' is the cell's position, checked by its marker.
NOVA_MICRO_STAND_INS: dict[str, StandIn] = {
    f"{_NOVA_SETUP}#cell-3": StandIn(_INSTALL, "pip install"),
    f"{_NOVA_SETUP}#cell-4": StandIn(_RESTART, "kernel.restart()"),
    f"{_NOVA_SETUP}#cell-22": StandIn(
        "downloads cnn_dailymail 3.0.0 from Hugging Face (no internet offline): the lab's seeded English news "
        "articles with highlights stand in, with its splits and fields (article, highlights, id)",
        'load_dataset("cnn_dailymail"', load_stand_in_dataset("cnn_dailymail")),
    f"{_NOVA_SETUP}#cell-40": StandIn(_STORE, "%store role_arn"),
    f"{_NOVA_TUNE}#cell-2": StandIn(_INSTALL + " (nor is ~/.cache/pip emptied)", "pip install"),
    f"{_NOVA_TUNE}#cell-4": StandIn(_RESTART, "kernel.restart()"),
    f"{_NOVA_TUNE}#cell-6": StandIn(_STORE, "%store -r role_arn"),
    f"{_NOVA_TUNE}#cell-24": StandIn(
        "the sample downloads validation metrics from .../post_fine_tuning_validation/validation/"
        "validation_metrics.csv, a level Bedrock's documentation does not show (the offline job writes "
        ".../post_fine_tuning_validation/validation_metrics.csv, as documented); the file is copied to the "
        "sample's key first, then the cell runs as written", "validation_metrics_s3_prefix",
        copy_validation_metrics, "before"),
    f"{_NOVA_TUNE}#cell-33": StandIn(
        "the sample invokes the deployment right after creating it; its markdown says to verify deployment "
        "readiness before running inference: the deployment is polled until Active first, then the cell runs",
        "brt.converse(", wait_for_deployment, "before"),
}

FAMILIES = (
    SampleFamily("haiku", "Claude 3 Haiku fine-tuning", (_HAIKU_SETUP, _HAIKU_TUNE), {
        "aws-samples/amazon-bedrock-samples": "custom-models/bedrock-fine-tuning/claude-haiku",
        "aws-samples/amazon-bedrock-workshop": "03_Model_customization/bedrock-fine-tuning/claude-haiku"},
        HAIKU_REGION, HAIKU_STAND_INS),
    SampleFamily("nova-micro", "Amazon Nova Micro fine-tuning with on-demand deployment", (_NOVA_SETUP, _NOVA_TUNE), {
        "aws-samples/amazon-bedrock-samples": "custom-models/on_demand_inference",
        "aws-samples/amazon-bedrock-workshop": "03_Model_customization/on_demand_inference"},
        NOVA_MICRO_REGION, NOVA_MICRO_STAND_INS),
)


def family_of(paths: list[Path]) -> SampleFamily | None:
    """Return the family whose notebooks these are (by file name), or None for other notebooks."""
    names = {p.name for p in paths}
    return next((f for f in FAMILIES if names <= set(f.notebooks)), None)


def find_in_checkout(root: Path) -> list[tuple[SampleFamily, list[Path]]]:
    """Return each family found in a checkout with its notebooks; FileNotFoundError lists what was looked for."""
    found = []
    for family in FAMILIES:
        for folder in family.folders.values():
            paths = [root / folder / name for name in family.notebooks]
            if all(p.is_file() for p in paths):
                found.append((family, paths))
                break
    if not found:
        looked = "; ".join(f"{repo}: {folder}/{{{', '.join(f.notebooks)}}}"
                           for f in FAMILIES for repo, folder in f.folders.items())
        raise FileNotFoundError(f"{root} holds none of the sample pairs the lab knows (looked for {looked})")
    return found
