"""The mode switch: offline by default, live only when asked for, decided once per process."""
import subprocess
import sys

import pytest

from helpers import aws


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
    assert right.startswith("Right: the reply is a"), done.stderr
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
