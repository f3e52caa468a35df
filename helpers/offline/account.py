"""The offline account's constants and names: its id, the ARNs and ids of what it creates, how long its status
phases last. A leaf module: `service`, `training` and `runtime` import it, and it imports none of them.
"""
from __future__ import annotations

import hashlib
import os

ACCOUNT = "123456789012"
# Real durations are minutes to hours; offline they are scaled down (LAB_OFFLINE_TIME_SCALE multiplies).
DURATIONS = {"validation": 1.0, "data_processing": 1.0, "stopping": 2.0, "throughput": 3.0, "deployment": 3.0}


def duration(kind: str) -> float:
    """Return the scaled-down duration of a status phase, in seconds."""
    return DURATIONS[kind] * float(os.environ.get("LAB_OFFLINE_TIME_SCALE", "1"))


def new_id(kind: str, region: str, name: str) -> str:
    """Return a 12-character id, stable for a name so re-run notebooks show the same ARNs."""
    return hashlib.sha1(f"{kind}|{region}|{name}".encode()).hexdigest()[:12]


def fm_arn(region: str, model_id: str) -> str:
    """Return a foundation model's ARN."""
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def job_arn(region: str, model_id: str, job_id: str) -> str:
    """Return a model customization job's ARN."""
    return f"arn:aws:bedrock:{region}:{ACCOUNT}:model-customization-job/{model_id}/{job_id}"


def custom_model_arn(region: str, model_id: str, custom_id: str) -> str:
    """Return a custom model's ARN (its base foundation model id is part of it)."""
    return f"arn:aws:bedrock:{region}:{ACCOUNT}:custom-model/{model_id}/{custom_id}"


def provisioned_model_arn(region: str, pid: str) -> str:
    """Return a provisioned throughput's ARN."""
    return f"arn:aws:bedrock:{region}:{ACCOUNT}:provisioned-model/{pid}"


def deployment_arn(region: str, did: str) -> str:
    """Return a custom model deployment's ARN."""
    return f"arn:aws:bedrock:{region}:{ACCOUNT}:custom-model-deployment/{did}"
