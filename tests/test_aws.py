"""helpers.aws: the mode switch (offline by default, live only when asked for, decided once per process) and the
guard rails around billable calls (price and a yes first, waiting, the lab's advice apart from AWS's answer,
teardown)."""
import os
import subprocess
import sys

import pytest

from helpers import aws
from offline_support import NOVA, REPO, jsonl, nova_data, records, wait


def test_offline_is_the_default():
    assert aws.choose_mode(None, {}) == "offline"


def test_credentials_never_choose_live():
    environ = {"AWS_ACCESS_KEY_ID": "AKIAXXXXXXXXXXXXXXXX", "AWS_SECRET_ACCESS_KEY": "x", "AWS_PROFILE": "work"}
    assert aws.choose_mode(None, environ) == "offline"


def test_variable_chooses_live_and_argument_wins():
    assert aws.choose_mode(None, {"LAB_AWS_MODE": "live"}) == "live"
    assert aws.choose_mode("offline", {"LAB_AWS_MODE": "live"}) == "offline"
    assert aws.choose_mode(None, {"LAB_AWS_MODE": " Offline "}) == "offline"


def test_unknown_mode_names_the_source_and_the_choices():
    with pytest.raises(aws.ModeError, match=r"LAB_AWS_MODE='cloud'.*offline, live"):
        aws.choose_mode(None, {"LAB_AWS_MODE": "cloud"})
    with pytest.raises(aws.ModeError, match=r"argument mode='prod'"):
        aws.choose_mode("prod", {})


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter (activate() decides once per process)."""
    import os

    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "LAB_AWS_MODE"}
    # no machine's own AWS files, and no instance-metadata lookups (a network call) while resolving credentials
    environ.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_EC2_METADATA_DISABLED="true")
    environ.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=120)


def test_offline_activate_answers_s3_iam_sts_without_network():
    code = (
        "import boto3\n"
        "from helpers import aws\n"
        "assert aws.activate() == 'offline'\n"
        "s3 = boto3.client('s3', region_name='us-east-1')\n"
        "s3.create_bucket(Bucket='lab-bucket')\n"
        "print(sorted(b['Name'] for b in s3.list_buckets()['Buckets']))\n"
        "print(boto3.client('sts').get_caller_identity()['Account'])\n"
        "print(boto3.client('iam').list_roles()['Roles'])\n"
    )
    done = run_python(code, AWS_ACCESS_KEY_ID="AKIAREALLOOKINGKEY00", AWS_SECRET_ACCESS_KEY="real")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("AWS mode: offline")
    assert lines[1] == "['lab-bucket']"
    assert lines[2] == "123456789012"


def test_mode_is_decided_once_per_process():
    code = (
        "from helpers import aws\n"
        "aws.activate('offline')\n"
        "assert aws.activate() == 'offline'\n"
        "try:\n"
        "    aws.activate('live')\n"
        "except aws.ModeError as exc:\n"
        "    print('refused:', exc)\n"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert "refused: this process already runs in 'offline' mode" in done.stdout
    assert done.stdout.count("AWS mode:") == 1


def test_a_shared_endpoint_that_does_not_answer_says_what_to_start():
    import socket

    with socket.socket() as s:  # a port nothing listens on once the socket is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = run_python("from helpers import aws\naws.activate()\n", AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"helpers.aws.ModeError: AWS_ENDPOINT_URL=http://127.0.0.1:{port}: nothing answers there (Connection refused); "
        f"start the shared offline account in a terminal with `python -m helpers offline-aws --port {port}` (and keep "
        "it running), or unset AWS_ENDPOINT_URL to give this process an offline account of its own")


def test_a_shared_endpoint_off_this_machine_is_refused_in_offline_mode():
    done = run_python("from helpers import aws\naws.activate()\n",
                      AWS_ENDPOINT_URL="https://bedrock.us-east-1.amazonaws.com")
    assert done.returncode == 1
    assert ("ModeError: AWS_ENDPOINT_URL=https://bedrock.us-east-1.amazonaws.com is not an address on this machine, "
            "and offline mode sends nothing off it: start the shared offline account in a terminal with "
            "`python -m helpers offline-aws --port 4566`") in done.stderr


def test_live_mode_prints_and_starts_no_stand_in():
    done = run_python("from helpers import aws\nprint(aws.activate())\nprint(aws._offline_mock)\n", LAB_AWS_MODE="live",
                      AWS_ACCESS_KEY_ID="AKIAREALLOOKINGKEY00", AWS_SECRET_ACCESS_KEY="real",
                      AWS_DEFAULT_REGION="us-east-1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [aws.BANNERS["live"], "live", "None"]


def test_max_epochs_check_takes_the_number_or_the_string_the_api_takes():
    assert aws.check_max_epochs(5, 5).startswith("Right: 5")
    assert aws.check_max_epochs("5", 5).startswith("Right: '5'")  # hyperparameters are strings: "5" is right too
    assert aws.check_max_epochs(9, 5).startswith("Not yet: 9 is above the limit")
    assert aws.check_max_epochs(4, 5).startswith("Not yet: 4 is accepted, and so is a larger value")
    assert aws.check_max_epochs(None, 5) == "Not yet: set my_max_epochs to a number."
    assert aws.check_max_epochs("five", 5).startswith("Not yet: 'five' is not a number")


def test_metrics_key_check_right_wrong_and_near_miss():
    arn = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/amazon.nova-micro-v1:0:128k/abc123"
    folder = "output/model-customization-job-abc123/"
    keys = [folder + "training_artifacts/step_wise_training_metrics.csv",
            folder + "validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv"]
    assert aws.check_metrics_key(keys[1], keys, arn).startswith("Right")
    assert aws.check_metrics_key(keys[0], keys, arn).startswith("Not yet: that is the training metrics")
    assert aws.check_metrics_key("s3://bucket/" + keys[1], keys, arn).startswith("Not yet: the key is what follows")
    wrong = aws.check_metrics_key("output/lab04-clauses-ft/validation_metrics.csv", keys, arn)
    assert wrong.startswith("Not yet: the folder is model-customization-job-") and "abc123" in wrong
    assert aws.check_metrics_key(folder + "validation_metrics.csv", keys, arn).startswith("Not yet: the folder is right")


def test_invoke_body_check_sends_the_body_and_checks_the_prompt(tmp_path):
    done = run_python(
        "import boto3\nfrom helpers import aws, corpus\naws.activate()\n"
        "rt = boto3.client('bedrock-runtime', region_name='us-east-1')\n"
        "prompt = corpus.clause_prompt('Fees are due within 30 days.')\n"
        "body = lambda text: {'messages': [{'role': 'user', 'content': [{'text': text}]}],"
        " 'inferenceConfig': {'maxTokens': 8}}\n"
        "check = lambda b: aws.check_invoke_body(rt, 'amazon.nova-micro-v1:0', b, prompt)\n"
        "print(check(body(prompt)))\nprint(check(body('Classify this.')))\nprint(check({}))\n",
        LAB_STATE_DIR=str(tmp_path))
    right, near, wrong = done.stdout.splitlines()[-3:]  # after activate()'s line
    assert right.startswith("Right: the model answered the firm's prompt (stop reason '"), done.stderr
    assert near.startswith("Not yet: the model answered, but not to the firm's prompt")
    assert wrong.startswith("Not yet: ") and "Right" not in wrong


def test_require_status_says_what_to_run_first():
    arn = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/amazon.nova-micro-v1:0:128k/abc123"
    done = {"jobArn": arn, "jobName": "lab04-clauses-ft", "status": "Completed", "trainingMetrics": {}}
    assert aws.require_status(done, "Completed") is done
    with pytest.raises(aws.NotReady, match=r"^job lab04-clauses-ft is InProgress, not Completed yet: run the cell "
                                           r"above that calls aws.wait_for on it first"):
        aws.require_status({**done, "status": "InProgress"}, "Completed")
    with pytest.raises(aws.NotReady, match=r"^job lab04-clauses-ft ended Failed, not Completed: line 7: bad"):
        aws.require_status({**done, "status": "Failed", "failureMessage": "line 7: bad"}, "Completed")
    pt = {"provisionedModelArn": "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/xyz",
          "provisionedModelName": "lab04-clauses-pt", "status": "Creating"}
    with pytest.raises(aws.NotReady, match=r"^throughput lab04-clauses-pt is Creating, not InService yet"):
        aws.require_status(pt, "InService")

# ------------------------------------------------------------------------------------------ guard rails
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


def test_wait_for_adds_the_labs_advice_apart_from_awss_message(account, capsys):
    rows = records("bedrock-conversation-2024", 12)
    rows[2] = {"prompt": "a prompt/completion record", "completion": "in a Nova file"}
    arn = account.job(account.bucket("lab-advice", {"train.jsonl": jsonl(rows)}), validation=None)
    job = aws.wait_for(arn, client=account.bedrock, progress=False, poll_seconds=0.05)
    out = capsys.readouterr().out.splitlines()
    assert out[-2] == f"failureMessage: {job['failureMessage']}" and "line" not in job["failureMessage"]
    assert out[-1].startswith("lab's advice (not part of AWS's answer): ")
    assert f"check-data TRAIN.jsonl --model {NOVA} --customization fine-tuning" in out[-1]


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
