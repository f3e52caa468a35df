"""How long an offline Bedrock customization job takes: 500 records, 2 epochs, Nova Micro, from create to Completed.

Runs in a fresh state and cache directory so the local model really trains (no cached weights). Target on the
2-core machine: <= 30 s. Prints the measurement; asserts nothing.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-offline-") as scratch:  # removed when the run ends
        os.environ.update(LAB_STATE_DIR=str(Path(scratch) / "state"), LAB_CACHE_DIR=str(Path(scratch) / "cache"))
        return measure()


def measure() -> int:
    import boto3

    from helpers import aws, corpus, formats
    aws.activate("offline")
    rows = corpus.clause_splits()["train_set"][:500]
    records = [formats.make_record(corpus.clause_prompt(r["text"]), corpus.clause_completion(r["label"]),
                                   "bedrock-conversation-2024") for r in rows]
    s3, iam, bedrock = boto3.client("s3"), boto3.client("iam"), boto3.client("bedrock")
    s3.create_bucket(Bucket="bench-data")
    s3.put_object(Bucket="bench-data", Key="train.jsonl", Body="\n".join(json.dumps(r) for r in records).encode())
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "bedrock.amazonaws.com"}}]}
    role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    started = time.perf_counter()
    arn = bedrock.create_model_customization_job(
        jobName="bench-job", customModelName="bench-model", roleArn=role, baseModelIdentifier="amazon.nova-micro-v1:0:128k",
        trainingDataConfig={"s3Uri": "s3://bench-data/train.jsonl"}, outputDataConfig={"s3Uri": "s3://bench-data/out/"},
        hyperParameters={"epochCount": "2"})["jobArn"]
    job = aws.wait_for(arn, client=bedrock, poll_seconds=0.1, progress=False)
    seconds = time.perf_counter() - started
    steps = len(s3.get_object(Bucket="bench-data", Key=f"out/model-customization-job-{arn.rsplit('/', 1)[-1]}/"
                              "training_artifacts/step_wise_training_metrics.csv")["Body"].read().splitlines()) - 1
    print(f"offline customization job, {len(records)} records x 2 epochs on amazon.nova-micro-v1:0:128k: "
          f"{job['status']} in {seconds:.1f} s ({steps} training steps, final training loss "
          f"{job['trainingMetrics']['trainingLoss']:.3f}; target <= 30 s)")
    return 0 if job["status"] == "Completed" else 1


if __name__ == "__main__":
    sys.exit(main())
