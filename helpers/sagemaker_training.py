"""The SageMaker path of notebook 04: a training script in the SageMaker container contract, run locally on the
local model, and the CreateTrainingJob request that would run it on AWS.

The contract (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo.html):
hyperparameters arrive as strings in /opt/ml/input/config/hyperparameters.json; each input channel is a
directory /opt/ml/input/data/<channel>/ (SM_CHANNEL_<NAME> in script mode); the model goes to /opt/ml/model
(SM_MODEL_DIR), which SageMaker uploads as model.tar.gz; a failure reason goes to /opt/ml/output/failure and
the exit code is non-zero; metrics are lines on stdout that the job's MetricDefinitions regexes pick up.
What this script adds over a Bedrock job is the control Bedrock's API has no field for: LoRA or full
fine-tuning, the LoRA rank, the warm-up schedule, the seed, any base checkpoint you bring as a channel.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from helpers.paths import DATA_DIR, ROOT

CONTAINER_ROOT = Path("/opt/ml")
METRIC_DEFINITIONS = [{"Name": "train:loss", "Regex": r"train_loss=([0-9.]+)"},
                      {"Name": "validation:loss", "Regex": r"val_loss=([0-9.]+)"}]
# name -> (type, low, high, default, what it controls); all arrive as strings, as SageMaker passes them
HYPERPARAMETERS = {
    "epochs": (int, 1, 20, "2", "passes over the train channel"),
    "batch_size": (int, 1, 256, "8", "records per step"),
    "learning_rate": (float, 1e-6, 1e-1, "0.001", "peak learning rate"),
    "warmup_steps": (int, 0, 10_000, "0", "linear warm-up steps"),
    "lora_rank": (int, 0, 64, "0", "0 = full fine-tuning, else LoRA adapters of this rank"),
    "seed": (int, 0, 2**31 - 1, "0", "shuffling and adapter initialisation"),
}


class HyperparameterError(ValueError):
    """A hyperparameter the script does not know, or a value it cannot use."""


def container_paths(root: str | os.PathLike = CONTAINER_ROOT) -> dict[str, Path]:
    """Return the SageMaker container's directories and files under root."""
    root = Path(root)
    return {"hyperparameters": root / "input" / "config" / "hyperparameters.json",
            "input_config": root / "input" / "config" / "inputdataconfig.json",
            "data": root / "input" / "data", "model": root / "model", "output": root / "output",
            "failure": root / "output" / "failure"}


def prepare_container(root: str | os.PathLike, channels: dict[str, bytes | Path],
                      hyperparameters: dict[str, str]) -> dict[str, Path]:
    """Lay out what SageMaker writes before the script starts: config files and one directory per channel."""
    paths = container_paths(root)
    for key in ("data", "model", "output"):
        paths[key].mkdir(parents=True, exist_ok=True)
    paths["hyperparameters"].parent.mkdir(parents=True, exist_ok=True)
    paths["hyperparameters"].write_text(json.dumps({k: str(v) for k, v in hyperparameters.items()}, indent=1))
    config = {}
    for name, content in channels.items():
        target = paths["data"] / name
        if isinstance(content, Path):
            shutil.copytree(content, target, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            (target / f"{name}.jsonl").write_bytes(content)
        config[name] = {"ContentType": "application/jsonlines", "TrainingInputMode": "File",
                        "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}
    paths["input_config"].write_text(json.dumps(config, indent=1))
    return paths


def read_hyperparameters(raw: dict[str, str]) -> dict:
    """Return typed hyperparameters from SageMaker's strings, defaults filled in; raise naming any bad one."""
    unknown = sorted(set(raw) - set(HYPERPARAMETERS))
    if unknown:
        raise HyperparameterError(f"unknown hyperparameter {unknown[0]!r}; this script takes {', '.join(HYPERPARAMETERS)}")
    out = {}
    for name, (kind, low, high, default, _) in HYPERPARAMETERS.items():
        text = raw.get(name, default)
        try:
            value = kind(text)
        except (TypeError, ValueError):
            raise HyperparameterError(f"hyperparameter {name}={text!r} is not a valid {kind.__name__}") from None
        if not low <= value <= high:
            raise HyperparameterError(f"hyperparameter {name}={text!r} is outside [{low:g}, {high:g}]")
        out[name] = value
    return out


def read_records(channel_dir: Path) -> list[tuple[str, str]]:
    """Return (prompt, completion) pairs from every .jsonl file of a channel, whatever Bedrock family it is in."""
    from helpers import formats
    pairs = []
    for path in sorted(channel_dir.glob("*.jsonl")):
        for line, value, error in formats.read_lines(open(path, "rb")):
            if error or not isinstance(value, dict):
                raise ValueError(f"{path.name}:{line}: {error or 'not a JSON object'}")
            family = ("prompt-completion" if "prompt" in value else
                      "bedrock-conversation-2024" if "schemaVersion" in value else "claude-messages")
            pairs.append(formats.to_pair(value, family))
    return pairs


def train(root: str | os.PathLike = CONTAINER_ROOT, environ: dict[str, str] | None = None) -> int:
    """The training script: read the contract's inputs, fine-tune, print metric lines, save to the model dir."""
    from helpers import local_model
    env = os.environ if environ is None else environ
    paths = container_paths(root)
    channel = lambda name: Path(env.get(f"SM_CHANNEL_{name.upper()}", paths["data"] / name))  # noqa: E731
    model_dir = Path(env.get("SM_MODEL_DIR", paths["model"]))
    try:
        hp = read_hyperparameters(json.loads(paths["hyperparameters"].read_text()))
        pairs = read_records(channel("train"))
        val_pairs = read_records(channel("validation")) if channel("validation").is_dir() else None
        base = local_model.load(channel("base")) if channel("base").is_dir() else local_model.load_base()

        def report(rec: dict) -> None:
            line = f"epoch={rec['epoch']} step={rec['step']} train_loss={rec['train_loss']:.4f}"
            print(line + (f" val_loss={rec['val_loss']:.4f}" if rec["val_loss"] is not None else ""), flush=True)

        reported = []
        model = local_model.cached_finetune(base, pairs, epochs=hp["epochs"], batch_size=hp["batch_size"],
                                            learning_rate=hp["learning_rate"], warmup_steps=hp["warmup_steps"],
                                            lora_rank=hp["lora_rank"] or None, val_pairs=val_pairs, seed=hp["seed"],
                                            progress=False, on_step=lambda rec: (reported.append(rec), report(rec)))
        if not reported:  # the same run is in the lab's weights cache: its metric lines are the ones it printed
            print("weights from the lab's cache (same data, hyperparameters, base model and training code); "
                  "metric lines as that run printed them", flush=True)
            for rec in model.history:
                report(rec)
        local_model.save(model, model_dir)
        return 0
    except Exception as exc:  # the contract: say why in output/failure, exit non-zero
        paths["failure"].parent.mkdir(parents=True, exist_ok=True)
        paths["failure"].write_text(f"{type(exc).__name__}: {exc}")
        print(f"training failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def parse_metrics(log: str, definitions: list[dict] = METRIC_DEFINITIONS) -> dict[str, list[float]]:
    """Return each metric's values in log order, picked out by the regexes as SageMaker does."""
    return {d["Name"]: [float(m.group(1)) for m in re.finditer(d["Regex"], log)] for d in definitions}


@dataclass
class LocalRun:
    """What a local run of the training script left: exit code, metrics, failure reason, model dir, log."""

    exit_code: int
    metrics: dict[str, list[float]]
    failure: str | None
    model_dir: Path
    log: str = field(repr=False)


def run_local(root: str | os.PathLike, channels: dict[str, bytes | Path], hyperparameters: dict[str, str],
              timeout: int = 600) -> LocalRun:
    """Run the script in a fresh process under root, as the container would run it; return what it left."""
    paths = prepare_container(root, channels, hyperparameters)
    env = {**os.environ, "SM_MODEL_DIR": str(paths["model"]), "PYTHONUNBUFFERED": "1"}
    done = subprocess.run([sys.executable, "-m", "helpers.sagemaker_training", "--root", str(root)],
                          capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    failure = paths["failure"].read_text() if paths["failure"].exists() else None
    return LocalRun(done.returncode, parse_metrics(done.stdout), failure, paths["model"], done.stdout + done.stderr)


def training_job_request(name: str, *, role_arn: str, image_uri: str, train_s3: str, output_s3: str,
                         hyperparameters: dict[str, str], validation_s3: str | None = None,
                         base_s3: str | None = None, instance_type: str = "ml.g5.2xlarge",
                         max_runtime_seconds: int = 3600, tags: list[dict] | None = None) -> dict:
    """Return the CreateTrainingJob parameters that run this script on SageMaker (values as strings)."""
    bad = {k: v for k, v in hyperparameters.items() if not isinstance(v, str)}
    if bad:
        raise HyperparameterError(f"SageMaker takes hyperparameters as strings; not strings: {bad}")
    read_hyperparameters(hyperparameters)
    channels = [("train", train_s3), ("validation", validation_s3), ("base", base_s3)]
    return {
        "TrainingJobName": name, "RoleArn": role_arn,
        "AlgorithmSpecification": {"TrainingImage": image_uri, "TrainingInputMode": "File",
                                   "MetricDefinitions": METRIC_DEFINITIONS},
        "HyperParameters": dict(hyperparameters),
        "InputDataConfig": [{"ChannelName": ch, "ContentType": "application/jsonlines",
                             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri,
                                                             "S3DataDistributionType": "FullyReplicated"}}}
                            for ch, uri in channels if uri],
        "OutputDataConfig": {"S3OutputPath": output_s3},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_seconds},
        "Tags": tags or [],
    }


def decision_table() -> list[dict]:
    """Return the Bedrock-vs-SageMaker comparison rows (data/bedrock/bedrock_vs_sagemaker.csv), with sources."""
    with open(DATA_DIR / "bedrock" / "bedrock_vs_sagemaker.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def main_train(argv: list[str] | None = None) -> int:
    """`python -m helpers.sagemaker_training [--root DIR]`: the container's entry point (root defaults to /opt/ml)."""
    parser = argparse.ArgumentParser(prog="python -m helpers.sagemaker_training", description=main_train.__doc__)
    parser.add_argument("--root", default=str(CONTAINER_ROOT))
    return train(parser.parse_args(argv).root)


if __name__ == "__main__":
    sys.exit(main_train())
