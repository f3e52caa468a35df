"""helpers.offline.server: `python -m helpers offline-aws` serves the same account on loopback, to plain boto3
scripts on the lab's data and on ordinary English text."""
from __future__ import annotations

import os
import subprocess
import sys

import boto3
import pytest

from helpers import catalog
from helpers.aws_samples import english
from helpers.offline import server
from helpers.offline.service import Emulator
from helpers.offline.state import Store

from offline_support import (FIXTURES, HAIKU, NOVA, REPO, TITAN, jsonl, offline_aws_command, offline_child_env,
                             write_flow_data)


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
        assert "meta.llama3-3-70b-instruct-v1:0:128k" in {m["modelId"] for m in
                                                           bedrock.list_foundation_models()["modelSummaries"]}
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
    if catalog.lifecycle(catalog.foundation_models()[model], region) == "LEGACY":  # no new Provisioned Throughput
        assert next(line for line in lines if line.startswith("throughput ")).startswith("throughput refused: ")
        assert lines[-1] == "OK"
        return
    assert "throughput InService" in lines
    assert next(line for line in lines if line.startswith("converse ")).split()[1] in ("end_turn", "max_tokens")
    assert lines[-1] == "OK"
