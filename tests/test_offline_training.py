"""helpers.offline.training: what a customization job does offline: its hyperparameters, its data check (the
same rules as check-data, AWS's failure wording), stopping, continued pre-training, any text."""
from __future__ import annotations

import json

import pytest
from botocore.exceptions import ParamValidationError

from helpers import corpus, local_model, offline
from helpers.offline import runtime, training

from offline_support import NOVA, TITAN, error_of, jsonl, nova_data, records, wait


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


def test_wrong_data_format_fails_the_job_naming_the_line(account, monkeypatch):
    monkeypatch.setenv("LAB_OFFLINE_TIME_SCALE", "0.5")  # the data check takes a moment, as on Bedrock
    rows = records("bedrock-conversation-2024", 12)
    rows[2] = {"prompt": "a prompt/completion record", "completion": "in a Nova file"}
    bucket = account.bucket("lab-bad-format", {"train.jsonl": jsonl(rows)})
    arn = account.job(bucket, validation=None)
    assert account.bedrock.get_model_customization_job(jobIdentifier=arn)["status"] == "InProgress"
    job = wait(account, arn)
    assert job["status"] == "Failed"
    # AWS's wording (amazon-bedrock-workshop issue 266): the key and the shape, no line, no advice
    assert job["failureMessage"] == ("Input data at train.jsonl must follow '"
                                     + training.RECORD_SHAPES["bedrock-conversation-2024"] + "' format")
    assert {k: v["status"] for k, v in job["statusDetails"].items()} == {
        "validationDetails": "Failed", "dataProcessingDetails": "NotStarted", "trainingDetails": "NotStarted"}
    assert "outputModelArn" not in job and account.bedrock.list_custom_models()["modelSummaries"] == []


def test_nova_reserved_words_fail_the_job(account):
    rows = records("bedrock-conversation-2024", 10)
    rows[4]["messages"][0]["content"][0]["text"] = "User: what is this clause? Assistant:"
    bucket = account.bucket("lab-reserved", {"train.jsonl": jsonl(rows)})
    job = wait(account, account.job(bucket, validation=None))
    assert job["status"] == "Failed"
    assert job["failureMessage"].startswith(f"Input data at train.jsonl does not meet the data limits of {NOVA}: "
                                            "reserved keywords make the job fail")


def test_nova_lite_takes_image_records_and_micro_fails_on_them(account):
    image = {"image": {"format": "png", "source": {"s3Location": {"uri": "s3://lab-images/scans/p1.png"}}}}
    rows = records("bedrock-conversation-2024", 10)
    for row in rows:
        row["messages"][0]["content"].append(image)
        del row["schemaVersion"]  # optional, as AWS's Nova validator has it
    bucket = account.bucket("lab-images", {"train.jsonl": jsonl(rows)})
    lite = wait(account, account.job(bucket, validation=None, model="amazon.nova-lite-v1:0:300k", name="lite-images"))
    assert lite["status"] == "Completed", lite.get("failureMessage")
    micro = wait(account, account.job(bucket, validation=None, name="micro-images"))
    assert micro["status"] == "Failed" and micro["failureMessage"].startswith("Input data at train.jsonl must follow")


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


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_a_job_that_ends_ends_every_phase_still_in_progress(status):
    job = {"status": "InProgress", "phases": {"validation": {"status": "Completed", "start": 1.0, "end": 2.0},
                                              "dataProcessing": {"status": "Completed", "start": 2.0, "end": 3.0},
                                              "training": {"status": "InProgress", "start": 3.0, "end": None}}}
    training.end_job(job, status, 9.0, "Internal error" if status == "Failed" else None)
    assert {name: p["status"] for name, p in job["phases"].items()} == {
        "validation": "Completed", "dataProcessing": "Completed", "training": status}
    assert job["phases"]["training"]["end"] == job["endTime"] == 9.0 and job["status"] == status
    assert ("failureMessage" in job) is (status == "Failed")
