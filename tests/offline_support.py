"""What the offline-account tests share: the lab's clause data in each family and a boto3 view of one region of
the offline account. The fixtures that set the account up (tiny_base, lab_env, account) are in conftest.py."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from helpers import aws, corpus, formats

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
NOVA = "amazon.nova-micro-v1:0:128k"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
TITAN = "amazon.titan-text-express-v1:0:8k"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}


def clause_rows(n: int, start: int = 0) -> list[dict]:
    return corpus.read_jsonl(REPO / "data" / "clauses" / "raw.jsonl")[start:start + n]


def records(family: str, n: int, start: int = 0, system: str | None = None) -> list[dict]:
    """n records of the clause task in a family's format (the lab's own data, so every word is in a vocabulary)."""
    return [formats.make_record(corpus.clause_prompt(r["text"]), corpus.clause_completion(r["label"]), family,
                                system=system) for r in clause_rows(n, start)]


def jsonl(rows: list[dict]) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode() + b"\n"


class Account:
    """boto3 clients of one region against the in-process offline account."""

    def __init__(self, region: str = "us-east-1", retries: int | None = None):
        config = Config(retries={"max_attempts": retries, "mode": "standard"}) if retries else None
        self.region = region
        self.s3 = boto3.client("s3", region_name=region)
        self.iam = boto3.client("iam", region_name=region)
        self.bedrock = boto3.client("bedrock", region_name=region)
        self.runtime = boto3.client("bedrock-runtime", region_name=region, config=config)

    def bucket(self, name: str, files: dict[str, bytes], tagged: bool = True) -> str:
        extra = {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
        self.s3.create_bucket(Bucket=name, **extra)
        if tagged:
            self.s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": aws.lab_tags(style="aws")})
        for key, body in files.items():
            self.s3.put_object(Bucket=name, Key=key, Body=body)
        return name

    def role(self, name: str = "LabBedrockRole", trust: dict = TRUST) -> str:
        try:
            return self.iam.get_role(RoleName=name)["Role"]["Arn"]
        except self.iam.exceptions.NoSuchEntityException:
            return self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                                        Tags=aws.lab_tags(style="aws"))["Role"]["Arn"]

    def job(self, bucket: str, *, name: str = "lab-job", model: str = NOVA, train: str = "train.jsonl",
            validation: str | None = "validation.jsonl", hp: dict | None = None, model_name: str | None = None,
            **extra) -> str:
        params = dict(jobName=name, customModelName=model_name or f"{name}-model", roleArn=extra.pop("roleArn", None) or self.role(),
                      baseModelIdentifier=model, trainingDataConfig={"s3Uri": f"s3://{bucket}/{train}"},
                      outputDataConfig={"s3Uri": f"s3://{bucket}/output/"},
                      hyperParameters=hp or {"epochCount": "2"}, jobTags=aws.lab_tags(),
                      customModelTags=aws.lab_tags(), **extra)
        if validation:
            params["validationDataConfig"] = {"validators": [{"s3Uri": f"s3://{bucket}/{validation}"}]}
        return self.bedrock.create_model_customization_job(**params)["jobArn"]


def nova_data(n_train: int = 40, n_val: int = 8) -> dict[str, bytes]:
    return {"train.jsonl": jsonl(records("bedrock-conversation-2024", n_train)),
            "validation.jsonl": jsonl(records("bedrock-conversation-2024", n_val, start=n_train))}


def error_of(call) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def wait(account: Account, arn: str) -> dict:
    return aws.wait_for(arn, client=account.bedrock, poll_seconds=0.05, timeout_seconds=120, progress=False)


def write_flow_data(tmp: Path) -> list[str]:
    data = nova_data()
    paths = [tmp / "train.jsonl", tmp / "validation.jsonl"]
    for path, key in zip(paths, ["train.jsonl", "validation.jsonl"]):
        path.write_bytes(data[key])
    return [str(p) for p in paths]


@contextlib.contextmanager
def offline_aws_command(env: dict | None = None) -> Iterator[str]:
    """`python -m helpers offline-aws --port 0` in a child process (environment `env`); yields its URL."""
    proc = subprocess.Popen([sys.executable, "-m", "helpers", "offline-aws", "--port", "0"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert " on http://127.0.0.1:" in first, f"offline-aws did not start: {first!r}"
        yield first.split(" on ")[1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def offline_child_env(tmp: Path) -> dict:
    """A child process's environment for a fresh offline account in `tmp` (fast status phases, no AWS settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAB_AWS"))}
    env.update(LAB_STATE_DIR=str(tmp / "state"), LAB_CACHE_DIR=str(tmp / "cache"), LAB_OFFLINE_TIME_SCALE="0.02",
               AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    return env
