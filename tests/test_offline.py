"""The offline Bedrock: real boto3 calls, answered like Bedrock (shapes, errors, statuses, outputs), jobs that
really train the local model, state shared across processes, the loopback server, the call sequences of AWS's
Haiku and Nova fine-tuning samples (and AWS's own notebooks, when AWS_SAMPLES_DIR / AWS_WORKSHOP_DIR point to
checkouts of them)."""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import runpy
import subprocess
import sys
import time
from pathlib import Path

import boto3
import numpy as np
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from helpers import aws, corpus, formats, local_model, offline
from helpers.offline import runtime, samples, server
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
HAIKU_SYSTEM = samples.SYSTEM_PROMPT


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


# ------------------------------------------------------------------------------------------ AWS's own sample
def follow_haiku_sample(work: Path, poll: float = 0.02) -> dict:
    """The boto3 calls of AWS's Claude 3 Haiku fine-tuning sample, in its order, with its parameters and parsing.

    Mirrors the call sequence (not the code) of github.com/aws-samples/amazon-bedrock-samples,
    custom-models/bedrock-fine-tuning/claude-haiku/00_Setup_and_DataPrep_Haiku.ipynb at commit
    8e56542268d21fc637af314d75a8e31fa9905c4c and 01_Claude_Haiku_Fine_Tuning.ipynb at commit
    2273ac54f2745ffc139a0b534d1a4b13f8adec0b. Its data comes from the lab's clause corpus; it polls every
    `poll` seconds where the sample waits a minute. The real notebooks run in test_aws_sample_notebooks_*.
    """
    session = boto3.session.Session(region_name="us-west-2")
    region = session.region_name
    account_id = session.client("sts").get_caller_identity()["Account"]
    s3, iam = session.client("s3"), session.client("iam")
    bedrock, runtime_client = session.client("bedrock"), session.client("bedrock-runtime")
    seen: dict = {"tunable": [m["modelId"] for m in
                              bedrock.list_foundation_models(byCustomizationType="FINE_TUNING")["modelSummaries"]]}

    # set-up notebook: bucket, role with the account/job-scoped trust, S3 policy, data files uploaded
    bucket = f"bedrock-haiku-customization-{region}-{account_id}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}, "ArnEquals": {
            "aws:SourceArn": f"arn:aws:bedrock:{region}:{account_id}:model-customization-job/*"}}}]}
    s3_actions = ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject", "s3:GetObject", "s3:GetBucketAcl",
                  "s3:GetBucketNotification", "s3:ListBucket", "s3:PutBucketNotification"]
    access = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": s3_actions, "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}
    role_name, policy_name = "BedrockRole-lab-haiku", "BedrockPolicy-lab-haiku"
    role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust),
                               Description="Role for Bedrock to access S3 for haiku finetuning")["Role"]["Arn"]
    policy_arn = iam.create_policy(PolicyName=policy_name, PolicyDocument=json.dumps(access))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
    folder = work / "haiku-fine-tuning-datasets-samsum"
    folder.mkdir()
    uris = {}
    files = {"train": ("train-samsum-1K.jsonl", 0, 40), "validation": ("validation-samsum-100.jsonl", 40, 8),
             "test": ("test-samsum-10.jsonl", 48, 10)}
    for split, (file_name, start, n) in files.items():
        (folder / file_name).write_bytes(jsonl(records("claude-messages", n, start, HAIKU_SYSTEM)))
        key = f"haiku-fine-tuning-datasets/{split}/{file_name}"
        s3.upload_file(str(folder / file_name), bucket, key)
        uris[split] = f"s3://{bucket}/{key}"

    # fine-tuning notebook: the job with the sample's hyperparameters, polled on its status
    job_name, model_name = "model-finetune-job-lab", "finetuned-model-lab"
    bedrock.create_model_customization_job(
        customizationType="FINE_TUNING", jobName=job_name, customModelName=model_name, roleArn=role_arn,
        baseModelIdentifier=HAIKU,
        hyperParameters={"epochCount": "5", "batchSize": "32", "learningRateMultiplier": "1",
                         "earlyStoppingThreshold": "0.001", "earlyStoppingPatience": "2"},
        trainingDataConfig={"s3Uri": uris["train"]},
        validationDataConfig={"validators": [{"s3Uri": uris["validation"]}]},
        outputDataConfig={"s3Uri": f"s3://{bucket}/outputs/output-{model_name}"})
    statuses = [bedrock.get_model_customization_job(jobIdentifier=job_name)["status"]]
    while statuses[-1] == "InProgress":
        time.sleep(poll)
        statuses.append(bedrock.get_model_customization_job(jobIdentifier=job_name)["status"])
    seen["job"] = bedrock.get_model_customization_job(jobIdentifier=job_name)
    seen["output_job_name"] = "model-customization-job-" + seen["job"]["jobArn"].split("/")[-1]
    seen["custom_models"] = [m["modelName"] for m in bedrock.list_custom_models()["modelSummaries"]]
    model_arn = bedrock.get_custom_model(modelIdentifier=model_name)["modelArn"]

    # one no-commitment model unit, polled while Creating, then both models asked the same test record
    pt_arn = bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="test-haiku-ft-model", modelId=model_arn)["provisionedModelArn"]
    seen["pt_statuses"] = [bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)["status"]]
    while seen["pt_statuses"][-1] == "Creating":
        time.sleep(poll)
        seen["pt_statuses"].append(bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)["status"])
    record = json.loads((folder / "test-samsum-10.jsonl").read_text().splitlines()[3])
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 2048,
                       "messages": [{"role": "user", "content": record["messages"][0]["content"]}],
                       "temperature": 0.1, "top_p": 0.9, "system": record["system"]})
    base_arn = f"arn:aws:bedrock:{region}::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
    seen["answers"] = {who: json.loads(runtime_client.invoke_model(body=body, modelId=model_id)["body"].read())
                       ["content"][0]["text"] for who, model_id in [("tuned_model", pt_arn), ("base_model", base_arn)]}
    seen["reference"] = record["messages"][1]["content"]
    bedrock.delete_provisioned_model_throughput(provisionedModelId=pt_arn)
    seen["throughputs_left"] = bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]
    seen["job_statuses"] = statuses
    return seen


def check_haiku_sample_outcome(seen: dict) -> None:
    assert HAIKU in seen["tunable"]
    assert set(seen["job_statuses"][:-1]) <= {"InProgress"} and seen["job_statuses"][-1] == "Completed"
    assert seen["job"]["status"] == "Completed", seen["job"].get("failureMessage")
    assert seen["output_job_name"].startswith("model-customization-job-")
    assert seen["custom_models"] == ["finetuned-model-lab"]
    assert set(seen["pt_statuses"][:-1]) <= {"Creating"} and seen["pt_statuses"][-1] == "InService"
    assert all(isinstance(text, str) and text for text in seen["answers"].values())
    assert seen["reference"].startswith(' {"label": ')
    assert seen["throughputs_left"] == []


# AWS's real notebooks, read from checkouts the lab does not ship (their code stays in their repositories)
AWS_SAMPLES = os.environ.get("AWS_SAMPLES_DIR")
needs_aws_samples = pytest.mark.skipif(
    not AWS_SAMPLES, reason="AWS_SAMPLES_DIR is not set: point it at a checkout of "
                            "github.com/aws-samples/amazon-bedrock-samples to run AWS's own Haiku notebooks")
AWS_WORKSHOP = os.environ.get("AWS_WORKSHOP_DIR")
needs_aws_workshop = pytest.mark.skipif(
    not AWS_WORKSHOP, reason="AWS_WORKSHOP_DIR is not set: point it at a checkout of "
                             "github.com/aws-samples/amazon-bedrock-workshop to run AWS's own Nova notebooks")


def check_sample_account(bedrock) -> None:
    """After the samples: one completed job, its custom model, and no throughput left running."""
    jobs = bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]
    assert [j["status"] for j in jobs] == ["Completed"]
    assert len(bedrock.list_custom_models()["modelSummaries"]) == 1
    assert bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"] == []


@needs_aws_samples
def test_aws_sample_notebooks_run_in_process(account, lab_env):
    work = lab_env / "work"
    work.mkdir()
    results, _ = samples.run_notebooks(samples.resolve_notebooks([AWS_SAMPLES]), work)
    assert [r.line() for r in results if r.status == "failed"] == []
    # every stand-in met its cell: a changed sample shows here, not as a silently different run
    assert {r.cell_id for r in results if r.status == "stand-in"} == set(samples.HAIKU_STAND_INS)
    assert sum(r.status == "ok" for r in results) > len(samples.STAND_INS)
    check_sample_account(boto3.client("bedrock", region_name=samples.REGION))


@pytest.mark.parametrize("checkout, region", [
    pytest.param(AWS_SAMPLES, samples.REGION, id="haiku", marks=needs_aws_samples),
    pytest.param(AWS_WORKSHOP, samples.NOVA_REGION, id="nova", marks=needs_aws_workshop)])
def test_aws_sample_notebooks_run_against_the_offline_aws_command(tmp_path, checkout, region):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAB_AWS"))}
    env.update(LAB_STATE_DIR=str(tmp_path / "state"), LAB_CACHE_DIR=str(tmp_path / "cache"),
               LAB_OFFLINE_TIME_SCALE="0.02", MPLBACKEND="Agg")
    proc = subprocess.Popen([sys.executable, "-m", "helpers", "offline-aws", "--port", "0"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().split(" on ")[1].strip()
        (tmp_path / "work").mkdir()
        done = subprocess.run([sys.executable, "-m", "helpers", "run-aws-sample", checkout,
                               "--workdir", str(tmp_path / "work")], cwd=REPO, capture_output=True, text=True,
                              timeout=300, env={**env, "AWS_ENDPOINT_URL": url})
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.splitlines()[0] == f"offline endpoint: {url} (shared with other processes)"
        assert done.stdout.splitlines()[-1].startswith("OK: ")
        check_sample_account(boto3.client("bedrock", endpoint_url=url, region_name=region,
                                          aws_access_key_id="testing", aws_secret_access_key="testing"))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def follow_nova_sample(work: Path, poll: float = 0.02) -> dict:
    """The boto3 calls of AWS's Amazon Nova fine-tuning sample, in its order, with its parameters and parsing.

    Mirrors the call sequence (not the code) of github.com/aws-samples/amazon-bedrock-workshop,
    03_Model_customization/bedrock-models-fine-tuning/amazon-nova/01_Amazon_Nova_Finetuning_Walkthrough.ipynb at
    commit 9f564b11a0d9d800fa64236ed03d4d148a2471cf and 02_Inference_Amazon_Nova.ipynb at commit
    37d99d4f8ca124d446ab8b03d7b5092c12a7f689. The sample leaves the data, the role and the wait for the job to
    the learner; here they are the lab's clause corpus, a lab role and a poll every `poll` seconds.
    The real notebooks run in test_aws_workshop_nova_notebooks_run_in_process.
    """
    config = Config(region_name="us-east-1", signature_version="v4", retries={"max_attempts": 5, "mode": "standard"})
    bedrock = boto3.client("bedrock", config=config)
    s3 = boto3.client("s3", region_name="us-east-1")
    seen: dict = {}

    # what the learner prepared: the dataset in S3 and a role Bedrock may assume
    bucket = "lab-nova-sample"
    s3.create_bucket(Bucket=bucket)
    train_uri, output_uri = f"s3://{bucket}/data/train.jsonl", f"s3://{bucket}/model_output/nova_lite_lab/"
    s3.put_object(Bucket=bucket, Key="data/train.jsonl", Body=jsonl(samples.nova_train_records()))
    role_arn = Account().role("LabNovaRole")

    # fine-tuning notebook: Nova Lite by foundation-model ARN (with its context variant), no validation set
    job_name = "lab-ft-nova-lite-v1"
    response_ft = bedrock.create_model_customization_job(
        customizationType="FINE_TUNING", jobName=job_name, customModelName=job_name, roleArn=role_arn,
        baseModelIdentifier="arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0:300k",
        hyperParameters={"epochCount": "1", "learningRate": "0.000001", "batchSize": "1"},
        trainingDataConfig={"s3Uri": train_uri}, outputDataConfig={"s3Uri": output_uri})
    job_arn = response_ft.get("jobArn")
    seen["job_statuses"] = [bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"]]
    while seen["job_statuses"][-1] == "InProgress":  # the sample says: wait until the job completes
        time.sleep(poll)
        seen["job_statuses"].append(bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"])

    # provisioned throughput for the custom model, named by its model name; the sample's next cells pass the
    # whole response as provisionedModelId, which botocore refuses before sending
    created = bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="lab_nova_lite",
                                                          modelId=job_name)
    with pytest.raises(ParamValidationError) as info:
        bedrock.get_provisioned_model_throughput(provisionedModelId=created)
    seen["dict_as_id"] = str(info.value)
    pt_arn = created["provisionedModelArn"]
    seen["pt_statuses"] = [bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)["status"]]
    while seen["pt_statuses"][-1] == "Creating":
        time.sleep(poll)
        seen["pt_statuses"].append(bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)["status"])

    # inference notebook: Nova's own invoke_model body, a fresh bedrock-runtime client per call, two threads
    def ask(model_id: str, prompt: str) -> str:
        client = boto3.client(service_name="bedrock-runtime", region_name="us-east-1")
        body = json.dumps({"messages": [{"role": "user", "content": [{"text": prompt}]}],
                           "inferenceConfig": {"max_new_tokens": 1024, "temperature": 0.2 + 0.01}})
        response = client.invoke_model(body=body, modelId=model_id, accept="application/json",
                                       contentType="application/json")
        return json.loads(response.get("body").read())["output"]["message"]["content"][0]["text"]

    from concurrent.futures import ThreadPoolExecutor
    questions = samples.nova_questions()
    with ThreadPoolExecutor(max_workers=2) as pool:
        seen["answers"] = {who: list(pool.map(lambda q, m=model_id: ask(m, q["turns"][0]), questions))
                           for who, model_id in [("base_model", "amazon.nova-lite-v1:0"), ("tuned_model", pt_arn)]}

    # the training-loss plot's input: step_wise_training_metrics.csv under the job's output prefix
    prefix = output_uri[len(f"s3://{bucket}/"):]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    metrics = [k for k in keys if k.endswith("training_artifacts/step_wise_training_metrics.csv")]
    seen["metric_keys"] = metrics
    seen["loss_rows"] = list(csv.DictReader(io.StringIO(
        s3.get_object(Bucket=bucket, Key=metrics[0])["Body"].read().decode()))) if metrics else []

    bedrock.delete_provisioned_model_throughput(provisionedModelId=pt_arn)
    seen["second_delete"] = error_of(lambda: bedrock.delete_provisioned_model_throughput(provisionedModelId=pt_arn))
    seen["throughputs_left"] = bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]
    seen["job_id"] = job_arn.rsplit("/", 1)[-1]
    return seen


def check_nova_sample_outcome(seen: dict) -> None:
    assert set(seen["job_statuses"][:-1]) <= {"InProgress"} and seen["job_statuses"][-1] == "Completed"
    assert "Invalid type for parameter provisionedModelId" in seen["dict_as_id"]
    assert set(seen["pt_statuses"][:-1]) <= {"Creating"} and seen["pt_statuses"][-1] == "InService"
    for answers in seen["answers"].values():
        assert len(answers) == samples.NOVA_QUESTIONS and all(isinstance(a, str) and a for a in answers)
    assert seen["metric_keys"] == [f"model_output/nova_lite_lab/model-customization-job-{seen['job_id']}/"
                                   "training_artifacts/step_wise_training_metrics.csv"]
    assert seen["loss_rows"] and {"step_number", "training_loss"} <= set(seen["loss_rows"][0])
    assert seen["second_delete"][0] == "ResourceNotFoundException"
    assert seen["throughputs_left"] == []


def sample_sequence(name: str):
    """The (follow, check) pair of one AWS sample's call sequence."""
    return {"haiku": (follow_haiku_sample, check_haiku_sample_outcome),
            "nova": (follow_nova_sample, check_nova_sample_outcome)}[name]


@pytest.mark.parametrize("sample", ["haiku", "nova"])
def test_sample_call_sequence_runs_in_process(account, lab_env, sample):
    follow, check = sample_sequence(sample)
    check(follow(lab_env))


@pytest.mark.parametrize("sample", ["haiku", "nova"])
def test_sample_call_sequence_runs_against_the_endpoint(lab_env, monkeypatch, sample):
    follow, check = sample_sequence(sample)
    srv, url = server.serve(0, emulator=Emulator(Store(lab_env / "state")))
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    try:
        check(follow(lab_env))
    finally:
        srv.shutdown()
        srv.moto.stop()


@needs_aws_workshop
def test_aws_workshop_nova_notebooks_run_in_process(account, lab_env):
    work = lab_env / "work"
    work.mkdir()
    paths = samples.resolve_notebooks([AWS_WORKSHOP])
    assert [p.name for p in paths] == [samples.NOVA_FT, samples.NOVA_INFERENCE]
    results, _ = samples.run_notebooks(paths, work)
    assert [r.line() for r in results if r.status == "failed"] == []
    # every stand-in met its cell: a changed sample shows here, not as a silently different run
    assert {samples.stand_in_for(r.notebook, r.cell_id)[0] for r in results
            if r.status != "ok"} == set(samples.NOVA_STAND_INS)
    assert sum(r.status == "ok" for r in results) > len(samples.NOVA_STAND_INS)
    check_sample_account(boto3.client("bedrock", region_name=samples.NOVA_REGION))
    answers = [json.loads(line) for line in
               (work / "dataset" / "model_answer" / "amazon.nova-lite-v1:0_V2.jsonl").read_text().splitlines()]
    assert sorted(a["question_id"] for a in answers) == list(range(1, samples.NOVA_QUESTIONS + 1))
    assert all(a["choices"][0]["turns"][0] for a in answers)
    assert (work / Path(samples.NOVA_LOSS_CSV).parent / "training_loss_epoch5_lr_1e-06.png").stat().st_size > 0


def test_sample_runner_fills_prepares_and_keys_by_notebook(account, tmp_path):
    """Lab-written notebooks under the Nova names: placeholders filled, a per-notebook key, Nova's region."""
    def notebook(name: str, cells: list[tuple[str, str]]) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
            {"cell_type": "code", "id": cid, "metadata": {}, "outputs": [], "execution_count": None, "source": src}
            for cid, src in cells]}))
        return path

    delete = "4341f7e8-e85b-4c88-9f77-11b2afc463de"
    first = notebook(samples.NOVA_FT, [
        ("4ae02645", "role_name = # Replace with your role name\nrole_arn = # Replace\nwho = role_name"),
        ("region", "import os, shortuuid\nregion, short = os.environ['AWS_DEFAULT_REGION'], shortuuid.uuid()"),
        (delete, "deleted = ['first']")])
    second = notebook(samples.NOVA_INFERENCE, [(delete, "deleted.append('second')")])
    results, namespace = samples.run_notebooks([first, second], tmp_path)
    assert [(r.notebook, r.status) for r in results] == [(samples.NOVA_FT, "filled"), (samples.NOVA_FT, "ok"),
                                                         (samples.NOVA_FT, "ok"), (samples.NOVA_INFERENCE, "stand-in")]
    assert namespace["who"] == namespace["role_name"] and namespace["role_arn"].endswith(":role/" + namespace["who"])
    assert namespace["region"] == samples.NOVA_REGION and len(namespace["short"]) == 22
    assert namespace["deleted"] == ["first"]
    # the stand-in shortuuid is gone after the run (unless the real one is installed)
    assert "shortuuid" not in sys.modules or importlib.util.find_spec("shortuuid") is not None


def test_resolve_notebooks_knows_both_checkouts(tmp_path):
    for family in samples.FAMILIES:
        root = tmp_path / family.repository.split("/")[1]
        for rel in family.notebooks:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text("{}")
        paths = samples.resolve_notebooks([str(root)])
        assert paths == [root / rel for rel in family.notebooks]
        assert samples.family_of(paths) is family
    with pytest.raises(FileNotFoundError, match="not a checkout of a known sample family"):
        samples.resolve_notebooks([str(tmp_path)])


def test_sample_runner_stands_in_by_cell_id_and_stops_at_a_failure(tmp_path):
    """The runner on a notebook of the lab's own: shell lines run, stood-in ids skip, an unknown magic fails."""
    cells = [("first", "x = 1\nprint('x is', x)"), ("shell", "!echo from-the-shell"),
             ("64d6535c", "%store -r x"), ("magic", "%timeit x"), ("after", "y = 2")]
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": ["# mine"]}] + [
        {"cell_type": "code", "id": cid, "metadata": {}, "outputs": [], "execution_count": None, "source": src}
        for cid, src in cells]}
    path = tmp_path / "mine.ipynb"
    path.write_text(json.dumps(notebook))
    results, namespace = samples.run_notebooks([path], tmp_path)
    assert [(r.cell_id, r.status) for r in results] == [("first", "ok"), ("shell", "ok"), ("64d6535c", "stand-in"),
                                                        ("magic", "failed")]
    assert results[0].output == "x is 1\n" and results[1].output == "from-the-shell\n"
    assert results[2].detail == samples.STAND_INS["64d6535c"].reason
    assert results[3].detail.startswith("StandInUsed: %timeit x: this magic has no offline stand-in")
    assert namespace["x"] == 1 and "y" not in namespace
    assert time.sleep.__module__ == "time"  # the fast sleep is gone after the run


# ------------------------------------------------------------------------------------------ wiring
def test_activate_offline_installs_the_emulator(tmp_path):
    code = ("import boto3\nfrom helpers import aws\naws.activate()\n"
            "print(len(boto3.client('bedrock').list_foundation_models()['modelSummaries']) > 10)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAB_"))}
    env["LAB_STATE_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "True"


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
