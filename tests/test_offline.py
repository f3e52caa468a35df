"""The offline Bedrock: real boto3 calls, answered like Bedrock (shapes, errors, statuses, outputs), jobs that
really train the local model, state shared across processes, the loopback server, plain boto3 scripts on
ordinary English data. AWS's own sample notebooks and their call sequences: tests/test_aws_samples.py."""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import runpy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from helpers import aws, corpus, formats, local_model, offline
from helpers.aws_samples import english
from helpers.offline import runtime, server
from helpers.offline.service import RESTART_NOTE, Emulator
from helpers.offline.state import Store

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
NOVA = "amazon.nova-micro-v1:0:128k"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
TITAN = "amazon.titan-text-express-v1:0:8k"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
MOTO_CONFIG = {"core": {"mock_credentials": True, "reset_boto3_session": True, "service_whitelist": None,
                        "passthrough": {"urls": [], "services": offline.MOTO_PASSTHROUGH}}}


# ------------------------------------------------------------------------------------------ data and a tiny model
def clause_rows(n: int, start: int = 0) -> list[dict]:
    return corpus.read_jsonl(REPO / "data" / "clauses" / "raw.jsonl")[start:start + n]


def records(family: str, n: int, start: int = 0, system: str | None = None) -> list[dict]:
    """n records of the clause task in a family's format (the lab's own data, so every word is in a vocabulary)."""
    return [formats.make_record(corpus.clause_prompt(r["text"]), corpus.clause_completion(r["label"]), family,
                                system=system) for r in clause_rows(n, start)]


def jsonl(rows: list[dict]) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode() + b"\n"


@pytest.fixture(scope="module")
def tiny_base():
    """A 1-layer stand-in for the shipped checkpoint, on the shipped tokenizer (which reads any text)."""
    tok = local_model.load_base().tokenizer
    config = {"n_layer": 1, "d_model": 32, "n_head": 2, "context": 192, "vocab_size": len(tok)}
    return local_model.Model(config, tok, local_model.init_params(config, np.random.default_rng(0)))


@pytest.fixture
def lab_env(tmp_path, monkeypatch, tiny_base):
    """A clean offline account: its own state and cache directories, fast status phases, the tiny base model."""
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "LAB_AWS_MODE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "LAB_STATE_DIR": str(tmp_path / "state"), "LAB_CACHE_DIR": str(tmp_path / "cache"),
                       "LAB_OFFLINE_TIME_SCALE": "0.02"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(runtime, "base_model", lambda: tiny_base)
    return tmp_path


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


@pytest.fixture
def account(lab_env):
    """moto for S3/IAM/STS plus the emulator's before-send hook, as helpers.aws.activate() sets them up."""
    from moto import mock_aws
    mock = mock_aws(config=MOTO_CONFIG)
    mock.start()
    offline.install(Emulator(Store(lab_env / "state")))
    try:
        yield Account()
    finally:
        offline.uninstall()
        mock.stop()


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


# ------------------------------------------------------------------------------------------ the catalog
def test_foundation_models_follow_the_facts_per_region(account):
    east = {m["modelId"] for m in account.bedrock.list_foundation_models(
        byCustomizationType="FINE_TUNING")["modelSummaries"]}
    west = {m["modelId"] for m in Account("us-west-2").bedrock.list_foundation_models(
        byCustomizationType="FINE_TUNING")["modelSummaries"]}
    assert NOVA in east and NOVA not in west           # Nova: us-east-1
    assert HAIKU in west and HAIKU not in east         # Claude 3 Haiku and Llama 3.x: us-west-2
    assert "meta.llama3-1-8b-instruct-v1:0:128k" in west
    cpt = account.bedrock.list_foundation_models(byCustomizationType="CONTINUED_PRE_TRAINING")["modelSummaries"]
    assert {m["modelId"] for m in cpt} == {TITAN, "amazon.titan-text-lite-v1:0:4k"}
    detail = account.bedrock.get_foundation_model(modelIdentifier=NOVA)["modelDetails"]
    assert detail["customizationsSupported"] == ["FINE_TUNING", "DISTILLATION"]
    assert detail["modelLifecycle"]["status"] == "ACTIVE"


# ------------------------------------------------------------------------------------------ invalid requests
def test_bad_job_name_fails_with_the_services_validation_message(account):
    bucket = account.bucket("lab-bad-name", nova_data())
    code, message, status = error_of(lambda: account.job(bucket, name="bad name!", model_name="fine-name"))
    assert (code, status) == ("ValidationException", 400)
    assert message == ("1 validation error detected: Value 'bad name!' at 'jobName' failed to satisfy constraint: "
                       "Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9\\+\\-\\.])*")
    with pytest.raises(account.bedrock.exceptions.ValidationException):  # the modelled class is catchable
        account.job(bucket, name="bad name!", model_name="fine-name")


def test_unknown_base_model_and_wrong_region_are_refused(account):
    bucket = account.bucket("lab-unknown-model", nova_data())
    code, message, _ = error_of(lambda: account.job(bucket, model="acme.nope-v1:0"))
    assert code == "ValidationException" and "acme.nope-v1:0 is invalid" in message
    code, message, _ = error_of(lambda: account.job(bucket, model=HAIKU))
    assert code == "ValidationException" and message.endswith("it is offered in us-west-2.")
    code, message, _ = error_of(lambda: account.job(bucket, model="amazon.nova-micro-v1:0"))
    assert "can't be customized" in message


def test_hyperparameters_are_strings_in_the_documented_range(account, lab_env):
    bucket = account.bucket("lab-hp", nova_data())
    code, message, _ = error_of(lambda: account.job(bucket, hp={"epochCount": "9"}))
    assert code == "ValidationException"
    assert message == ("Hyperparameter epochCount value '9' is out of range for amazon.nova-micro-v1:0:128k. "
                       "Valid range is [1, 5].")
    _, message, _ = error_of(lambda: account.job(bucket, hp={"learningRateMultiplier": "1"}))
    assert message.startswith("Hyperparameter learningRateMultiplier is not supported for amazon.nova-micro")
    _, message, _ = error_of(lambda: account.job(bucket, hp={"learningRate": "fast"}))
    assert "is not a valid number" in message
    with pytest.raises(ParamValidationError, match="hyperParameters.epochCount"):  # boto3 refuses before sending
        account.job(bucket, hp={"epochCount": 2})
    # a client that skips botocore's validation meets the service's own check
    emulator = offline.hook.emulator()
    body = json.dumps({"jobName": "raw", "customModelName": "raw", "roleArn": account.role("RawRole"),
                       "baseModelIdentifier": NOVA, "trainingDataConfig": {"s3Uri": f"s3://{bucket}/train.jsonl"},
                       "outputDataConfig": {"s3Uri": f"s3://{bucket}/out/"}, "hyperParameters": {"epochCount": 2}})
    status, headers, payload = emulator.handle("bedrock", None, "POST",
                                               "https://bedrock.us-east-1.amazonaws.com/model-customization-jobs",
                                               {}, body.encode())
    assert status == 400 and headers["x-amzn-ErrorType"].startswith("ValidationException:")
    assert json.loads(payload)["message"] == ("1 validation error detected: Value '2' at 'hyperParameters.epochCount' "
                                              "failed to satisfy constraint: Member must be of type string")


def test_missing_training_object_role_and_bucket_checks(account):
    bucket = account.bucket("lab-missing", nova_data())
    code, message, _ = error_of(lambda: account.job(bucket, train="nope.jsonl"))
    assert (code, message) == ("ValidationException", "Could not validate GetObject permissions to access Amazon "
                                                       "S3 bucket: lab-missing at key nope.jsonl" + RESTART_NOTE)
    untrusted = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                         "Action": "sts:AssumeRole"}]}
    role = account.role("NotForBedrock", untrusted)
    assert error_of(lambda: account.job(bucket, roleArn=role))[1] == "Could not assume provided IAM role."
    missing = "arn:aws:iam::123456789012:role/NoSuchRole"
    assert error_of(lambda: account.job(bucket, roleArn=missing))[1] == "Could not assume provided IAM role." + RESTART_NOTE
    west = Account("us-west-2").bucket("lab-west-data", nova_data())
    _, message, _ = error_of(lambda: account.job(west))
    assert message == ("The S3 bucket lab-west-data is in us-west-2; a customization job in us-east-1 needs its data "
                       "and output in us-east-1.")


def test_duplicate_names_conflict(account):
    bucket = account.bucket("lab-dup", nova_data())
    account.job(bucket, name="dup-job")
    code, message, _ = error_of(lambda: account.job(bucket, name="dup-job"))
    assert code == "ConflictException" and "dup-job already exists" in message
    with pytest.raises(account.bedrock.exceptions.ConflictException):
        account.bedrock.create_model_customization_job(
            jobName="other-job", customModelName="dup-job-model", roleArn=account.role("R2"), baseModelIdentifier=NOVA,
            trainingDataConfig={"s3Uri": f"s3://{bucket}/train.jsonl"}, outputDataConfig={"s3Uri": f"s3://{bucket}/o/"})


def test_wrong_data_format_fails_the_job_naming_the_line(account, monkeypatch):
    monkeypatch.setenv("LAB_OFFLINE_TIME_SCALE", "0.5")  # the data check takes a moment, as on Bedrock
    rows = records("bedrock-conversation-2024", 12)
    rows[2] = {"prompt": "a prompt/completion record", "completion": "in a Nova file"}
    bucket = account.bucket("lab-bad-format", {"train.jsonl": jsonl(rows)})
    arn = account.job(bucket, validation=None)
    assert account.bedrock.get_model_customization_job(jobIdentifier=arn)["status"] == "InProgress"
    job = wait(account, arn)
    assert job["status"] == "Failed"
    assert job["failureMessage"].startswith("Validation of the data failed: train.jsonl:3: ")
    assert job["statusDetails"]["validationDetails"]["status"] == "Failed"
    assert "outputModelArn" not in job and account.bedrock.list_custom_models()["modelSummaries"] == []


def test_nova_reserved_words_fail_the_job(account):
    rows = records("bedrock-conversation-2024", 10)
    rows[4]["messages"][0]["content"][0]["text"] = "User: what is this clause? Assistant:"
    bucket = account.bucket("lab-reserved", {"train.jsonl": jsonl(rows)})
    job = wait(account, account.job(bucket, validation=None))
    assert job["status"] == "Failed" and "train.jsonl:5: " in job["failureMessage"]
    assert "User:" in job["failureMessage"]


# ------------------------------------------------------------------------------------------ the whole flow
def test_full_flow_trains_serves_and_tears_down(account, lab_env, monkeypatch):
    bucket = account.bucket("lab-flow", nova_data())
    arn = account.job(bucket, name="flow-job", hp={"epochCount": "2", "learningRate": "0.00005"})
    first = account.bedrock.get_model_customization_job(jobIdentifier=arn)
    assert first["status"] == "InProgress" and "outputModelArn" not in first
    job = wait(account, arn)
    assert job["status"] == "Completed", job.get("failureMessage")
    assert {d["status"] for d in job["statusDetails"].values()} == {"Completed"}
    assert job["trainingMetrics"]["trainingLoss"] > 0 and job["validationMetrics"][0]["validationLoss"] > 0

    # the metrics, where and as the docs say; the training loss really falls
    prefix = f"output/model-customization-job-{arn.rsplit('/', 1)[-1]}/"
    keys = sorted(o["Key"] for o in account.s3.list_objects_v2(Bucket=bucket, Prefix="output/")["Contents"])
    assert keys == [prefix + "training_artifacts/step_wise_training_metrics.csv",
                    prefix + "validation_artifacts/post_fine_tuning_validation/validation_metrics.csv"]
    train = list(csv.DictReader(io.StringIO(account.s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read().decode())))
    val = list(csv.DictReader(io.StringIO(account.s3.get_object(Bucket=bucket, Key=keys[1])["Body"].read().decode())))
    assert list(train[0]) == ["step_number", "epoch_number", "training_loss", "perplexity"]
    assert list(val[0]) == ["step_number", "epoch_number", "validation_loss", "perplexity"]
    assert train[0]["step_number"] == "0" and len(train) == 2 * 5 and len(val) == 2  # 40 records / batch 8 x 2 epochs
    assert float(train[-1]["training_loss"]) < float(train[0]["training_loss"])
    # the weights stay in the offline account's own storage, never in the learner's bucket
    everything = [o["Key"] for o in account.s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(everything) == sorted(keys + ["train.jsonl", "validation.jsonl"])
    model = account.bedrock.get_custom_model(modelIdentifier=job["outputModelArn"])
    assert model["modelStatus"] == "Active" and model["modelName"] == "flow-job-model"
    assert (lab_env / "state" / "custom-models").is_dir()

    # serving: not ready while Creating, then answers in every form
    monkeypatch.setenv("LAB_OFFLINE_TIME_SCALE", "1")
    pt = account.bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="flow-pt",
                                                             modelId=model["modelArn"], tags=aws.lab_tags())
    pt_arn = pt["provisionedModelArn"]
    impatient = Account(retries=1)
    hello = [{"role": "user", "content": [{"text": "hello"}]}]
    with pytest.raises(impatient.runtime.exceptions.ModelNotReadyException):
        impatient.runtime.converse(modelId=pt_arn, messages=hello)
    monkeypatch.setenv("LAB_OFFLINE_TIME_SCALE", "0.02")
    assert wait(account, pt_arn)["status"] == "InService"
    prompt = corpus.clause_prompt(clause_rows(1)[0]["text"])
    reply = account.runtime.converse(modelId=pt_arn, messages=[{"role": "user", "content": [{"text": prompt}]}],
                                     inferenceConfig={"maxTokens": 8, "temperature": 0.0})
    tuned = local_model.load(lab_env / "state" / "custom-models" / model["modelArn"].rsplit("/", 1)[-1])
    expected = local_model.generate(tuned, formats.to_pair(formats.make_record(prompt, "-", "bedrock-conversation-2024"),
                                                           "bedrock-conversation-2024")[0], max_new_tokens=8)
    assert reply["output"]["message"]["content"][0]["text"] == expected   # the trained weights answered
    assert reply["usage"]["totalTokens"] == reply["usage"]["inputTokens"] + reply["usage"]["outputTokens"]
    events = list(account.runtime.converse_stream(modelId=pt_arn, messages=hello,
                                                  inferenceConfig={"maxTokens": 8})["stream"])
    assert [next(iter(e)) for e in events][:1] == ["messageStart"] and "metadata" in events[-1]
    nova_body = json.loads(account.runtime.invoke_model(modelId=pt_arn, body=json.dumps(
        {"messages": hello, "inferenceConfig": {"maxTokens": 8}}))["body"].read())
    assert set(nova_body) == {"output", "stopReason", "usage"}

    # on-demand deployment (Nova custom models support it)
    dep = account.bedrock.create_custom_model_deployment(modelDeploymentName="flow-dep", modelArn=model["modelArn"],
                                                         tags=aws.lab_tags())["customModelDeploymentArn"]
    assert wait(account, dep)["status"] == "Active"
    assert account.runtime.converse(modelId=dep, messages=hello)["stopReason"] in ("end_turn", "max_tokens")
    code, message, _ = error_of(lambda: account.bedrock.delete_custom_model(modelIdentifier=model["modelArn"]))
    assert code == "ConflictException" and "flow-pt" in message

    # a third no-commitment throughput is over the quota of two
    account.bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="flow-pt-2",
                                                        modelId=model["modelArn"], tags=aws.lab_tags())
    code, message, _ = error_of(lambda: account.bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="flow-pt-3", modelId=model["modelArn"]))
    assert code == "ServiceQuotaExceededException" and "quota of 2 no-commitment" in message

    done = aws.teardown(("us-east-1",))
    assert done == {"throughputs": ["flow-pt", "flow-pt-2"], "deployments": ["flow-dep"],
                    "custom_models": ["flow-job-model"], "jobs_stopped": [], "buckets": ["lab-flow"],
                    "roles": ["LabBedrockRole"], "not_deleted": []}
    assert account.bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"] == []
    assert account.bedrock.list_custom_model_deployments()["modelDeploymentSummaries"] == []
    assert account.bedrock.list_custom_models()["modelSummaries"] == []
    assert account.s3.list_buckets()["Buckets"] == []
    assert account.iam.list_roles()["Roles"] == []
    assert not any((lab_env / "state" / "custom-models").iterdir())
    assert account.bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"] == []
    with Store(lab_env / "state").transaction() as doc:
        assert doc["tokens"] == {} and doc["tags"] == {}


def test_invoke_model_speaks_each_familys_body(account):
    west = Account("us-west-2")
    ask = "hello"
    claude = json.loads(west.runtime.invoke_model(
        modelId="arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
        body=json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8,
                         "messages": [{"role": "user", "content": ask}]}))["body"].read())
    assert claude["type"] == "message" and claude["content"][0]["type"] == "text"
    assert set(claude["usage"]) == {"input_tokens", "output_tokens"}
    llama = json.loads(west.runtime.invoke_model(modelId="meta.llama3-1-8b-instruct-v1:0", body=json.dumps(
        {"prompt": f"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{ask}<|eot_id|>",
         "max_gen_len": 8}))["body"].read())
    assert set(llama) == {"generation", "prompt_token_count", "generation_token_count", "stop_reason"}
    titan = json.loads(account.runtime.invoke_model(modelId="amazon.titan-text-express-v1", body=json.dumps(
        {"inputText": ask, "textGenerationConfig": {"maxTokenCount": 8}}))["body"].read())
    assert titan["results"][0]["completionReason"] in ("FINISH", "LENGTH")
    nova = json.loads(account.runtime.invoke_model(modelId="amazon.nova-micro-v1:0", body=json.dumps(
        {"messages": [{"role": "user", "content": [{"text": ask}]}]}))["body"].read())
    assert nova["output"]["message"]["role"] == "assistant"
    chunks = [json.loads(e["chunk"]["bytes"]) for e in west.runtime.invoke_model_with_response_stream(
        modelId="anthropic.claude-3-haiku-20240307-v1:0", body=json.dumps(
            {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8,
             "messages": [{"role": "user", "content": ask}]}))["body"]]
    assert chunks[0]["type"] == "message_start" and chunks[-1]["type"] == "message_stop"
    titan_chunks = [json.loads(e["chunk"]["bytes"]) for e in account.runtime.invoke_model_with_response_stream(
        modelId="amazon.titan-text-express-v1", body=json.dumps({"inputText": ask}))["body"]]
    assert titan_chunks[-1]["completionReason"] in ("FINISH", "LENGTH") and "outputText" in titan_chunks[0]
    # what Bedrock says to bodies and ids it does not accept
    code, message, _ = error_of(lambda: west.runtime.invoke_model(
        modelId="anthropic.claude-3-haiku-20240307-v1:0", body=json.dumps({"messages": [], "max_tokens": 5})))
    assert (code, message) == ("ValidationException", "Malformed input request: #: required key [anthropic_version] "
                                                      "not found, please reformat your input and try again.")
    assert error_of(lambda: account.runtime.converse(modelId="acme.nope-v1", messages=[
        {"role": "user", "content": [{"text": ask}]}]))[1] == "The provided model identifier is invalid."
    _, message, _ = error_of(lambda: west.runtime.converse(modelId="meta.llama3-2-1b-instruct-v1:0", messages=[
        {"role": "user", "content": [{"text": ask}]}]))
    assert message.startswith("The provided model identifier is invalid")
    _, message, _ = error_of(lambda: account.runtime.converse(modelId="amazon.nova-micro-v1:0", messages=[
        {"role": "assistant", "content": [{"text": ask}]}]))
    assert message.startswith("A conversation must start with a user message.")
    _, message, _ = error_of(lambda: account.runtime.converse(
        modelId="amazon.nova-micro-v1:0", messages=[{"role": "user", "content": [{"text": ask}]}],
        inferenceConfig={"temperature": 5.0}))
    assert "at 'inferenceConfig.temperature' failed to satisfy constraint" in message


def test_invoking_a_custom_model_arn_directly_is_refused(account):
    code, message, _ = error_of(lambda: account.runtime.converse(
        modelId="arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1/abcdefabcdef",
        messages=[{"role": "user", "content": [{"text": "hi"}]}]))
    assert code == "ValidationException" and "Provisioned Throughput" in message
    code, _, status = error_of(lambda: account.runtime.converse(
        modelId="arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefabcdef",
        messages=[{"role": "user", "content": [{"text": "hi"}]}]))
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_stop_moves_a_job_through_stopping_to_stopped(account, monkeypatch):
    monkeypatch.setenv("LAB_OFFLINE_TIME_SCALE", "1")  # a validation phase long enough to stop in
    bucket = account.bucket("lab-stop", nova_data())
    arn = account.job(bucket, name="stop-job")
    account.bedrock.stop_model_customization_job(jobIdentifier=arn)
    assert account.bedrock.get_model_customization_job(jobIdentifier=arn)["status"] == "Stopping"
    job = wait(account, arn)
    assert job["status"] == "Stopped" and account.bedrock.list_custom_models()["modelSummaries"] == []
    assert error_of(lambda: account.bedrock.stop_model_customization_job(jobIdentifier=arn))[0] == "ConflictException"


def test_continued_pretraining_job_trains_on_input_records(account):
    texts = corpus.make_domain_text(40)
    bucket = account.bucket("lab-cpt", {"train.jsonl": jsonl([{"input": t} for t in texts])})
    job = wait(account, account.job(bucket, name="cpt-job", model=TITAN, validation=None,
                                    customizationType="CONTINUED_PRE_TRAINING", hp={"epochCount": "1"}))
    assert job["status"] == "Completed", job.get("failureMessage")
    assert job["customizationType"] == "CONTINUED_PRE_TRAINING"


def test_any_text_trains_and_a_record_longer_than_the_context_is_cut_to_fit(account, lab_env):
    rows = records("bedrock-conversation-2024", 10)
    rows[1]["messages"][1]["content"][0]["text"] = "zyzzyvaqux 🤖 עברית ▁ \x00 déjà vu"
    # about 3,000 characters: far inside Nova's documented limits, far past the local model's 192 tokens
    rows[2]["messages"][0]["content"][0]["text"] = "Route the ticket to billing, please. " * 80
    bucket = account.bucket("lab-any-text", {"train.jsonl": jsonl(rows)})
    job = wait(account, account.job(bucket, validation=None))
    assert job["status"] == "Completed", job.get("failureMessage")
    model_id = job["outputModelArn"]
    pt = account.bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="any-text-pt",
                                                             modelId=model_id)["provisionedModelArn"]
    wait(account, pt)
    long_prompt = [{"role": "user", "content": [{"text": "Summarize this meeting: " + "we agreed on the plan. " * 100}]}]
    out = account.runtime.converse(modelId=pt, messages=long_prompt, inferenceConfig={"maxTokens": 16})
    assert isinstance(out["output"]["message"]["content"][0]["text"], str)
    base = runtime.base_model()
    # the prompt was read from its end: as many tokens as the context holds beside the answer's room
    assert out["usage"]["inputTokens"] == local_model.prompt_window(base, 16) < local_model.count_tokens(
        base, runtime.prompt_for("bedrock-conversation-2024", [long_prompt[0]["content"][0]["text"]], None))


def test_state_is_shared_with_another_process(account, lab_env):
    bucket = account.bucket("lab-shared", nova_data())
    job = wait(account, account.job(bucket, name="shared-job"))
    pt = account.bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="shared-pt",
                                                             modelId=job["outputModelArn"])["provisionedModelArn"]
    wait(account, pt)
    hello = [{"role": "user", "content": [{"text": "hello"}]}]
    here = account.runtime.converse(modelId=pt, messages=hello)["output"]["message"]["content"][0]["text"]
    code = ("import boto3\nfrom helpers import aws\naws.activate()\n"
            "print([m['modelName'] for m in boto3.client('bedrock').list_custom_models()['modelSummaries']])\n"
            f"reply = boto3.client('bedrock-runtime').converse(modelId={pt!r}, messages={hello!r})\n"
            "print(repr(reply['output']['message']['content'][0]['text']))\n")
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == ["['shared-job-model']", repr(here)]  # the same trained weights answer


# ------------------------------------------------------------------------------------------ plain boto3 scripts
def write_flow_data(tmp: Path) -> list[str]:
    data = nova_data()
    paths = [tmp / "train.jsonl", tmp / "validation.jsonl"]
    for path, key in zip(paths, ["train.jsonl", "validation.jsonl"]):
        path.write_bytes(data[key])
    return [str(p) for p in paths]


def test_plain_boto3_script_runs_in_process(account, lab_env, capsys):
    argv = write_flow_data(lab_env)
    sys.argv, saved = ["plain_boto3_flow.py", *argv], sys.argv
    try:
        runpy.run_path(str(FIXTURES / "plain_boto3_flow.py"), run_name="__main__")
    finally:
        sys.argv = saved
    assert capsys.readouterr().out.splitlines()[-1] == "OK"


def test_plain_boto3_script_runs_against_the_loopback_server(lab_env):
    srv, url = server.serve(0, emulator=Emulator(Store(lab_env / "state")))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAB_AWS"))}
        env.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
        done = subprocess.run([sys.executable, str(FIXTURES / "plain_boto3_flow.py"), *write_flow_data(lab_env)],
                              capture_output=True, text=True, env=env, timeout=180)
    finally:
        srv.shutdown()
        srv.moto.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].startswith("job Completed") and lines[-1] == "OK"


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


def test_offline_aws_command_serves_on_loopback(lab_env):
    proc = subprocess.Popen([sys.executable, "-m", "helpers", "offline-aws", "--port", "0"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        url = first.split(" on ")[1].strip()
        assert url.startswith("http://127.0.0.1:")
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        s3.create_bucket(Bucket="served")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["served"]
        bedrock = boto3.client("bedrock", endpoint_url=url, region_name="us-west-2")
        assert HAIKU in {m["modelId"] for m in bedrock.list_foundation_models()["modelSummaries"]}
        with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
            bedrock.get_model_customization_job(jobIdentifier="no-such-job")
        # a kernel with AWS_ENDPOINT_URL set shares the server's account instead of starting its own
        code = ("import boto3\nfrom helpers import aws\naws.activate()\n"
                "print([b['Name'] for b in boto3.client('s3').list_buckets()['Buckets']])\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAB_AWS"))}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120,
                              env={**env, "AWS_ENDPOINT_URL": url})
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0] == f"offline endpoint: {url} (shared with other processes)"
        assert done.stdout.splitlines()[-1] == "['served']"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def offline_child_env(tmp: Path) -> dict:
    """A child process's environment for a fresh offline account in `tmp` (fast status phases, no AWS settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAB_AWS"))}
    env.update(LAB_STATE_DIR=str(tmp / "state"), LAB_CACHE_DIR=str(tmp / "cache"), LAB_OFFLINE_TIME_SCALE="0.02",
               AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    return env


def support_ticket_records(n: int, seed: int) -> list[dict]:
    """Support tickets and their replies as Nova records (bedrock-conversation-2024), written out by hand."""
    return [{"schemaVersion": "bedrock-conversation-2024", "system": [{"text": "You answer customer support tickets."}],
             "messages": [{"role": "user", "content": [{"text": t["ticket"]}]},
                          {"role": "assistant", "content": [{"text": t["reply"]}]}]}
            for t in english.support_tickets(n, seed)]


def meeting_note_records(n: int, seed: int) -> list[dict]:
    """Meeting notes and their summaries as prompt/completion records."""
    return [{"prompt": "Summarize these meeting notes.\n" + m["notes"], "completion": m["summary"]}
            for m in english.meeting_notes(n, seed)]


def news_text_records(n: int, seed: int) -> list[dict]:
    """News-style articles as continued pre-training records (unlabelled text)."""
    return [{"input": a["article"]} for a in english.news_articles(n, seed)]


# A customization of each kind the lab serves, on ordinary English text: (region, base model, type,
# hyperparameters, records, training and validation record counts (at least each model's documented minimum;
# no validation set for continued pre-training, which the offline job does not validate), question asked).
ENGLISH_FLOWS = {
    "nova-micro-support-tickets": ("us-east-1", NOVA, "FINE_TUNING", ["epochCount=2", "learningRate=0.0001"],
                                   support_ticket_records, (24, 6),
                                   "From: Maya\nMy order 123456 arrived broken. What now?"),
    "llama-3.1-8b-meeting-notes": ("us-west-2", "meta.llama3-1-8b-instruct-v1:0:128k", "FINE_TUNING",
                                   ["epochCount=1", "batchSize=1", "learningRate=0.0001"], meeting_note_records,
                                   (100, 6), "Summarize these meeting notes.\nAttendees: Maya, Tom\nTopic: the office"),
    "titan-express-news-text": ("us-east-1", TITAN, "CONTINUED_PRE_TRAINING",
                                ["epochCount=1", "batchSize=1", "learningRate=0.00001"], news_text_records, (24, 0),
                                "(Riverton) -- Officials in Riverton"),
}


@pytest.mark.parametrize("case", sorted(ENGLISH_FLOWS))
def test_plain_boto3_flow_on_english_data_through_the_offline_aws_command(tmp_path, case):
    """A plain boto3 script against `python -m helpers offline-aws`, on text that is not the lab's corpus."""
    region, model, kind, hp, make_records, counts, question = ENGLISH_FLOWS[case]
    files = []
    for name, n, seed in [("train.jsonl", counts[0], 1), ("validation.jsonl", counts[1], 2)][:1 + bool(counts[1])]:
        (tmp_path / name).write_bytes(jsonl(make_records(n, seed)))
        files.append(str(tmp_path / name))
    env = offline_child_env(tmp_path)
    with offline_aws_command(env) as url:
        done = subprocess.run([sys.executable, str(FIXTURES / "plain_boto3_flow.py"), *files, "--region", region,
                               "--model", model, "--type", kind, "--question", question,
                               *[a for kv in hp for a in ("--hp", kv)]],
                              capture_output=True, text=True, env={**env, "AWS_ENDPOINT_URL": url}, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].startswith("job Completed")
    assert [line.split()[1].split("/")[0] for line in lines if line.startswith("metrics ")] == [
        "training_artifacts", "validation_artifacts"][:len(files)]
    assert "throughput InService" in lines
    assert next(line for line in lines if line.startswith("converse ")).split()[1] in ("end_turn", "max_tokens")
    assert lines[-1] == "OK"


# ------------------------------------------------------------------------------------------ wiring
def test_activate_offline_installs_the_emulator(tmp_path):
    code = ("import boto3\nfrom helpers import aws\naws.activate()\n"
            "print(len(boto3.client('bedrock').list_foundation_models()['modelSummaries']) > 10)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAB_"))}
    env["LAB_STATE_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "True"


def test_a_write_after_another_process_came_and_went_is_not_lost(tmp_path):
    """Another process's connection closing must not delete this process's live write-ahead log (it did while
    the header check opened and closed the file, which drops this process's POSIX locks)."""
    store = Store(tmp_path)
    with store.transaction() as doc:
        doc["tags"]["arn:one"] = [{"key": "k", "value": "1"}]
    read = (f"from helpers.offline.state import Store\nwith Store({str(tmp_path)!r}).transaction() as doc:\n"
            "    print(sorted(doc['tags']))\n")
    run = lambda: subprocess.run([sys.executable, "-c", read], capture_output=True, text=True, cwd=REPO,  # noqa: E731
                                 timeout=60).stdout.strip()
    assert run() == "['arn:one']"
    with store.transaction() as doc:
        doc["tags"]["arn:two"] = [{"key": "k", "value": "2"}]
    assert run() == "['arn:one', 'arn:two']"


def test_state_writes_are_atomic_and_shared(tmp_path):
    one, two = Store(tmp_path), Store(tmp_path)
    with one.transaction() as doc:
        doc["tags"]["arn:x"] = [{"key": "k", "value": "v"}]
    with two.transaction() as doc:
        assert doc["tags"] == {"arn:x": [{"key": "k", "value": "v"}]}
    with pytest.raises(RuntimeError), one.transaction() as doc:
        doc["tags"]["arn:x"] = []
        raise RuntimeError("a failed request changes nothing")
    with two.transaction() as doc:
        assert doc["tags"]["arn:x"] == [{"key": "k", "value": "v"}]


# ------------------------------------------------------------------------------------------ helpers.aws guard rails
class Recorder:
    """A stand-in boto3 client that records every call and answers from a script of replies."""

    def __init__(self, replies: dict | None = None):
        self.calls: list[tuple[str, dict]] = []
        self.replies = replies or {}

    def __getattr__(self, operation: str):
        def call(**params):
            self.calls.append((operation, params))
            reply = self.replies.get(operation, {})
            return reply.pop(0) if isinstance(reply, list) else reply
        return call


@pytest.fixture
def live(monkeypatch):
    monkeypatch.setattr(aws, "_mode", "live")


JOB_PARAMS = dict(jobName="j", customModelName="m", roleArn="arn:aws:iam::123456789012:role/r",
                  baseModelIdentifier=NOVA, trainingDataConfig={"s3Uri": "s3://b/t.jsonl"},
                  outputDataConfig={"s3Uri": "s3://b/o/"}, hyperParameters={"epochCount": "2"})


def test_live_mode_creates_nothing_billable_without_confirmation(live, capsys):
    client = Recorder({"create_model_customization_job": {"jobArn": "arn:job"},
                       "create_provisioned_model_throughput": {"provisionedModelArn": "arn:pt"},
                       "create_custom_model_deployment": {"customModelDeploymentArn": "arn:dep"}})
    refuse = lambda prompt: "no"  # noqa: E731
    with pytest.raises(aws.NotConfirmed, match="answer was 'no'"):
        aws.create_customization_job(client, tokens=10_000, ask=refuse, **JOB_PARAMS)
    with pytest.raises(aws.NotConfirmed):
        aws.create_throughput(client, base_model_id=NOVA, ask=refuse, modelUnits=1, provisionedModelName="p",
                              modelId="arn:model")
    with pytest.raises(aws.NotConfirmed):
        aws.create_deployment(client, base_model_id=NOVA, ask=refuse, modelDeploymentName="d", modelArn="arn:model")
    assert client.calls == []
    assert "cost estimate for a customization job" in capsys.readouterr().out
    assert aws.create_customization_job(client, tokens=10_000, ask=lambda prompt: "yes", **JOB_PARAMS) == "arn:job"
    (operation, params), = client.calls
    assert operation == "create_model_customization_job"
    assert params["jobTags"] == params["customModelTags"] == aws.lab_tags()


def test_offline_mode_shows_the_estimate_and_bills_nothing(account, monkeypatch, capsys):
    monkeypatch.setattr(aws, "_mode", "offline")
    with pytest.raises(account.bedrock.exceptions.ValidationException):  # the s3 URIs break the pattern
        aws.create_customization_job(account.bedrock, tokens=10_000, ask=lambda prompt: pytest.fail("asked offline"),
                                     **JOB_PARAMS)
    assert capsys.readouterr().out.splitlines()[-1] == "offline: nothing is billed"


def test_wait_for_polls_until_settled_and_prints_one_line(capsys):
    statuses = ["InProgress", "InProgress", "Completed"]
    client = Recorder({"get_model_customization_job": [{"status": s, "jobName": "j1"} for s in statuses]})
    slept = []
    job = aws.wait_for("arn:aws:bedrock:us-east-1:123456789012:model-customization-job/m/abc", client=client,
                       progress=False, sleep=slept.append, poll_seconds=7)
    assert job["status"] == "Completed" and slept == [7, 7] and len(client.calls) == 3
    assert capsys.readouterr().out == "job j1: InProgress -> Completed\n"


def test_wait_for_gives_up_with_a_clear_error():
    client = Recorder({"get_provisioned_model_throughput": {"status": "Creating", "provisionedModelName": "p"}})
    with pytest.raises(TimeoutError, match=r"throughput arn:aws:bedrock:us-east-1:1:provisioned-model/p is still "
                                           r"Creating after 0 s"):
        aws.wait_for("arn:aws:bedrock:us-east-1:1:provisioned-model/p", client=client, progress=False,
                     timeout_seconds=0, sleep=lambda s: None)
    with pytest.raises(ValueError, match="cannot tell what 'my-job' is"):
        aws.wait_for("my-job", client=client)


def test_teardown_deletes_throughput_first_and_only_the_labs(monkeypatch):
    lab, other = aws.lab_tags(), [{"key": "team", "value": "other"}]
    tags = {"pt-lab": lab, "pt-other": other, "dep-lab": lab, "model-lab": lab}
    bedrock = Recorder({
        "list_provisioned_model_throughputs": {"provisionedModelSummaries": [
            {"provisionedModelArn": "pt-lab", "provisionedModelName": "lab-pt"},
            {"provisionedModelArn": "pt-other", "provisionedModelName": "their-pt"}]},
        "list_custom_model_deployments": {"modelDeploymentSummaries": [
            {"customModelDeploymentArn": "dep-lab", "customModelDeploymentName": "lab-dep"}]},
        "list_model_customization_jobs": {"modelCustomizationJobSummaries": []},
        "list_custom_models": {"modelSummaries": [{"modelArn": "model-lab", "modelName": "lab-model"}]}})
    bedrock.list_tags_for_resource = lambda resourceARN: {"tags": tags[resourceARN]}
    s3 = Recorder({"list_buckets": {"Buckets": []}})

    class Session:
        def client(self, service, region_name=None):
            return bedrock if service == "bedrock" else s3

    monkeypatch.setattr(aws, "_mode", "live")
    done = aws.teardown(("us-east-1",), session=Session())
    deletes = [op for op, _ in bedrock.calls if op.startswith("delete")]
    assert deletes == ["delete_provisioned_model_throughput", "delete_custom_model_deployment", "delete_custom_model"]
    assert done["throughputs"] == ["lab-pt"]  # the other team's throughput is left alone


def test_teardown_command_cleans_the_shared_offline_account(account, lab_env):
    bucket = account.bucket("lab-cmd", nova_data())
    job = wait(account, account.job(bucket, name="cmd-job"))
    account.bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="cmd-pt",
                                                        modelId=job["outputModelArn"], tags=aws.lab_tags())
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    done = subprocess.run([sys.executable, "-m", "helpers", "teardown"], capture_output=True, text=True, env=env,
                          timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "throughputs: cmd-pt" in done.stdout and "custom models: cmd-job-model" in done.stdout
    assert account.bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"] == []
    assert account.bedrock.list_custom_models()["modelSummaries"] == []
