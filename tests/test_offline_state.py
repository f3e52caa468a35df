"""helpers.offline.state: the shared state is atomic per transaction and shared with other processes."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers.offline.state import Store

from offline_support import REPO, nova_data, wait


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
