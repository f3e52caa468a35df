"""Issue 9: no path bills a real account without a price and a "yes", and the offline account survives faults.

Every test runs under a socket guard that records and refuses any connection (and name lookup) that is not
loopback, in this process and in the interpreters the tests start; each test ends asserting 0 network attempts.
Billable creates are counted on the clients: 0 without a "yes" in live mode.
"""
from __future__ import annotations

import ast
import csv
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from helpers import aws, formats, local_model, offline
from helpers.offline import hook, server
from helpers.offline.service import Emulator
from helpers.offline.state import StateError, Store

REPO = Path(__file__).resolve().parent.parent
NOVA = "amazon.nova-micro-v1:0:128k"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
MOTO_CONFIG = {"core": {"mock_credentials": True, "reset_boto3_session": True, "service_whitelist": None,
                        "passthrough": {"urls": [], "services": offline.MOTO_PASSTHROUGH}}}
FAKE_KEYS = {"AWS_ACCESS_KEY_ID": "AKIAREALLOOKINGKEY00", "AWS_SECRET_ACCESS_KEY": "real-looking-secret"}
JOB = dict(jobName="j", customModelName="m", roleArn="arn:aws:iam::123456789012:role/r",
           trainingDataConfig={"s3Uri": "s3://lab-bucket/t.jsonl"}, outputDataConfig={"s3Uri": "s3://lab-bucket/o/"})

# ------------------------------------------------------------------------------------------ the socket guard
GUARD = '''
import socket

LOOPBACK = ("127.0.0.1", "::1", "localhost", "0.0.0.0", "")
_connect, _getaddrinfo = socket.socket.connect, socket.getaddrinfo


def _host(address):
    return address[0] if isinstance(address, tuple) else None  # AF_UNIX paths are local


def _record(what):
    attempts.append(what)
    if LOG:
        with open(LOG, "a") as f:
            f.write(what + "\\n")
    raise ConnectionRefusedError(f"socket guard: no network in the lab's tests ({what})")


def connect(self, address):
    host = _host(address)
    if host is not None and host not in LOOPBACK and not str(host).startswith("127."):
        _record(f"connect {address}")
    return _connect(self, address)


def getaddrinfo(host, *args, **kwargs):
    if host is not None and str(host) not in LOOPBACK and not str(host).startswith("127."):
        _record(f"lookup {host}")
    return _getaddrinfo(host, *args, **kwargs)


def install(log=None):
    global LOG
    LOG = log
    socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo


attempts, LOG = [], None
'''


@pytest.fixture(autouse=True)
def no_network(tmp_path, monkeypatch):
    """Refuse and count non-loopback connections here and in child interpreters (via sitecustomize)."""
    guard_dir = tmp_path / "socket_guard"
    guard_dir.mkdir()
    (guard_dir / "lab_socket_guard.py").write_text(GUARD)
    log = tmp_path / "network_attempts.log"
    (guard_dir / "sitecustomize.py").write_text(f"import lab_socket_guard\nlab_socket_guard.install({str(log)!r})\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(guard_dir), str(REPO)]))
    namespace: dict = {}
    exec(GUARD, namespace)
    monkeypatch.setattr(socket.socket, "connect", namespace["connect"])
    monkeypatch.setattr(socket, "getaddrinfo", namespace["getaddrinfo"])
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "LAB_AWS_MODE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(aws, "_mode", None)
    yield namespace["attempts"]
    children = log.read_text().splitlines() if log.exists() else []
    assert namespace["attempts"] + children == [], "network attempts"


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run code in a fresh guarded interpreter (activate() decides once per process), with no input."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "LAB_AWS_MODE"}
    environ.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                   AWS_EC2_METADATA_DISABLED="true", **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, stdin=subprocess.DEVNULL, text=True,
                          env=environ, timeout=120, cwd=REPO)


def live_client(service: str = "bedrock") -> tuple:
    """A real boto3 client for us-east-1 with real-looking keys and a Stubber that has no answers queued:
    any call it makes fails the test (the stubber raises), so the list of calls is the list of what was sent."""
    client = boto3.session.Session(region_name="us-east-1", aws_access_key_id=FAKE_KEYS["AWS_ACCESS_KEY_ID"],
                                   aws_secret_access_key=FAKE_KEYS["AWS_SECRET_ACCESS_KEY"]).client(service)
    stub = Stubber(client)
    stub.activate()
    return client, stub


@pytest.fixture
def live_env(monkeypatch):
    monkeypatch.setenv("LAB_AWS_MODE", "live")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for key, value in FAKE_KEYS.items():
        monkeypatch.setenv(key, value)


# ------------------------------------------------------------------------------------------ hole 1
CLIENT_FIRST = """
import boto3
from helpers import aws
early = boto3.client("bedrock", region_name="us-east-1")
aws.activate()
late = boto3.client("bedrock", region_name="us-east-1")
params = dict(jobName="j", customModelName="m", roleArn="arn:aws:iam::123456789012:role/r",
              baseModelIdentifier="amazon.nova-micro-v1:0:128k", trainingDataConfig={"s3Uri": "s3://lab-bucket/t.jsonl"},
              outputDataConfig={"s3Uri": "s3://lab-bucket/o/"})
try:
    aws.create_customization_job(early, tokens=1000, ask=lambda p: "yes", **params)
except aws.NotOffline as exc:
    print("refused:", exc)
print("late client routed offline:", aws.check_client(late) is None)
"""


def test_a_client_made_before_activate_is_refused_offline(tmp_path):
    done = run_python(CLIENT_FIRST, LAB_STATE_DIR=str(tmp_path / "s"), **FAKE_KEYS)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "refused: the lab runs offline, but this client would send the request to " \
           "https://bedrock.us-east-1.amazonaws.com (real AWS)" in out
    assert "Create clients after aws.activate()" in out and "nothing is billed" not in out
    assert "late client routed offline: True" in out


def test_routes_here_knows_hooked_loopback_and_other_clients(tmp_path):
    early = boto3.session.Session(region_name="us-east-1", **{k.lower(): v for k, v in FAKE_KEYS.items()}) \
        .client("bedrock")
    offline.install(Emulator(Store(tmp_path / "s")))
    try:
        late = boto3.session.Session(region_name="us-east-1", **{k.lower(): v for k, v in FAKE_KEYS.items()}) \
            .client("bedrock")
        assert not hook.routes_here(early) and hook.routes_here(late)
    finally:
        offline.uninstall()
    assert not hook.routes_here(late)  # uninstalled: it would go to the network again
    served = boto3.client("bedrock", region_name="us-east-1", endpoint_url="http://127.0.0.1:4566",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    assert hook.routes_here(served) and not hook.routes_here(object())


# ------------------------------------------------------------------------------------------ hole 2 and 3
def hp_default(model_id: str, name: str = "epochCount") -> int:
    """The default from data/bedrock/hyperparameters.csv, read here independently of the package."""
    with open(REPO / "data" / "bedrock" / "foundation_models.csv", newline="") as f:
        group = next(r["hp_group"] for r in csv.DictReader(f) if r["model_id"] == model_id)
    with open(REPO / "data" / "bedrock" / "hyperparameters.csv", newline="") as f:
        return int(next(r["default"] for r in csv.DictReader(f) if r["hp_group"] == group and r["name"] == name))


def test_live_variable_without_activate_prices_and_asks(live_env, capsys):
    client, stub = live_client()
    asked = []
    with pytest.raises(aws.NotConfirmed):
        aws.create_customization_job(client, tokens=10_000, ask=lambda p: asked.append(p) or "no",
                                     baseModelIdentifier=NOVA, **JOB)
    stub.assert_no_pending_responses()
    assert aws.current_mode() == "live" and len(asked) == 1  # chosen now, by activate()'s rules, and asked
    out = capsys.readouterr().out
    assert aws.BANNERS["live"] in out and "offline: nothing is billed" not in out


CUSTOMIZABLE = ["amazon.nova-micro-v1:0:128k", "anthropic.claude-3-haiku-20240307-v1:0:200k",
                "meta.llama3-1-8b-instruct-v1:0:128k", "amazon.titan-text-express-v1:0:8k"]


@pytest.mark.parametrize("model_id", CUSTOMIZABLE)
def test_estimate_prices_the_models_default_epochs(live_env, model_id, capsys):
    epochs = hp_default(model_id)
    assert epochs in (2, 5)
    client, stub = live_client()
    params = dict(JOB, baseModelIdentifier=model_id)
    expected = dict(params, jobTags=aws.lab_tags(), customModelTags=aws.lab_tags())
    stub.add_response("create_model_customization_job", {"jobArn": "arn:aws:bedrock:us-east-1:1:model-"
                                                                   "customization-job/x/abc"}, expected)
    assert aws.create_customization_job(client, tokens=1000, ask=lambda p: "yes", **params).endswith("/abc")
    stub.assert_no_pending_responses()  # exactly one create, after the yes
    assert f"(1,000 tokens x {epochs} epochs)" in capsys.readouterr().out


def test_custom_model_base_uses_its_foundation_models_default(live_env, capsys):
    client, stub = live_client()
    with pytest.raises(aws.NotConfirmed):
        aws.create_customization_job(client, tokens=1000, ask=lambda p: "", **JOB, baseModelIdentifier=(
            "arn:aws:bedrock:us-east-1:123456789012:custom-model/meta.llama3-1-8b-instruct-v1:0:128k/abcdef"))
    assert "x 5 epochs" in capsys.readouterr().out


def test_a_model_outside_the_catalog_needs_its_epochs_before_price_or_question(live_env):
    client, stub = live_client()
    with pytest.raises(ValueError, match=r"default epochCount is unknown.*'epochCount'"):
        aws.create_customization_job(client, tokens=1000, ask=lambda p: pytest.fail("asked"),
                                     baseModelIdentifier="example.not-in-the-catalog-v1:0", **JOB)
    stub.assert_no_pending_responses()


def test_a_broken_hyperparameter_is_refused_before_price_or_question(live_env, capsys):
    client, stub = live_client()
    with pytest.raises(client.exceptions.ValidationException, match=r"epochCount value '9' is out of range"):
        aws.create_customization_job(client, tokens=1000, ask=lambda p: pytest.fail("asked"), baseModelIdentifier=NOVA,
                                     hyperParameters={"epochCount": "9"}, **JOB)
    assert "cost estimate" not in capsys.readouterr().out
    stub.assert_no_pending_responses()


def test_every_billable_helper_needs_a_yes_in_live_mode(live_env):
    client, stub = live_client()
    for create in (lambda: aws.create_throughput(client, base_model_id=NOVA, ask=lambda p: "y", modelUnits=1,
                                                 provisionedModelName="p", modelId="arn:model"),
                   lambda: aws.create_deployment(client, base_model_id=NOVA, ask=lambda p: "yes please",
                                                 modelDeploymentName="d", modelArn="arn:model")):
        with pytest.raises(aws.NotConfirmed):
            create()
    stub.assert_no_pending_responses()


# ------------------------------------------------------------------------------------------ hole 6
def test_live_activation_checks_credentials_and_region(monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    with pytest.raises(aws.ModeError, match=r"live mode needs AWS credentials.*aws configure.*LAB_AWS_MODE"):
        aws.activate("live")
    assert aws.current_mode() is None
    for key, value in FAKE_KEYS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    with pytest.raises(aws.ModeError, match=r"live mode needs a Region.*AWS_DEFAULT_REGION=us-east-1"):
        aws.activate("live")
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    with pytest.raises(aws.ModeError, match="no-such-profile"):
        aws.activate("live")
    monkeypatch.delenv("AWS_PROFILE")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert aws.activate("live") == "live"


# ------------------------------------------------------------------------------------------ hole 5
TEARDOWN = [sys.executable, "-m", "helpers", "teardown"]


@pytest.mark.parametrize("stdin", ["yes\n", None])
def test_live_teardown_without_a_terminal_deletes_nothing(stdin):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(LAB_AWS_MODE="live", AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_EC2_METADATA_DISABLED="true", **FAKE_KEYS)
    done = subprocess.run(TEARDOWN, input=stdin, capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
                          **({"stdin": subprocess.DEVNULL} if stdin is None else {}))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "there is no terminal to ask on; nothing deleted" in done.stderr and "--yes" in done.stderr
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------------------------------ hole 7
class FakeClient:
    """A boto3 stand-in answering from dicts; calls named in `fail` raise a ClientError like AWS's."""

    def __init__(self, replies: dict, fail: dict | None = None):
        self.replies, self.fail, self.calls = replies, fail or {}, []

    def __getattr__(self, operation: str):
        def call(*args, **params):
            self.calls.append(operation)
            if operation in self.fail:
                raise ClientError({"Error": {"Code": self.fail[operation][0], "Message": self.fail[operation][1]}},
                                  operation)
            reply = self.replies.get(operation, {})
            return reply(*args, **params) if callable(reply) else reply
        return call


def test_teardown_goes_on_after_a_failure_and_lists_it(monkeypatch, capsys):
    lab = aws.lab_tags()
    bedrock = FakeClient({
        "list_provisioned_model_throughputs": {"provisionedModelSummaries": []},
        "list_custom_model_deployments": {"modelDeploymentSummaries": []},
        "list_model_customization_jobs": {"modelCustomizationJobSummaries": []},
        "list_custom_models": {"modelSummaries": [{"modelArn": "arn:m1", "modelName": "lab-model"}]},
        "list_tags_for_resource": {"tags": lab}},
        fail={"delete_custom_model": ("ConflictException", "The custom model lab-model is in use by their-pt.")})
    s3 = FakeClient({"list_buckets": {"Buckets": [{"Name": "lab-bucket"}]},
                     "get_bucket_tagging": {"TagSet": aws.lab_tags(style="aws")},
                     "get_paginator": lambda name: type("P", (), {"paginate": lambda self, **k: []})()})
    iam = FakeClient({"list_roles": {"Roles": [{"RoleName": "LabRole"}]},
                      "list_role_tags": {"Tags": aws.lab_tags(style="aws")}})

    class Session:
        def client(self, service, region_name=None):
            return {"bedrock": bedrock, "s3": s3, "iam": iam}[service]

    monkeypatch.setattr(aws, "_mode", "live")
    done = aws.teardown(("us-east-1",), session=Session())
    assert done["buckets"] == ["lab-bucket"] and done["roles"] == ["LabRole"]  # reached after the failure
    assert done["not_deleted"] == ["custom_models lab-model: ConflictException: The custom model lab-model is in "
                                   "use by their-pt."]
    out = capsys.readouterr().out
    assert "could not delete" in out and "lab-model: ConflictException" in out


# ------------------------------------------------------------------------------------------ hole 4: notebooks
BILLABLE = {"create_model_customization_job", "create_provisioned_model_throughput", "create_custom_model_deployment",
            "create_model_invocation_job", "create_model_import_job", "create_evaluation_job",
            "create_training_job", "create_endpoint", "create_transform_job", "create_processing_job",
            "create_hyper_parameter_tuning_job", "create_notebook_instance"}


def _offline_only(test: ast.expr) -> bool:
    """True for `MODE == "offline"` (or aws.current_mode() == "offline"): a branch live mode never runs."""
    return (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
            and isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value == "offline")


def raw_billable_calls(source: str) -> list[str]:
    """Billable AWS create calls made directly on a client, outside a branch that runs only offline.

    What counts: a call whose method is one of BILLABLE (Bedrock and SageMaker creates that start billing).
    What does not: the lab's guarded helpers (aws.create_customization_job / create_throughput /
    create_deployment, which check the client, price, ask and tag), and a raw call inside `if MODE == "offline":`,
    which live mode never reaches."""
    lines = [("pass  # " + line) if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    found: list[str] = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.If):
            visit(node.test, guarded)
            for child in node.body:
                visit(child, guarded or _offline_only(node.test))
            for child in node.orelse:
                visit(child, guarded)
            return
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in BILLABLE \
                and not guarded:
            found.append(f"line {node.lineno}: {ast.unparse(node.func)}(...)")
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(ast.parse("\n".join(lines)), False)
    return found


def test_the_scanner_tells_raw_from_guarded_calls():
    assert raw_billable_calls("bedrock.create_model_customization_job(**params)") == [
        "line 1: bedrock.create_model_customization_job(...)"]
    assert raw_billable_calls("try:\n    x = sm.create_training_job(**r)\nexcept Exception:\n    pass") != []
    assert raw_billable_calls("if MODE == 'live':\n    b.create_custom_model_deployment()") != []
    assert raw_billable_calls("if MODE == 'offline':\n    sm.create_training_job(**r)\nelse:\n    print(r)") == []
    assert raw_billable_calls("if MODE == 'offline':\n    pass\nelse:\n    sm.create_training_job(**r)") != []
    assert raw_billable_calls("%%time\naws.create_customization_job(bedrock, tokens=1, **params)") == []


@pytest.mark.parametrize("notebook", sorted((REPO / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_no_notebook_makes_a_raw_billable_create(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    raw = {cell.get("id"): raw_billable_calls("".join(cell["source"])) for cell in cells
           if cell["cell_type"] == "code"}
    assert {cid: calls for cid, calls in raw.items() if calls} == {}


# ------------------------------------------------------------------------------------------ an in-process account
@pytest.fixture
def account(tmp_path, monkeypatch):
    """moto for S3/IAM plus the emulator's hook on a fresh state, fast phases, the shipped base model."""
    from moto import mock_aws
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "LAB_OFFLINE_TIME_SCALE": "0.02"}.items():
        monkeypatch.setenv(key, value)
    mock = mock_aws(config=MOTO_CONFIG)
    mock.start()
    emulator = offline.install(Emulator(Store(tmp_path / "state")))
    try:
        yield emulator
    finally:
        offline.uninstall()
        mock.stop()


def clients(region: str = "us-east-1"):
    return boto3.client("bedrock", region_name=region), boto3.client("bedrock-runtime", region_name=region)


def error_of(call) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


# ------------------------------------------------------------------------------------------ malformed bodies
MALFORMED = [  # (model id, region, body, what Bedrock's validator names)
    ("anthropic.claude-3-haiku-20240307-v1:0", "ca-central-1",
     {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8, "messages": "hello"},
     "#/messages: expected type: JSONArray, found: String"),
    ("anthropic.claude-3-haiku-20240307-v1:0", "ca-central-1",
     {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8, "messages": [{"role": "user"}]},
     "#/messages/0: required key [content] not found"),
    ("anthropic.claude-3-haiku-20240307-v1:0", "ca-central-1",
     {"anthropic_version": "bedrock-2023-05-31", "max_tokens": "8", "messages": [{"role": "user", "content": "hi"}]},
     "#/max_tokens: expected type: Integer, found: String"),
    ("anthropic.claude-3-haiku-20240307-v1:0", "ca-central-1",
     {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8, "messages": [], "stream": True},
     "#: extraneous key [stream] is not permitted"),
    ("amazon.nova-micro-v1:0", "us-east-1", {"messages": "hello"}, "#/messages: expected type: JSONArray"),
    ("amazon.nova-micro-v1:0", "us-east-1", {"messages": [{"role": "user", "content": "hi"}]},
     "#/messages/0/content: expected type: JSONArray, found: String"),
    ("amazon.nova-micro-v1:0", "us-east-1", {"messages": [{"role": "user"}]},
     "#/messages/0: required key [content] not found"),
    ("amazon.nova-micro-v1:0", "us-east-1",
     {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"maxTokens": "8"}},
     "#/inferenceConfig/maxTokens: expected type: Integer, found: String"),
    ("amazon.nova-micro-v1:0", "us-east-1", {"messages": [], "max_tokens": 8},
     "#: extraneous key [max_tokens] is not permitted"),
    ("meta.llama3-1-8b-instruct-v1:0", "us-west-2", {"prompt": ["hi"]}, "#/prompt: expected type: String"),
    ("meta.llama3-1-8b-instruct-v1:0", "us-west-2", {"prompt": "hi", "max_gen_len": "8"},
     "#/max_gen_len: expected type: Integer, found: String"),
    ("meta.llama3-1-8b-instruct-v1:0", "us-west-2", {"prompt": "hi", "max_tokens": 8},
     "#: extraneous key [max_tokens] is not permitted"),
    ("amazon.titan-text-express-v1", "us-east-1", {"inputText": 5}, "#/inputText: expected type: String"),
    ("amazon.titan-text-express-v1", "us-east-1", {"inputText": "hi", "textGenerationConfig": {"maxTokenCount": "8"}},
     "#/textGenerationConfig/maxTokenCount: expected type: Integer, found: String"),
    ("amazon.titan-text-express-v1", "us-east-1", {"inputText": "hi", "messages": []},
     "#: extraneous key [messages] is not permitted"),
    ("amazon.titan-text-express-v1", "us-east-1", {"textGenerationConfig": {}}, "#: required key [inputText] not found"),
]


def test_malformed_bodies_get_bedrocks_validation_message_in_process(account):
    for model_id, region, body, problem in MALFORMED:
        _, runtime_client = clients(region)
        for call in (runtime_client.invoke_model, runtime_client.invoke_model_with_response_stream):
            code, message, status = error_of(lambda: call(modelId=model_id, body=json.dumps(body)))
            assert (code, status) == ("ValidationException", 400), (model_id, body)
            assert message.startswith("Malformed input request: ") and problem in message, message
            assert message.endswith(", please reformat your input and try again.")


def test_malformed_bodies_and_bad_tokens_over_http(tmp_path):
    srv, url = server.serve(0, emulator=Emulator(Store(tmp_path / "state")))
    try:
        kw = dict(endpoint_url=url, aws_access_key_id="testing", aws_secret_access_key="testing")
        rt = boto3.client("bedrock-runtime", region_name="ca-central-1", **kw)  # where Claude 3 Haiku lives on
        for model_id, region, body, problem in MALFORMED[:4]:
            code, message, status = error_of(lambda: rt.invoke_model(modelId=model_id, body=json.dumps(body)))
            assert (code, status) == ("ValidationException", 400) and problem in message
        bedrock = boto3.client("bedrock", region_name="us-east-1", **kw)
        for token in ("not-base64!", "bm90IGEgbnVtYmVy", "LTU="):  # junk, base64 of words, base64 of -5
            code, message, status = error_of(lambda: bedrock.list_model_customization_jobs(nextToken=token))
            assert (code, status) == ("ValidationException", 400) and "Invalid nextToken" in message
    finally:
        srv.shutdown()
        srv.moto.stop()


def test_raw_requests_of_the_wrong_shape_get_a_400_not_a_500(tmp_path):
    import http.client
    srv, _ = server.serve(0, emulator=Emulator(Store(tmp_path / "state")))
    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261201/us-east-1/bedrock/aws4_request, "
                               "SignedHeaders=host, Signature=0", "Content-Type": "application/json"}
    try:
        for method, path, body, code in [
                ("GET", "/model-customization-jobs?maxResults=ten", None, "SerializationException"),
                ("POST", "/model/amazon.nova-micro-v1:0/converse", {"messages": "hello"}, "ValidationException"),
                ("POST", "/model/amazon.nova-micro-v1:0/converse", {"messages": [{"role": "user", "content": "hi"}]},
                 "ValidationException")]:
            conn = http.client.HTTPConnection("127.0.0.1", srv.server_port, timeout=30)
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=signed)
            answer = conn.getresponse()
            payload = json.loads(answer.read())
            conn.close()
            assert answer.status == 400, (path, payload)
            assert answer.getheader("x-amzn-ErrorType").startswith(code + ":") and payload["message"]
    finally:
        srv.shutdown()
        srv.moto.stop()


def test_bad_next_token_in_process(account):
    bedrock, _ = clients()
    for operation in ("list_model_customization_jobs", "list_custom_models", "list_provisioned_model_throughputs",
                      "list_custom_model_deployments"):
        code, message, _ = error_of(lambda: getattr(bedrock, operation)(nextToken="%%%"))
        assert code == "ValidationException" and "Invalid nextToken '%%%'" in message


# ------------------------------------------------------------------------------------------ the command line
def test_offline_aws_refuses_a_port_out_of_range():
    for port in ("99999", "-1", "http"):
        done = subprocess.run([sys.executable, "-m", "helpers", "offline-aws", "--port", port], capture_output=True, text=True,
                              cwd=REPO, timeout=60)
        assert done.returncode == 2 and "usage: python -m helpers offline-aws" in done.stderr, done.stderr
        assert "argument --port" in done.stderr and "Traceback" not in done.stderr


def test_check_data_into_a_closed_pipe_ends_quietly(tmp_path):
    bad = "\n".join(json.dumps({"messages": "not a list"}) for _ in range(20_000)) + "\n"
    (tmp_path / "bad.jsonl").write_text(bad)
    done = subprocess.run(f"'{sys.executable}' -m helpers check-data '{tmp_path / 'bad.jsonl'}' --model {NOVA} "
                          "| head -1", shell=True, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert len(done.stdout.splitlines()) == 1
    assert "BrokenPipe" not in done.stderr and "Traceback" not in done.stderr, done.stderr


# ------------------------------------------------------------------------------------------ the server's bounds
def test_server_bounds_stalled_and_oversized_requests_and_keeps_serving(tmp_path):
    srv, url = server.serve(0, emulator=Emulator(Store(tmp_path / "state")), read_timeout=3.0, body_seconds=1.5,
                            max_body=10_000)
    port = srv.server_port
    try:
        stalled = []
        for first in (b"GET /foundation-models HTTP/1.1\r\nHost: x\r\n",  # headers never finished
                      b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"):  # body never finished
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(first)
            stalled.append(s)
        bedrock = boto3.client("bedrock", region_name="us-east-1", endpoint_url=url, aws_access_key_id="testing",
                               aws_secret_access_key="testing")
        started = time.monotonic()
        assert bedrock.list_foundation_models()["modelSummaries"]  # served while two connections stall...
        assert time.monotonic() - started < 2.5  # ...before their read timeout ends them
        for s in stalled:  # the server hangs up on each once a read has waited 3 s (recv returns b"")
            s.settimeout(10)
            assert s.recv(1000) == b""
            assert time.monotonic() - started < 8
            s.close()
        big = socket.create_connection(("127.0.0.1", port))
        big.sendall(b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n")
        big.settimeout(5)
        assert big.recv(1000).startswith(b"HTTP/1.1 413")
        big.close()
        trickle = socket.create_connection(("127.0.0.1", port))  # a byte every 0.3 s: each read is quick, the body
        # as a whole takes longer than 1.5 s
        trickle.sendall(b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        trickle.settimeout(5)
        answer, t0 = b"", time.monotonic()
        while not answer and time.monotonic() - t0 < 6:
            try:
                trickle.sendall(b"x")
                trickle.settimeout(0.3)
                answer = trickle.recv(1000)
            except TimeoutError:
                continue
            except OSError:
                break
        trickle.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert bedrock.list_foundation_models()["modelSummaries"]
    finally:
        srv.shutdown()
        srv.moto.stop()


def test_stalled_connections_are_closed_within_the_read_timeout(tmp_path):
    srv, _ = server.serve(0, emulator=Emulator(Store(tmp_path / "state")), read_timeout=0.5)
    try:
        s = socket.create_connection(("127.0.0.1", srv.server_port))
        s.sendall(b"GET /foundation-models HTTP/1.1\r\n")
        s.settimeout(5)
        started = time.monotonic()
        s.recv(1000)  # returns when the server closes the connection
        assert time.monotonic() - started < 3
        s.close()
    finally:
        srv.shutdown()
        srv.moto.stop()


# ------------------------------------------------------------------------------------------ state file faults
def fill(store: Store, n: int = 30) -> None:
    with store.transaction() as doc:
        for i in range(n):
            doc["tags"][f"arn:x{i}"] = [{"key": "k", "value": "v" * 200}]


def read_all(store: Store) -> None:
    with store.transaction() as doc:
        doc["jobs"], doc["tags"]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_state_file_says_which_what_and_how_to_reset(tmp_path, damage):
    store = Store(tmp_path)
    fill(store, 300)
    store.close()  # as when every kernel using it has ended: the write-ahead log is folded into the file
    path = tmp_path / "bedrock.sqlite3"
    raw = path.read_bytes()
    path.write_bytes({"garbage": b"this is not a database " * 300, "truncated": raw[:len(raw) // 2],
                      "empty": b""}[damage])
    with pytest.raises(StateError) as info:
        read_all(Store(tmp_path))
    message = str(info.value)
    assert str(path) in message and "cannot be read" in message and f"rm '{path}'" in message
    copies = list(tmp_path.glob("bedrock.sqlite3.corrupt-*"))
    assert len(copies) == 1 and copies[0].read_bytes() == path.read_bytes() and str(copies[0]) in message
    with pytest.raises(StateError):
        read_all(Store(tmp_path))
    assert len(list(tmp_path.glob("bedrock.sqlite3.corrupt-*"))) == 1  # one copy, however often it is read


def test_a_damaged_state_file_is_an_aws_error_over_http_and_in_process(tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "bedrock.sqlite3").write_bytes(b"\x00garbage" * 1000)
    srv, url = server.serve(0, emulator=Emulator(Store(tmp_path / "state")))
    try:
        bedrock = boto3.client("bedrock", region_name="us-east-1", endpoint_url=url, aws_access_key_id="testing",
                               aws_secret_access_key="testing")
        code, message, status = error_of(lambda: bedrock.list_model_customization_jobs())
        assert (code, status) == ("InternalServerException", 400)
        assert "bedrock.sqlite3 cannot be read" in message and "To reset" in message
    finally:
        srv.shutdown()
        srv.moto.stop()
    offline.install(Emulator(Store(tmp_path / "state")))
    try:
        bedrock = boto3.client("bedrock", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        assert error_of(lambda: bedrock.list_custom_models())[0] == "InternalServerException"
    finally:
        offline.uninstall()


def test_a_corrupt_row_and_an_old_json_state_are_named(tmp_path):
    import sqlite3
    store = Store(tmp_path)
    fill(store, 2)
    with sqlite3.connect(tmp_path / "bedrock.sqlite3") as conn:
        conn.execute("UPDATE resources SET value = '{broken' WHERE key = 'arn:x1'")
    with pytest.raises(StateError, match=r"the tags entry 'arn:x1' is not valid JSON"):
        read_all(Store(tmp_path))
    with sqlite3.connect(tmp_path / "bedrock.sqlite3") as conn:
        conn.execute("UPDATE resources SET value = '\"a string\"' WHERE key = 'arn:x1'")
    with pytest.raises(StateError, match=r"the tags entry 'arn:x1' is not a JSON array"):
        read_all(Store(tmp_path))
    legacy = tmp_path / "old"
    legacy.mkdir()
    for broken in ('{"jobs": [1, 2]', '{"jobs": [1, 2]}', '{"jobs": {"arn:j": "InProgress"}}', '[]'):
        (legacy / "bedrock.json").write_text(broken)
        with pytest.raises(StateError, match=r"old/bedrock.json cannot be read: it is not the lab's JSON state"):
            read_all(Store(legacy))
    (legacy / "bedrock.json").write_text(json.dumps({"jobs": {}, "tags": {"arn:kept": []}}))
    with Store(legacy).transaction() as doc:
        assert doc["tags"] == {"arn:kept": []}  # an earlier version's state is imported, once
    assert (legacy / "bedrock.json.imported").exists() and not (legacy / "bedrock.json").exists()


# ------------------------------------------------------------------------------------------ jobs whose worker is gone
HOLD_TOKEN = """
import sys, time
from helpers.offline.state import Store
print(Store(sys.argv[1]).worker_token(), flush=True)
time.sleep(float(sys.argv[2]))
"""


def in_progress_job(store: Store, token: str, host: str) -> str:
    arn = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/amazon.nova-micro-v1:0:128k/abc123abc123"
    with store.transaction() as doc:
        doc["jobs"][arn] = dict(jobArn=arn, jobName="orphan", region="us-east-1", status="InProgress",
                                worker={"token": token, "host": host, "pid": 1})
    return arn


def test_a_job_whose_worker_is_gone_fails_whatever_the_hostname(tmp_path):
    store = Store(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_TOKEN, str(tmp_path), "60"], stdout=subprocess.PIPE,
                              text=True, cwd=REPO)
    try:
        token = holder.stdout.readline().strip()
        in_progress_job(store, token, host="a-laptop-on-another-network")
        emulator = Emulator(store)
        with store.transaction() as doc:
            emulator.refresh(doc)
            assert next(iter(doc["jobs"].values()))["status"] == "InProgress"  # its worker still runs
    finally:
        holder.kill()
        holder.wait(timeout=10)
    with store.transaction() as doc:
        emulator.refresh(doc)
        job = next(iter(doc["jobs"].values()))
    assert job["status"] == "Failed"
    assert job["failureMessage"].startswith("Internal error: the process that ran this offline job ended")
    assert not (tmp_path / "workers" / f"{token}.lock").exists()


def test_a_job_recorded_without_a_token_is_not_waited_for(tmp_path):
    store = Store(tmp_path)
    arn = "arn:aws:bedrock:us-east-1:1:model-customization-job/m/old"
    with store.transaction() as doc:
        doc["jobs"][arn] = dict(jobArn=arn, status="InProgress", worker={"host": socket.gethostname(), "pid": 1})
    with store.transaction() as doc:
        Emulator(store).refresh(doc)
        assert doc["jobs"][arn]["status"] == "Failed"


# ------------------------------------------------------------------------------------------ the weights cache
def tiny_model(seed: int = 0) -> local_model.Model:
    tok = local_model.Tokenizer.build(["the price is up", "the price is down"])
    config = {"n_layer": 1, "d_model": 16, "n_head": 2, "context": 32, "vocab_size": len(tok)}
    return local_model.Model(config, tok, local_model.init_params(config, np.random.default_rng(seed)))


PAIRS = [("the price is", " up"), ("the price is", " down")] * 4


def test_concurrent_identical_trainings_share_one_cached_model(tmp_path):
    base, results, errors = tiny_model(), [], []

    def train() -> None:
        try:
            results.append(local_model.cached_finetune(base, PAIRS, epochs=3, batch_size=2, progress=False))
        except Exception as exc:  # what the race used to raise: OSError Directory not empty
            errors.append(exc)

    threads = [threading.Thread(target=train) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 8
    entries = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(entries) == 1 and entries[0].startswith("finetune-")  # one model, no partial folders
    on_disk = local_model.load(tmp_path / "cache" / entries[0])
    for model in results:  # every run uses the weights that are in the cache
        assert all(np.array_equal(model.params[k], on_disk.params[k]) for k in on_disk.params)


def test_concurrent_saves_never_fail_and_the_last_writer_wins(tmp_path):
    errors = []

    def write(seed: int) -> None:
        try:
            for _ in range(5):
                local_model.save(tiny_model(seed), tmp_path / "models" / "m")
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(seed,)) for seed in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(p.name for p in (tmp_path / "models").iterdir()) == ["m"]
    local_model.load(tmp_path / "models" / "m")  # whole and readable


def test_partial_folders_of_killed_saves_are_swept(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = socket.gethostname().replace("-", "_")
    killed = folder / f".m{local_model.PARTIAL}{host}-{dead.stdout.strip()}-x1y2"
    writing = folder / f".m{local_model.PARTIAL}{host}-{os.getpid()}-z3"
    old_elsewhere = folder / f".m{local_model.PARTIAL}otherhost-12-q9"
    for partial in (killed, writing, old_elsewhere):
        partial.mkdir()
        (partial / "weights.npz").write_bytes(b"half")
    os.utime(old_elsewhere, (time.time() - 7200, time.time() - 7200))
    local_model.save(tiny_model(), folder / "other")
    assert sorted(p.name for p in folder.iterdir()) == sorted(["other", writing.name])


# ------------------------------------------------------------------------------------------ a diverging run
def test_a_diverging_run_raises_naming_the_learning_rate_and_caches_nothing(tmp_path):
    with pytest.raises(local_model.DivergedError, match=r"training diverged at step \d+: .* learning rate 1e\+06"):
        local_model.cached_finetune(tiny_model(), PAIRS, epochs=3, batch_size=2, learning_rate=1e6, progress=False)
    assert not (tmp_path / "cache").exists() or list((tmp_path / "cache").iterdir()) == []


def test_a_base_model_that_starts_above_twice_a_uniform_guess_has_not_diverged():
    """Text far from pre-training can cost the base model more than 2 ln(vocab) before any update (English news on
    the shipped checkpoint: 16-17 against 15.7); a small learning rate from there is a run, not a divergence."""
    base = tiny_model()
    base.params["wte"] = base.params["wte"] * 400  # confidently wrong: the first loss far above 2 ln(vocab)
    assert np.log(local_model.perplexity(base, ["the price is up", "the price is down"])) > 2 * np.log(len(base.tokenizer))
    tuned = local_model.finetune(base, PAIRS, epochs=1, batch_size=2, learning_rate=1e-6, progress=False)
    assert len(tuned.history) == 4


def test_a_diverging_job_fails_naming_its_learning_rate(account, tmp_path):
    s3, iam = boto3.client("s3", region_name="us-east-1"), boto3.client("iam", region_name="us-east-1")
    s3.create_bucket(Bucket="lab-diverge")
    rows = [formats.make_record("the price is", " up", "prompt-completion")] * 16
    s3.put_object(Bucket="lab-diverge", Key="train.jsonl", Body="\n".join(json.dumps(r) for r in rows).encode())
    role = iam.create_role(RoleName="LabRole", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    bedrock, _ = clients()
    arn = bedrock.create_model_customization_job(
        jobName="diverge", customModelName="diverge-model", roleArn=role,
        baseModelIdentifier="amazon.titan-text-express-v1:0:8k",
        trainingDataConfig={"s3Uri": "s3://lab-diverge/train.jsonl"}, outputDataConfig={"s3Uri": "s3://lab-diverge/o/"},
        hyperParameters={"epochCount": "1", "learningRate": "1"})["jobArn"]
    job = aws.wait_for(arn, client=bedrock, poll_seconds=0.05, timeout_seconds=120, progress=False)
    assert job["status"] == "Failed"
    assert job["failureMessage"].startswith("Training diverged: the training loss became")
    assert "learningRate 1 is too high" in job["failureMessage"] and "smaller learningRate" in job["failureMessage"]
    assert bedrock.list_custom_models()["modelSummaries"] == []
    assert not (tmp_path / "cache").exists() or list((tmp_path / "cache").iterdir()) == []


# ------------------------------------------------------------------------------------------ restart vs S3/IAM
def test_a_restarted_server_says_what_it_kept_and_role_errors_say_why(account):
    with account.store.transaction() as doc:
        doc["jobs"]["arn:j"] = {"status": "Completed", "jobArn": "arn:j", "jobName": "old", "region": "eu-west-3",
                                "outputModelName": "old-model"}
    line = server.kept_state(account)
    assert line.startswith("state: 1 customization jobs and 0 custom models kept in ")
    assert "S3 buckets and IAM roles live in this process's memory and start empty" in line
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="lab-kept")
    bedrock, _ = clients()
    _, message, _ = error_of(lambda: bedrock.create_model_customization_job(
        jobName="after-restart", customModelName="m2", roleArn="arn:aws:iam::123456789012:role/Gone",
        baseModelIdentifier=NOVA, trainingDataConfig={"s3Uri": "s3://lab-kept/t.jsonl"},
        outputDataConfig={"s3Uri": "s3://lab-kept/o/"}))
    assert message.startswith("Could not assume provided IAM role. (offline lab: S3 buckets and IAM roles")
    assert "start empty when it restarts, while jobs and custom models are kept" in message
