"""helpers.offline.service: the control plane through real boto3 calls, answered like Bedrock (validation
messages, conflicts, the whole job -> model -> throughput -> teardown flow), and what it does not emulate."""
from __future__ import annotations

import csv
import io
import json

import pytest
from botocore.exceptions import ClientError

from helpers import aws, corpus, formats, local_model
from helpers.offline.service import RESTART_NOTE
from helpers.offline.state import Store

from offline_support import NOVA, HAIKU, Account, clause_rows, error_of, nova_data, wait


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


def test_what_the_lab_does_not_emulate_is_said_in_the_labs_voice_as_a_modelled_error(account):
    from helpers.offline.wire import LAB_VOICE, NOT_EMULATED
    # GetInferenceProfile models ValidationException: the client raises its own class for it
    with pytest.raises(account.bedrock.exceptions.ValidationException) as info:
        account.bedrock.get_inference_profile(inferenceProfileIdentifier="us.amazon.nova-micro-v1:0")
    assert info.value.response["Error"]["Message"].startswith(LAB_VOICE)
    # GetModelInvocationLoggingConfiguration models no ValidationException: a plain ClientError, as botocore
    # raises for a code the operation does not model
    with pytest.raises(ClientError) as info:
        account.bedrock.get_model_invocation_logging_configuration()
    modelled = tuple(getattr(account.bedrock.exceptions, e) for e in ("AccessDeniedException",
                                                                     "InternalServerException", "ThrottlingException"))
    assert not isinstance(info.value, modelled)
    assert info.value.response["Error"]["Code"] == NOT_EMULATED
    assert info.value.response["Error"]["Message"].startswith(LAB_VOICE)
    # an option of an emulated operation
    bucket = account.bucket("lab-not-emulated", nova_data())
    with pytest.raises(account.bedrock.exceptions.ValidationException, match=r"\[offline lab, not an AWS message\] "
                                                                             "customizationConfig"):
        account.job(bucket, customizationConfig={"distillationConfig": {"teacherModelConfig": {
            "teacherModelIdentifier": "amazon.nova-pro-v1:0", "maxResponseLengthForInference": 1000}}})
