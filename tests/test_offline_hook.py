"""helpers.offline.hook: aws.activate() plugs the emulator into botocore, so plain boto3 scripts run in-process."""
from __future__ import annotations

import os
import runpy
import subprocess
import sys

from offline_support import REPO, FIXTURES, write_flow_data


def test_plain_boto3_script_runs_in_process(account, lab_env, capsys):
    argv = write_flow_data(lab_env)
    sys.argv, saved = ["plain_boto3_flow.py", *argv], sys.argv
    try:
        runpy.run_path(str(FIXTURES / "plain_boto3_flow.py"), run_name="__main__")
    finally:
        sys.argv = saved
    assert capsys.readouterr().out.splitlines()[-1] == "OK"


def test_activate_offline_installs_the_emulator(tmp_path):
    code = ("import boto3\nfrom helpers import aws\naws.activate()\n"
            "print(len(boto3.client('bedrock').list_foundation_models()['modelSummaries']) > 10)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAB_"))}
    env["LAB_STATE_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "True"
