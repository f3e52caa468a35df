"""The AWS sample runner (helpers/aws_samples/): the runner on notebooks of the lab's own, where it finds the
samples, the English records standing in for their downloads, the call sequences of AWS's Claude 3 Haiku and Nova
Micro samples in the lab's own code (always), and AWS's own notebooks when AWS_SAMPLES_DIR / AWS_WORKSHOP_DIR
point to checkouts of aws-samples/amazon-bedrock-samples / aws-samples/amazon-bedrock-workshop."""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

import helpers.aws_samples as aws_samples
from helpers import catalog
from helpers.aws_samples import english, families, runner
from helpers.offline import server
from helpers.offline.service import Emulator
from helpers.offline.state import Store
from offline_support import REPO, jsonl, offline_aws_command, offline_child_env

HAIKU = families.FAMILIES[0]
NOVA_MICRO = families.FAMILIES[1]


# ------------------------------------------------------------------------------------------ the runner
def write_notebook(path: Path, cells: list[tuple[str | None, str]]) -> Path:
    """A notebook of code cells (id, source); an id of None leaves the cell without one, as older notebooks do."""
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": ["# mine"]}] + [
        {"cell_type": "code", **({"id": cid} if cid else {}), "metadata": {}, "outputs": [], "execution_count": None,
         "source": src} for cid, src in cells]}))
    return path


def test_runner_stands_in_by_cell_id_and_stops_at_a_failure(tmp_path):
    """Shell lines run with the notebook's variables, a stood-in id is skipped, an unknown magic fails the run."""
    path = write_notebook(tmp_path / "mine.ipynb", [
        ("first", "x = 1\nprint('x is', x)"), ("shell", "folder = 'made'\n!mkdir $folder && echo {x + 1}"),
        ("store", "%store -r x"), ("magic", "%timeit x"), ("after", "y = 2")])
    stand_ins = {"store": runner.StandIn("carried in one namespace", "%store")}
    results, namespace = runner.run_notebooks([path], tmp_path, region="us-east-1", stand_ins=stand_ins)
    assert [(r.cell_id, r.status) for r in results] == [("first", "ok"), ("shell", "ok"), ("store", "stand-in"),
                                                        ("magic", "failed")]
    assert results[0].output == "x is 1\n" and results[1].output == "2\n" and (tmp_path / "made").is_dir()
    assert results[2].line() == "mine.ipynb store stand-in: carried in one namespace"
    assert results[3].detail.startswith("StandInUsed: %timeit x: this magic has no offline stand-in")
    assert namespace["x"] == 1 and "y" not in namespace
    assert time.sleep.__module__ == "time"  # the fast sleep is gone after the run


def test_runner_prepares_checks_markers_and_keys_by_notebook(tmp_path):
    """'before' runs the action then the cell; ids without cells are positions; a changed cell fails the run."""
    first = write_notebook(tmp_path / "a.ipynb", [(None, "import os\nregion = os.environ['AWS_DEFAULT_REGION']"),
                                                  (None, "print(prepared + 1)")])
    second = write_notebook(tmp_path / "b.ipynb", [(None, "changed = True")])
    stand_ins = {"a.ipynb#cell-2": runner.StandIn("needs a value", "prepared",
                                                  lambda ns: ns.update(prepared=41), "before"),
                 "b.ipynb#cell-1": runner.StandIn("stands in for a download", "load_dataset(")}
    results, namespace = runner.run_notebooks([first, second], tmp_path, region="us-west-2", stand_ins=stand_ins)
    assert [(r.notebook, r.cell_id, r.status) for r in results] == [
        ("a.ipynb", "cell-1", "ok"), ("a.ipynb", "cell-2", "prepared"), ("b.ipynb", "cell-1", "failed")]
    assert results[1].output == "42\n" and namespace["region"] == "us-west-2"
    assert "expects a cell with 'load_dataset('; the sample has changed" in results[2].detail
    assert "changed" not in namespace


def test_module_stand_ins_write_jsonl_refuse_downloads_and_go_away(tmp_path):
    path = write_notebook(tmp_path / "mods.ipynb", [
        ("write", "import jsonlines\nwith jsonlines.open('out.jsonl', 'w') as w:\n    w.write({'a': 'é'})\n"
                  "    w.write({'b': 2})"),
        ("download", "from datasets import load_dataset\nload_dataset('knkarthick/samsum')")])
    reported = []
    results, _ = runner.run_notebooks([path], tmp_path, region="us-east-1", stand_ins={}, modules=families.MODULES,
                                      report_module=reported.append)
    assert [r.status for r in results] == ["ok", "failed"]
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8") == '{"a": "é"}\n{"b": 2}\n'
    assert "datasets.load_dataset is only used by stood-in cells" in results[1].detail
    # reported: exactly the modules this environment lacks
    assert {m.name for m in reported} == {m.name for m in families.MODULES if importlib.util.find_spec(m.name) is None}
    for name in ("jsonlines", "datasets"):  # gone after the run, unless really installed
        assert name not in sys.modules or importlib.util.find_spec(name) is not None


# ------------------------------------------------------------------------------------------ where the samples are
def fake_checkout(root: Path, repository: str) -> Path:
    for family in families.FAMILIES:
        for name in family.notebooks:
            path = root / family.folders[repository] / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("{}")
    return root


@pytest.mark.parametrize("repository", sorted(HAIKU.folders))
def test_checkouts_of_both_repositories_give_both_pairs(tmp_path, repository):
    root = fake_checkout(tmp_path / repository.split("/")[1], repository)
    found = aws_samples.resolve([str(root)])
    assert [(f.key, paths) for f, paths in found] == [
        (f.key, [root / f.folders[repository] / n for n in f.notebooks]) for f in families.FAMILIES]


def test_unknown_layouts_and_notebooks_say_what_was_looked_for(tmp_path, capsys):
    (tmp_path / "03_Model_customization" / "bedrock-models-fine-tuning" / "amazon-nova").mkdir(parents=True)
    assert aws_samples.main([str(tmp_path)]) == 2
    message = capsys.readouterr().err
    for family in families.FAMILIES:
        for repository, folder in family.folders.items():
            assert f"{repository}: {folder}/{{{', '.join(family.notebooks)}}}" in message
    other = write_notebook(tmp_path / "other.ipynb", [("x", "x = 1")])
    with pytest.raises(FileNotFoundError, match="other.ipynb: not notebooks of one sample pair the lab knows"):
        aws_samples.resolve([str(other)])
    nova = [write_notebook(tmp_path / n, []) for n in NOVA_MICRO.notebooks]
    assert aws_samples.resolve([str(p) for p in nova]) == [(NOVA_MICRO, nova)]


def test_run_aws_sample_command_prints_a_line_per_cell_and_per_notebook(tmp_path):
    """The command on a checkout-shaped folder of the lab's own notebooks under the Nova Micro names."""
    root = tmp_path / "checkout"
    folder = root / NOVA_MICRO.folders["aws-samples/amazon-bedrock-samples"]
    folder.mkdir(parents=True)
    write_notebook(folder / NOVA_MICRO.notebooks[0], [(None, "a = 1"), (None, "print(a)"), (None, "!pip install x")])
    write_notebook(folder / NOVA_MICRO.notebooks[1], [(None, "b = a + 1")])
    done = subprocess.run([sys.executable, "-m", "helpers", "run-aws-sample", str(root), "--family", "nova-micro",
                           "--workdir", str(tmp_path / "work"), "--show-output"], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env=offline_child_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    # after the mode banner; module stand-ins are reported only where the module is missing
    lines = [line for line in done.stdout.splitlines() if not line.startswith(("AWS mode: ", "module "))]
    setup, tune = NOVA_MICRO.notebooks
    assert lines == [
        f"== {NOVA_MICRO.name}: {setup}, {tune} in us-east-1",
        f"{setup} cell-1 ok", f"{setup} cell-2 ok", "    1",
        f"{setup} cell-3 stand-in: {NOVA_MICRO.stand_ins[f'{setup}#cell-3'].reason}",
        f"{tune} cell-1 ok",
        f"{setup}: 2 ran unmodified (0 after a prerequisite), 1 stood in",
        f"{tune}: 1 ran unmodified (0 after a prerequisite), 0 stood in",
        "OK: 3 ran unmodified (0 after a prerequisite), 1 stood in"]


# ------------------------------------------------------------------------------------------ the English records
def test_english_records_are_seeded_and_shaped_like_the_downloads():
    assert english.dialogues(5, seed=3) == english.dialogues(5, seed=3) != english.dialogues(5, seed=4)
    for row in english.dialogues(30):
        assert set(row) == {"id", "dialogue", "summary"}
        speakers = {line.split(":")[0] for line in row["dialogue"].split("\r\n")}
        assert len(speakers) == 2 and all(name in row["summary"] for name in speakers)
    for row in english.news_articles(30):
        assert set(row) == {"article", "highlights", "id"} and len(row["id"]) == 40
        assert row["article"][:1] == "(" and len(row["highlights"].split("\n")) == 2
    ticket = english.support_tickets(1, seed=5)[0]
    order = ticket["ticket"].split("order ")[1][:6]
    assert order in ticket["reply"] and ticket["category"] in ("Shipping", "Billing", "Returns")
    notes = english.meeting_notes(1)[0]
    assert notes["notes"].splitlines()[0].startswith("Attendees: ")
    dataset = english.stand_in_dataset("knkarthick/samsum")
    assert {k: len(v) for k, v in dataset.items()} == {"train": 40, "validation": 8, "test": 10}
    assert "features: ['id', 'dialogue', 'summary'],\n        num_rows: 40" in repr(dataset)
    with pytest.raises(KeyError, match="no stand-in for dataset 'squad'"):
        english.stand_in_dataset("squad")


# ------------------------------------------------------------------------------------------ the call sequences
def poll(get, status_key: str, waiting: str, every: float) -> list[str]:
    statuses = [get()[status_key]]
    while statuses[-1] == waiting:
        time.sleep(every)
        statuses.append(get()[status_key])
    return statuses


def sample_role(session, region: str, account_id: str, bucket: str, name: str) -> str:
    """The samples' role: trust scoped to the account's customization jobs, S3 access to the bucket attached."""
    iam = session.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}, "ArnEquals": {
            "aws:SourceArn": f"arn:aws:bedrock:{region}:{account_id}:model-customization-job/*"}}}]}
    s3_actions = ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject", "s3:GetObject", "s3:GetBucketAcl",
                  "s3:GetBucketNotification", "s3:ListBucket", "s3:PutBucketNotification"]
    access = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": s3_actions, "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}
    role_arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                               Description="Role for Bedrock to access S3 for finetuning")["Role"]["Arn"]
    policy_arn = iam.create_policy(PolicyName=name + "Policy", PolicyDocument=json.dumps(access))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return role_arn


def follow_haiku_sample(work: Path) -> dict:
    """The boto3 calls of AWS's Claude 3 Haiku fine-tuning pair, in its order, with its parameters and parsing.

    Mirrors the call sequence (not the code) of amazon-bedrock-samples
    custom-models/bedrock-fine-tuning/claude-haiku/00_Setup_and_DataPrep_Haiku.ipynb and
    01_Claude_Haiku_Fine_Tuning.ipynb at commit 85fba9d. The data are the lab's English dialogues with a system
    prompt and instruction in the lab's words, shaped as the sample shapes samsum. Since Claude 3 Haiku's end of
    life in us-west-2 the sequence stops where the job is created. The real notebooks run in
    test_aws_sample_pair_runs_in_process.
    """
    session = boto3.session.Session(region_name=families.HAIKU_REGION)
    region = session.region_name
    account_id = session.client("sts").get_caller_identity()["Account"]
    s3, bedrock = session.client("s3"), session.client("bedrock")
    seen: dict = {"tunable": [m["modelId"] for m in
                              bedrock.list_foundation_models(byCustomizationType="FINE_TUNING")["modelSummaries"]]}
    bucket = f"bedrock-haiku-customization-{region}-{account_id}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    role_arn = sample_role(session, region, account_id, bucket, "BedrockRole-lab-haiku")

    system = "You are an assistant that completes the task below using the input that follows it."
    instruction = "instruction:\n\nWrite a one-sentence summary of this chat.\n\ninput:\n"
    folder = work / "haiku-fine-tuning-datasets-samsum"
    folder.mkdir()
    uris = {}
    for split, file_name in [("train", "train-samsum-1K.jsonl"), ("validation", "validation-samsum-100.jsonl"),
                             ("test", "test-samsum-10.jsonl")]:
        rows = [{"system": system, "messages": [{"role": "user", "content": instruction + dp["dialogue"]},
                                                {"role": "assistant", "content": dp["summary"]}]}
                for dp in english.stand_in_dataset("knkarthick/samsum")[split]]
        (folder / file_name).write_bytes(jsonl(rows))
        key = f"haiku-fine-tuning-datasets/{split}/{file_name}"
        s3.upload_file(str(folder / file_name), bucket, key)
        uris[split] = f"s3://{bucket}/{key}"

    job_name, model_name = "model-finetune-job-lab", "finetuned-model-lab"
    try:
        bedrock.create_model_customization_job(
            customizationType="FINE_TUNING", jobName=job_name, customModelName=model_name, roleArn=role_arn,
            baseModelIdentifier="anthropic.claude-3-haiku-20240307-v1:0:200k",
            hyperParameters={"epochCount": "5", "batchSize": "32", "learningRateMultiplier": "1",
                             "earlyStoppingThreshold": "0.001", "earlyStoppingPatience": "2"},
            trainingDataConfig={"s3Uri": uris["train"]},
            validationDataConfig={"validators": [{"s3Uri": uris["validation"]}]},
            outputDataConfig={"s3Uri": f"s3://{bucket}/outputs/output-{model_name}"})
    except ClientError as err:  # Claude 3 Haiku reached end of life here on 2026-09-10
        seen["create_job"] = (err.response["Error"]["Code"], err.response["Error"]["Message"])
    seen["jobs"] = bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]
    return seen


def check_haiku_sample_outcome(seen: dict) -> None:
    """The pair meets Bedrock's end-of-life answer where it creates its job, as a live account in us-west-2 does."""
    assert "anthropic.claude-3-haiku-20240307-v1:0:200k" not in seen["tunable"]
    assert seen["create_job"] == ("ResourceNotFoundException", catalog.EOL_MESSAGE)
    assert seen["jobs"] == []


def follow_nova_micro_sample(work: Path, every: float = 0.02) -> dict:
    """The boto3 calls of AWS's Nova Micro fine-tuning pair with on-demand deployment, in order, with its parameters.

    Mirrors the call sequence (not the code) of amazon-bedrock-samples custom-models/on_demand_inference/
    01_setup_nova_micro.ipynb and 02_fine-tune_nova_micro_with_on_demand_inference.ipynb at commit 85fba9d: set-up,
    job, metrics download, deployment, then Converse, ConverseStream, InvokeModel and its stream on the deployment.
    The data are the lab's English news articles shaped as the sample shapes cnn_dailymail, with a system prompt
    and instruction in the lab's words; the question is longer than the local model's context, as the sample's is.
    The real notebooks run in test_aws_sample_pair_runs_in_process.
    """
    region = families.NOVA_MICRO_REGION
    session = boto3.session.Session(region_name=region)
    account_id = session.client("sts").get_caller_identity()["Account"]
    s3, bedrock = session.client("s3"), session.client("bedrock")
    brt = boto3.client(service_name="bedrock-runtime", region_name=region)
    seen: dict = {}
    bucket = f"bedrock-customization-{region}-{account_id}"
    s3.create_bucket(Bucket=bucket)
    role_arn = sample_role(session, region, account_id, bucket, "AmazonBedrockCustomizationRoleLab")

    system = [{"text": "You write the highlights of news articles, accurately and briefly."}]

    def to_nova(dp: dict) -> dict:
        return {"schemaVersion": "bedrock-conversation-2024", "system": system, "messages": [
            {"role": "user", "content": [{"text": f"Write the highlights of this article:\n\n{dp['article']}"}]},
            {"role": "assistant", "content": [{"text": dp["highlights"]}]}]}

    uris = {}
    for split in ("train", "validation", "test"):
        rows = [to_nova(dp) for dp in english.stand_in_dataset("cnn_dailymail")[split]]
        rows = [r for r in rows if len(r["system"][0]["text"]) + sum(
            len(m["content"][0]["text"]) for m in r["messages"]) <= 3000]  # the sample's length filter
        path = work / f"{split}-news-nova-micro.jsonl"
        path.write_bytes(jsonl(rows))
        key = f"fine-tuning-datasets/{split}/{path.name}"
        s3.upload_file(str(path), bucket, key)
        uris[split] = f"s3://{bucket}/{key}"

    custom_model_name = "amazon-nova-micro-custom-model-lab"
    bedrock.create_model_customization_job(
        customizationType="FINE_TUNING", jobName="amazon-nova-micro-custom-job-lab", customModelName=custom_model_name,
        roleArn=role_arn, baseModelIdentifier="amazon.nova-micro-v1:0:128k",
        hyperParameters={"epochCount": "2", "batchSize": "1", "learningRate": "0.00005"},
        trainingDataConfig={"s3Uri": uris["train"]},
        validationDataConfig={"validators": [{"s3Uri": uris["validation"]}]},
        outputDataConfig={"s3Uri": f"s3://{bucket}/outputs/output-{custom_model_name}"})
    seen["job_statuses"] = poll(lambda: bedrock.get_model_customization_job(
        jobIdentifier="amazon-nova-micro-custom-job-lab"), "status", "InProgress", every)
    seen["custom_models"] = [m["modelName"] for m in bedrock.list_custom_models()["modelSummaries"]]
    custom = bedrock.get_custom_model(modelIdentifier=custom_model_name)
    output_job_name = "model-customization-job-" + custom["jobArn"].split("/")[-1]

    # the metrics: the documented keys hold them; the sample's extra `validation/` level does not exist
    prefix = f"outputs/output-{custom_model_name}/{output_job_name}/"
    train_csv = work / "train_metrics.csv"
    s3.download_file(bucket, prefix + "training_artifacts/step_wise_training_metrics.csv", str(train_csv))
    seen["train_rows"] = list(csv.DictReader(io.StringIO(train_csv.read_text())))
    seen["validation_rows"] = list(csv.DictReader(io.StringIO(s3.get_object(
        Bucket=bucket, Key=prefix + "validation_artifacts/post_fine_tuning_validation/validation_metrics.csv")
        ["Body"].read().decode())))
    with pytest.raises(ClientError) as info:
        s3.download_file(bucket, prefix + "validation_artifacts/post_fine_tuning_validation/validation/"
                         "validation_metrics.csv", str(work / "validation_metrics.csv"))
    seen["extra_level_error"] = info.value.response["Error"]["Code"]

    deployed_model_id = bedrock.create_custom_model_deployment(
        modelDeploymentName="lab-nova-micro-deployment", modelArn=custom["modelArn"],
        description="on-demand custom model deployment", tags=[{"key": "key", "value": "value"}]
    )["customModelDeploymentArn"]
    seen["deployment_statuses"] = poll(lambda: bedrock.get_custom_model_deployment(
        customModelDeploymentIdentifier=deployed_model_id), "status", "Creating", every)
    summary = bedrock.list_custom_model_deployments()["modelDeploymentSummaries"][0]
    seen["summary_fields"] = {k for k in ("customModelDeploymentName", "customModelDeploymentArn", "status",
                                          "modelArn", "createdAt", "lastUpdatedAt") if k in summary}

    article = " ".join(dp["article"] for dp in english.news_articles(12, seed=9))  # longer than the local context
    messages = [{"role": "user", "content": [{"text": f"Write the highlights of this article:\n\n{article}"}]}]
    reply = brt.converse(modelId=deployed_model_id, system=system, messages=messages)
    seen["converse"] = reply["output"]["message"]["content"][0]["text"]
    seen["converse_usage"] = reply["usage"]
    seen["converse_stream"] = "".join(chunk["contentBlockDelta"]["delta"]["text"] for chunk in brt.converse_stream(
        modelId=deployed_model_id, system=system, messages=messages)["stream"] if "contentBlockDelta" in chunk)
    request_body = {"schemaVersion": "messages-v1", "messages": messages, "system": system,
                    "inferenceConfig": {"maxTokens": 500, "topP": 0.9, "topK": 20, "temperature": 0.7}}
    response = brt.invoke_model(modelId=deployed_model_id, body=json.dumps(request_body))
    seen["invoke"] = json.loads(response["body"].read())["output"]["message"]["content"][0]["text"]
    stream = brt.invoke_model_with_response_stream(modelId=deployed_model_id, body=json.dumps(request_body))["body"]
    chunks = [json.loads(event["chunk"]["bytes"].decode()) for event in stream if "chunk" in event]
    seen["invoke_stream"] = "".join(c["contentBlockDelta"]["delta"]["text"] for c in chunks if "contentBlockDelta" in c)
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=deployed_model_id)
    seen["deployments_left"] = bedrock.list_custom_model_deployments()["modelDeploymentSummaries"]
    return seen


def check_nova_micro_sample_outcome(seen: dict) -> None:
    assert set(seen["job_statuses"][:-1]) <= {"InProgress"} and seen["job_statuses"][-1] == "Completed"
    assert seen["custom_models"] == ["amazon-nova-micro-custom-model-lab"]
    assert seen["train_rows"] and {"step_number", "epoch_number", "training_loss"} <= set(seen["train_rows"][0])
    assert seen["validation_rows"] and "validation_loss" in seen["validation_rows"][0]
    assert seen["extra_level_error"] == "404"
    assert set(seen["deployment_statuses"][:-1]) <= {"Creating"} and seen["deployment_statuses"][-1] == "Active"
    assert len(seen["summary_fields"]) == 6
    for key in ("converse", "converse_stream", "invoke", "invoke_stream"):
        assert isinstance(seen[key], str) and seen[key].strip(), key
    assert seen["converse"] == seen["converse_stream"]  # one reply, whole or streamed
    assert seen["converse_usage"]["inputTokens"] > 0
    assert seen["deployments_left"] == []


SEQUENCES = {"haiku": (follow_haiku_sample, check_haiku_sample_outcome),
             "nova-micro": (follow_nova_micro_sample, check_nova_micro_sample_outcome)}


@pytest.mark.parametrize("sample", sorted(SEQUENCES))
def test_sample_call_sequence_runs_in_process(account, lab_env, sample):
    follow, check = SEQUENCES[sample]
    check(follow(lab_env))


@pytest.mark.parametrize("sample", sorted(SEQUENCES))
def test_sample_call_sequence_runs_against_the_endpoint(lab_env, monkeypatch, sample):
    follow, check = SEQUENCES[sample]
    srv, url = server.serve(0, emulator=Emulator(Store(lab_env / "state")))
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    try:
        check(follow(lab_env))
    finally:
        srv.shutdown()
        srv.moto.stop()


# ------------------------------------------------------------------------------------------ AWS's own notebooks
# read from checkouts the lab does not ship (their code stays in their repositories)
CHECKOUTS = {"AWS_SAMPLES_DIR": "aws-samples/amazon-bedrock-samples",
             "AWS_WORKSHOP_DIR": "aws-samples/amazon-bedrock-workshop"}


def checkout_params(with_family: bool) -> list:
    params = []
    for variable, repository in CHECKOUTS.items():
        mark = pytest.mark.skipif(not os.environ.get(variable), reason=f"{variable} is not set: point it at a "
                                  f"checkout of github.com/{repository} to run AWS's own notebooks")
        for family in (families.FAMILIES if with_family else [None]):
            params.append(pytest.param(os.environ.get(variable), family, marks=mark,
                                       id=f"{variable}-{family.key}" if family else variable))
    return params


# where a pair meets Bedrock's end-of-life answer for its model today (the cell creating its customization job)
ENDS = {"haiku": ("01_Claude_Haiku_Fine_Tuning.ipynb", "6a9ec356")}


def check_sample_account(family: families.SampleFamily, bedrock) -> None:
    """After a pair: one completed job (none for a pair that met its model's end of life), its custom model, and
    no throughput or deployment left running."""
    jobs = bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]
    assert [j["status"] for j in jobs] == ([] if family.key in ENDS else ["Completed"])
    assert len(bedrock.list_custom_models()["modelSummaries"]) == (0 if family.key in ENDS else 1)
    assert bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"] == []
    assert bedrock.list_custom_model_deployments()["modelDeploymentSummaries"] == []


# the cells whose output is a model's answer, and what the sample prints before it
ANSWER_CELLS = {"nova-micro": [(NOVA_MICRO.notebooks[1], f"cell-{n}", text) for n, text in
                               [(33, "Request ID:"), (37, "Request ID:"), (39, "Total chunks:")]]}


@pytest.mark.parametrize("checkout, family", checkout_params(with_family=True))
def test_aws_sample_pair_runs_in_process(account, lab_env, checkout, family):
    work = lab_env / "work"
    work.mkdir()
    [(found, paths)] = [(f, p) for f, p in aws_samples.resolve([checkout]) if f is family]
    results, _ = runner.run_notebooks(paths, work, region=family.region, stand_ins=family.stand_ins,
                                      modules=families.MODULES)
    check_sample_account(family, boto3.client("bedrock", region_name=family.region))
    if family.key in ENDS:  # runs as published up to the cell Bedrock answers with the end of life
        ended = aws_samples.end_of_life(results)
        assert ended is not None and (ended.notebook, ended.cell_id) == ENDS[family.key], results[-1].line()
        assert ended is results[-1] and [r for r in results if r.status == "failed"] == [ended]
        assert sum(r.status == "ok" for r in results) > 2 * len(family.stand_ins)
        return
    assert [r.line() for r in results if r.status == "failed"] == []
    # every stand-in met its cell: a changed sample shows here, not as a silently different run
    assert {runner.stand_in_for(family.stand_ins, r.notebook, r.cell_id)[0] for r in results
            if r.status != "ok"} == set(family.stand_ins)
    assert sum(r.status == "ok" for r in results) > 2 * len(family.stand_ins)
    outputs = {(r.notebook, r.cell_id): r.output for r in results}
    for notebook, cell_id, text in ANSWER_CELLS[family.key]:  # the samples catch errors and print them: none here
        assert text in outputs[notebook, cell_id] and "Error:" not in outputs[notebook, cell_id]


@pytest.mark.parametrize("checkout, family", checkout_params(with_family=False))
def test_aws_sample_pairs_run_against_the_offline_aws_command(tmp_path, checkout, family):
    env = {**offline_child_env(tmp_path), "MPLBACKEND": "Agg"}
    with offline_aws_command(env) as url:
        done = subprocess.run([sys.executable, "-m", "helpers", "run-aws-sample", checkout,
                               "--workdir", str(tmp_path / "work")], cwd=REPO, capture_output=True, text=True,
                              timeout=600, env={**env, "AWS_ENDPOINT_URL": url})
        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        assert lines[0] == f"offline endpoint: {url} (shared with other processes)"
        assert [line.split(":")[0] for line in lines if line.startswith(("OK: ", "FAILED: ", "ENDED: "))] == [
            "ENDED" if f.key in ENDS else "OK" for f in families.FAMILIES]
        for f in families.FAMILIES:
            check_sample_account(f, boto3.client("bedrock", endpoint_url=url, region_name=f.region,
                                                 aws_access_key_id="testing", aws_secret_access_key="testing"))
