"""The switch between the offline stand-in for AWS (the default) and a real AWS account."""
from __future__ import annotations

import os
import sys
import time

from helpers.costs import Estimate, default_epochs, estimate_cost
from helpers.run_first import NotReady

MODES = ("offline", "live")
MODE_VARIABLE = "LAB_AWS_MODE"

BANNERS = {
    "offline": (
        "AWS mode: offline - boto3 talks to the lab's stand-in for AWS on this machine "
        "(no account, no network, no cost). Set LAB_AWS_MODE=live to use a real account."
    ),
    "live": (
        "AWS mode: live - boto3 talks to your real AWS account with your credentials; "
        "billable resources are priced and confirmed before they are created."
    ),
}

_mode: str | None = None
_offline_mock = None


class ModeError(ValueError):
    """The requested AWS mode is unknown, or differs from the one this process already chose."""


def choose_mode(mode: str | None = None, environ: dict[str, str] | None = None) -> str:
    """Return the mode asked for: the argument, else $LAB_AWS_MODE, else offline (never inferred from credentials)."""
    environ = os.environ if environ is None else environ
    source, value = ("argument mode", mode) if mode is not None else (MODE_VARIABLE, environ.get(MODE_VARIABLE))
    if value is None or value.strip() == "":
        return "offline"
    value = value.strip().lower()
    if value not in MODES:
        raise ModeError(f"{source}={value!r} is not a mode of the lab; use one of: {', '.join(MODES)}")
    return value


def _start_offline() -> None:
    """Route boto3 to in-process stand-ins: moto for S3, IAM, STS and SageMaker, the lab's emulator for Bedrock."""
    global _offline_mock
    from moto import mock_aws
    from moto.moto_api._internal import mock_random

    # Dummy credentials, so botocore never looks for (or finds) a real account while offline.
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        os.environ[name] = value
    os.environ.pop("AWS_PROFILE", None)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if os.environ.get("AWS_ENDPOINT_URL"):
        # `python -m helpers offline-aws` already serves moto and the Bedrock emulator: share its account
        _share_offline_server(os.environ["AWS_ENDPOINT_URL"])
        print(f"offline endpoint: {os.environ['AWS_ENDPOINT_URL']} (shared with other processes)")
        return
    from helpers import offline

    mock_random.seed(42)  # stable ids (IAM role ids, request ids) so stored notebook outputs compare
    # moto must leave bedrock and bedrock-runtime to the lab's emulator (botocore asks every handler)
    _offline_mock = mock_aws(config={"core": {"mock_credentials": True, "reset_boto3_session": True,
                                              "service_whitelist": None,
                                              "passthrough": {"urls": [], "services": offline.MOTO_PASSTHROUGH}}})
    _offline_mock.start()
    offline.install()


def _share_offline_server(url: str) -> None:
    """Check that url is an `offline-aws` server on this machine that answers (ModeError saying what to run if
    not), and keep an HTTP(S)_PROXY from catching the calls to it (botocore would send loopback calls there)."""
    import socket
    from urllib.parse import urlsplit

    from helpers.offline.hook import LOOPBACK

    parts = urlsplit(url)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number
        host, port = None, None
    fix = ("start the shared offline account in a terminal with "
           f"`python -m helpers offline-aws --port {port or 4566}` (and keep it running), "
           "or unset AWS_ENDPOINT_URL to give this process an offline account of its own")
    if host not in LOOPBACK:
        raise ModeError(f"AWS_ENDPOINT_URL={url} is not an address on this machine, and offline mode sends nothing "
                        f"off it: {fix}")
    try:
        socket.create_connection((host, port or (443 if parts.scheme == "https" else 80)), timeout=2).close()
    except OSError as exc:
        raise ModeError(f"AWS_ENDPOINT_URL={url}: nothing answers there ({exc.strerror or exc}); {fix}") from None
    given = ",".join(os.environ.get(var, "") for var in ("NO_PROXY", "no_proxy"))
    bypass = [h.strip() for h in given.split(",") if h.strip()]
    bypass += [h for h in ("127.0.0.1", "localhost") if h not in bypass]
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = ",".join(dict.fromkeys(bypass))


def check_live_account(session=None) -> str:
    """Return the Region live mode will use, after checking (locally, no network) that credentials and a Region
    are configured; raise ModeError saying what to set otherwise."""
    import boto3
    from botocore.exceptions import BotoCoreError

    stay = f"or unset {MODE_VARIABLE} to stay offline"
    try:
        session = session or boto3.session.Session()
        credentials = session.get_credentials()
    except BotoCoreError as exc:  # e.g. AWS_PROFILE names a profile that does not exist
        raise ModeError(f"live mode cannot read your AWS credentials: {exc}. Fix the profile, {stay}.") from None
    if credentials is None:
        raise ModeError("live mode needs AWS credentials and none were found (environment variables, "
                        "~/.aws/credentials, AWS_PROFILE, SSO or an instance role). Run `aws configure` (or "
                        f"`aws sso login --profile NAME` and set AWS_PROFILE=NAME), {stay}.")
    if not session.region_name:
        raise ModeError(f"live mode needs a Region and none is set: export AWS_DEFAULT_REGION={LAB_REGIONS[0]} (the lab's "
                        f"Regions are {', '.join(LAB_REGIONS)}) or set `region` in your AWS profile, {stay}.")
    return session.region_name


def activate(mode: str | None = None) -> str:
    """Decide the AWS mode once for this process, print what it means, and return it. Live mode is refused
    (ModeError) when no credentials or no Region are configured, before anything is called."""
    global _mode
    chosen = choose_mode(mode)
    if _mode is not None:
        if mode is not None and chosen != _mode:
            raise ModeError(
                f"this process already runs in {_mode!r} mode; restart the kernel to switch to {chosen!r}"
            )
        return _mode
    if chosen == "offline":
        _start_offline()
    else:
        check_live_account()
    _mode = chosen
    print(BANNERS[chosen])
    return chosen


def current_mode() -> str | None:
    """Return the mode chosen by activate(), or None before it has run."""
    return _mode


# ================================================================================ guard rails
# One tested copy of what the AWS samples paste into every notebook: the polling loop, the cost shown before a
# billable create, the confirmation in live mode, the lab's tags, and the clean-up (throughput first).

LAB_TAG_KEY, LAB_TAG_VALUE = "lab", "bedrock-customization-lab"
LAB_REGIONS = ("us-east-1", "us-west-2")
TERMINAL = {"job": ("Completed", "Failed", "Stopped"), "throughput": ("InService", "Failed"),
            "deployment": ("Active", "Failed")}
POLL_SECONDS = {"offline": 0.25, "live": 60.0}


class NotConfirmed(RuntimeError):
    """A billable create was not confirmed, so nothing was created."""


class NotOffline(RuntimeError):
    """Offline mode, but the client given would reach real AWS (it was made before activate(), or elsewhere)."""


def lab_tags(notebook: str | None = None, style: str = "bedrock") -> list[dict]:
    """Return the tags the lab puts on what it creates: style 'bedrock' ({key, value}) or 'aws' ({Key, Value})."""
    pairs = [(LAB_TAG_KEY, LAB_TAG_VALUE)] + ([("notebook", notebook)] if notebook else [])
    if style == "bedrock":
        return [{"key": k, "value": v} for k, v in pairs]
    if style == "aws":
        return [{"Key": k, "Value": v} for k, v in pairs]
    raise ValueError(f"style must be 'bedrock' or 'aws', not {style!r}")


def _is_lab(tags: list[dict], notebook: str | None = None) -> bool:
    """True for the lab's tag (and, when notebook is given, that notebook's tag too)."""
    pairs = {(t.get("key") or t.get("Key"), t.get("value") or t.get("Value")) for t in tags}
    return (LAB_TAG_KEY, LAB_TAG_VALUE) in pairs and (notebook is None or ("notebook", notebook) in pairs)


def _kind_of(resource: str) -> str:
    for marker, kind in ((":model-customization-job/", "job"), (":provisioned-model/", "throughput"),
                         (":custom-model-deployment/", "deployment")):
        if marker in resource:
            return kind
    raise ValueError(f"wait_for: cannot tell what {resource!r} is; pass kind='job', 'throughput' or 'deployment'")


def _describe(client, kind: str, resource: str) -> dict:
    if kind == "job":
        return client.get_model_customization_job(jobIdentifier=resource)
    if kind == "throughput":
        return client.get_provisioned_model_throughput(provisionedModelId=resource)
    return client.get_custom_model_deployment(customModelDeploymentIdentifier=resource)


def wait_for(resource: str, *, kind: str | None = None, client=None, poll_seconds: float | None = None,
             timeout_seconds: float | None = None, progress: bool = True, sleep=time.sleep) -> dict:
    """Poll a customization job, provisioned throughput or deployment until it settles; return its description.

    Prints one line: the status it started in and the one it ended in. A time-out raises TimeoutError naming
    the resource and its last status (a loop that never ends is what the AWS samples got wrong).
    """
    import boto3
    from tqdm.auto import tqdm

    kind = kind or _kind_of(resource)
    if kind not in TERMINAL:
        raise ValueError(f"kind must be one of {', '.join(TERMINAL)}, not {kind!r}")
    client = client or boto3.client("bedrock")
    live = (current_mode() or choose_mode()) == "live"  # LAB_AWS_MODE=live before activate(): poll as live
    poll = POLL_SECONDS["live" if live else "offline"] if poll_seconds is None else poll_seconds
    timeout = (6 * 3600 if live else 600) if timeout_seconds is None else timeout_seconds
    name = resource.rsplit("/", 1)[-1]
    started = time.monotonic()
    described = _describe(client, kind, resource)
    first = described["status"]
    with tqdm(desc=f"{kind} {name}", bar_format="{desc}: {postfix} [{elapsed}]", disable=not progress,
              leave=False) as bar:
        while described["status"] not in TERMINAL[kind]:
            bar.set_postfix_str(described["status"])
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{kind} {resource} is still {described['status']} after {timeout:.0f} s; "
                                   "it keeps running (and billing) until it finishes or you delete it")
            sleep(poll)
            described = _describe(client, kind, resource)
    label = next((described[k] for k in ("jobName", "provisionedModelName", "modelDeploymentName") if k in described),
                 name)
    print(f"{kind} {label}: {first} -> {described['status']}")
    if described.get("failureMessage"):
        print(f"failureMessage: {described['failureMessage']}")
        if kind == "job" and described["failureMessage"].startswith("Input data at "):
            print(data_advice(described))
    return described


def require_status(described: dict, status: str) -> dict:
    """Return a job/throughput/deployment description whose status is `status`; else raise NotReady saying why.

    A cell that reads a job's metrics or calls a throughput runs this first, so a cell run before the wait
    says to run the wait, instead of a KeyError for a field that exists only once the job has ended.
    """
    if described["status"] == status:
        return described
    arn = next(described[k] for k in ("jobArn", "provisionedModelArn", "customModelDeploymentArn") if k in described)
    kind = _kind_of(arn)
    label = next((described[k] for k in ("jobName", "provisionedModelName", "modelDeploymentName") if k in described),
                 arn.rsplit("/", 1)[-1])
    if described["status"] in TERMINAL[kind]:
        raise NotReady(f"{kind} {label} ended {described['status']}, not {status}"
                       + (f": {described['failureMessage']}" if described.get("failureMessage") else ""))
    raise NotReady(f"{kind} {label} is {described['status']}, not {status} yet: run the cell above that calls "
                   f"aws.wait_for on it first (it waits until the {kind} is done)")

def data_advice(job: dict) -> str:
    """The lab's advice after a job failed on its data (printed apart from AWS's failureMessage, which names the
    S3 key but not the line): the check-data command that lists every problem with its file, line and field."""
    ctype = job.get("customizationType", "FINE_TUNING").lower().replace("_", "-")
    validation = " --validation VALIDATION.jsonl" if (job.get("validationDataConfig") or {}).get("validators") else ""
    return (f"lab's advice (not part of AWS's answer): Bedrock names the file, not the line. Run `python -m helpers "
            f"check-data TRAIN.jsonl{validation} --model {_base_model_id(job.get('baseModelArn', ''))} "
            f"--customization {ctype}` on your copies of the job's files to see every problem with its line; fix "
            "them, upload, and create a new job.")


def confirm(estimate: Estimate, *, ask=input) -> None:
    """Show the estimate; in live mode create only after the learner types 'yes' (else raise NotConfirmed).
    With no mode chosen yet, it is chosen now, by the same rules as activate()."""
    mode = current_mode() or activate()
    print(estimate)
    if mode != "live":
        print("offline: nothing is billed")
        return
    answer = ask("This creates a billable AWS resource. Type yes to go ahead: ")
    if answer.strip().lower() != "yes":
        raise NotConfirmed(f"not created: {estimate.what} (answer was {answer!r}, not 'yes')")


def check_client(client) -> None:
    """In offline mode, refuse a client that is not routed to the offline account (NotOffline); choose the mode
    first if nothing chose it yet."""
    from helpers.offline.hook import routes_here

    if (current_mode() or activate()) == "offline" and not routes_here(client):
        endpoint = getattr(getattr(client, "meta", None), "endpoint_url", "an unknown endpoint")
        raise NotOffline(f"the lab runs offline, but this client would send the request to {endpoint} (real AWS): "
                         "it was made before aws.activate() or outside the lab. Nothing was sent. Create clients "
                         "after aws.activate(), e.g. bedrock = boto3.client('bedrock', region_name=REGION).")


def _base_model_id(identifier: str) -> str:
    """The foundation model id of a base model id/ARN, or of a custom model's ARN (.../custom-model/FM_ID/ID)."""
    from helpers import catalog
    if ":custom-model/" in identifier:
        return identifier.split(":custom-model/", 1)[1].rsplit("/", 1)[0]
    return catalog.model_id_of(identifier)


def check_job_request(client, params: dict) -> int:
    """Check a job's hyperParameters locally with the offline account's rules (data/bedrock/hyperparameters.csv)
    and return the epochs it will run: the one given, else the model's default (`costs.default_epochs`). A broken
    rule raises the client's own ValidationException before anything is priced, asked or sent."""
    from botocore.exceptions import ClientError

    from helpers import catalog
    from helpers.offline import AwsError, training

    given = params.get("hyperParameters") or {}
    model_id = _base_model_id(params.get("baseModelIdentifier", ""))
    fm = catalog.foundation_models().get(model_id)
    if fm is not None and fm.customizations:  # outside the lab's catalog Bedrock itself checks the rules
        try:
            training.check_hyperparameters(fm, given)
        except AwsError as err:
            modelled = getattr(getattr(client, "exceptions", None), err.code, None)
            error_class = modelled if isinstance(modelled, type) and issubclass(modelled, ClientError) else ClientError
            raise error_class({"Error": {"Code": err.code, "Message": err.message}},
                              "CreateModelCustomizationJob") from None
    return int(given["epochCount"]) if "epochCount" in given else default_epochs(model_id)


def create_customization_job(bedrock, *, tokens: int, notebook: str | None = None, ask=input, **params) -> str:
    """Check, price (epochs as given, else the model's default), confirm, tag and create a model customization job;
    return its ARN."""
    check_client(bedrock)
    epochs = check_job_request(bedrock, params)
    confirm(estimate_cost("job", _base_model_id(params["baseModelIdentifier"]), tokens=tokens, epochs=epochs),
            ask=ask)
    params["jobTags"] = list(params.get("jobTags", [])) + lab_tags(notebook)
    params["customModelTags"] = list(params.get("customModelTags", [])) + lab_tags(notebook)
    return bedrock.create_model_customization_job(**params)["jobArn"]


def create_throughput(bedrock, *, base_model_id: str, hours: float = 1.0, notebook: str | None = None, ask=input,
                      **params) -> str:
    """Price (per hour), confirm, tag and create a provisioned throughput; return its ARN."""
    check_client(bedrock)
    confirm(estimate_cost("throughput", base_model_id, hours=hours, model_units=params.get("modelUnits", 1)), ask=ask)
    params["tags"] = list(params.get("tags", [])) + lab_tags(notebook)
    return bedrock.create_provisioned_model_throughput(**params)["provisionedModelArn"]


def create_deployment(bedrock, *, base_model_id: str, tokens: int = 0, notebook: str | None = None, ask=input,
                      **params) -> str:
    """Price, confirm, tag and create an on-demand custom model deployment; return its ARN."""
    check_client(bedrock)
    confirm(estimate_cost("deployment", base_model_id, tokens=tokens), ask=ask)
    params["tags"] = list(params.get("tags", [])) + lab_tags(notebook)
    return bedrock.create_custom_model_deployment(**params)["customModelDeploymentArn"]


def _pages(client, operation: str, key: str, **kwargs) -> list[dict]:
    out, token = [], None
    while True:
        page = getattr(client, operation)(**kwargs, **({"nextToken": token} if token else {}))
        out += page.get(key, [])
        token = page.get("nextToken")
        if not token:
            return out


def teardown(regions: tuple[str, ...] = LAB_REGIONS, *, notebook: str | None = None,
             session=None) -> dict[str, list[str]]:
    """Delete what the lab created, throughput first (it bills by the hour), then deployments, custom models,
    buckets and IAM roles; stop its running jobs. Only resources carrying the lab's tag (and the notebook's, if given)
    are touched. A failure (e.g. a model still used by someone else's throughput) does not stop the rest: it is
    listed under "not_deleted" with AWS's reason. Returns the names of what was deleted, stopped or left."""
    import boto3

    session = session or boto3.session.Session()
    done: dict[str, list[str]] = {"throughputs": [], "deployments": [], "custom_models": [], "jobs_stopped": [],
                                  "buckets": [], "roles": [], "not_deleted": []}

    def attempt(what: str, name: str, action) -> bool:
        """Run one listing or delete; on an AWS error note what was left and why, and go on."""
        try:
            action()
        except Exception as exc:  # ClientError, EndpointConnectionError...: reported, never a stop
            done["not_deleted"].append(f"{what} {name}: {_reason(exc)}")
            return False
        if what in done:
            done[what].append(name)
        return True

    for region in regions:
        bedrock = session.client("bedrock", region_name=region)
        found: dict[str, list[dict]] = {}
        for key, operation, field in (("pt", "list_provisioned_model_throughputs", "provisionedModelSummaries"),
                                      ("dep", "list_custom_model_deployments", "modelDeploymentSummaries"),
                                      ("job", "list_model_customization_jobs", "modelCustomizationJobSummaries"),
                                      ("model", "list_custom_models", "modelSummaries")):
            extra = {"statusEquals": "InProgress"} if key == "job" else {}
            attempt(f"listing in {region}", operation, lambda: found.__setitem__(
                key, _pages(bedrock, operation, field, **extra)))

        def lab_owned(arn: str) -> bool:
            tags: list = []
            attempt("tags of", arn, lambda: tags.extend(bedrock.list_tags_for_resource(resourceARN=arn)
                                                        .get("tags", [])))
            return _is_lab(tags, notebook)

        for pt in found.get("pt", []):
            if lab_owned(pt["provisionedModelArn"]):
                attempt("throughputs", pt["provisionedModelName"], lambda: bedrock.delete_provisioned_model_throughput(
                    provisionedModelId=pt["provisionedModelArn"]))
        for dep in found.get("dep", []):
            if lab_owned(dep["customModelDeploymentArn"]):
                attempt("deployments", dep["customModelDeploymentName"], lambda: bedrock.delete_custom_model_deployment(
                    customModelDeploymentIdentifier=dep["customModelDeploymentArn"]))
        for job in found.get("job", []):
            if lab_owned(job["jobArn"]):
                attempt("jobs_stopped", job["jobName"],
                        lambda: bedrock.stop_model_customization_job(jobIdentifier=job["jobArn"]))
        for model in found.get("model", []):
            if lab_owned(model["modelArn"]):
                attempt("custom_models", model["modelName"],
                        lambda: bedrock.delete_custom_model(modelIdentifier=model["modelArn"]))
    s3 = session.client("s3", region_name=regions[0])
    buckets: list[dict] = []
    attempt("listing", "buckets", lambda: buckets.extend(s3.list_buckets().get("Buckets", [])))
    for bucket in buckets:
        try:
            tags = s3.get_bucket_tagging(Bucket=bucket["Name"])["TagSet"]
        except Exception:  # NoSuchTagSet: not the lab's
            continue
        if _is_lab(tags, notebook):
            attempt("buckets", bucket["Name"], lambda: _empty_and_delete_bucket(s3, bucket["Name"]))
    attempt("listing", "roles", lambda: _delete_lab_roles(session.client("iam", region_name=regions[0]), notebook,
                                                          attempt))
    if current_mode() != "live":
        _forget_offline_jobs(notebook)
    done = {what: sorted(names) for what, names in done.items()}
    for what, names in done.items():
        if what != "not_deleted":
            print(f"{what.replace('_', ' ')}: {', '.join(names) if names else 'none'}")
    if done["not_deleted"]:
        print("could not delete (delete these by hand, or fix the cause and run teardown again):")
        for line in done["not_deleted"]:
            print(f"  - {line}")
    return done


def _reason(exc: Exception) -> str:
    error = getattr(exc, "response", {}).get("Error", {})
    return f"{error['Code']}: {error.get('Message', '')}" if error.get("Code") else f"{type(exc).__name__}: {exc}"


def _empty_and_delete_bucket(s3, name: str) -> None:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for obj in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=name, Key=obj["Key"], VersionId=obj["VersionId"])
    s3.delete_bucket(Bucket=name)


def _delete_lab_roles(iam, notebook: str | None, attempt) -> None:
    """Delete the lab's IAM roles (free, but a leftover one makes the next run's create_role fail)."""
    marker = None
    while True:
        page = iam.list_roles(**({"Marker": marker} if marker else {}))
        for role in page.get("Roles", []):
            name = role["RoleName"]
            if _is_lab(iam.list_role_tags(RoleName=name).get("Tags", []), notebook):
                attempt("roles", name, lambda: _delete_role(iam, name))
        if not page.get("IsTruncated"):
            return
        marker = page["Marker"]


def _delete_role(iam, name: str) -> None:
    for policy in iam.list_role_policies(RoleName=name).get("PolicyNames", []):
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for attached in iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies", []):
        iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=name)


def _forget_offline_jobs(notebook: str | None) -> None:
    """Offline only: drop the lab's finished jobs from the stand-in account so a notebook can run again with the
    same job names (a real account keeps job history; the lab's notebooks use fixed names for stable outputs)."""
    from helpers.offline.service import forget
    from helpers.offline.state import Store
    with Store().transaction() as doc:
        for arn in [a for a, j in doc["jobs"].items()
                    if j["status"] in TERMINAL["job"] and _is_lab(doc["tags"].get(a, []), notebook)]:
            del doc["jobs"][arn]
            forget(doc, arn)


def main_teardown(argv: list[str]) -> int:
    """`python -m helpers teardown [--yes]`: delete everything the lab created (asks first in live mode).
    Exit 0: all deleted; 1: something could not be deleted (listed) or the answer was not yes; 2: live mode with
    no terminal to ask on and no --yes."""
    import argparse
    parser = argparse.ArgumentParser(prog="python -m helpers teardown", description=main_teardown.__doc__)
    parser.add_argument("--yes", action="store_true", help="do not ask before deleting in live mode")
    parser.add_argument("--region", action="append", help="region to clean (repeatable; default: the lab's regions)")
    args = parser.parse_args(argv)
    try:
        mode = activate()
    except ModeError as exc:
        print(f"teardown: {exc}", file=sys.stderr)
        return 2
    if mode == "live" and not args.yes:
        if not sys.stdin.isatty():  # piped or closed input is not a learner saying yes
            print("teardown: live mode deletes real resources and there is no terminal to ask on; nothing deleted. "
                  "Run `python -m helpers teardown --yes` to delete without asking.", file=sys.stderr)
            return 2
        try:
            answer = input("Delete every resource tagged lab=bedrock-customization-lab? Type yes: ")
        except EOFError:
            answer = ""
        if answer.strip().lower() != "yes":
            print("nothing deleted")
            return 1
    done = teardown(tuple(args.region) if args.region else LAB_REGIONS)
    return 1 if done["not_deleted"] else 0


# --------------------------------------------------------------------------- exercise checks (notebook 04)

def check_max_epochs(answer, limit: int) -> str:
    """Exercise 1: the largest epochCount the job accepts; a number or the string the API takes ("5") is an answer."""
    if answer is None:
        return "Not yet: set my_max_epochs to a number."
    try:
        given = int(str(answer).strip())
    except ValueError:
        return f"Not yet: {answer!r} is not a number; the ValidationException message names the valid range."
    shown = f"{answer!r}" if isinstance(answer, str) else str(given)
    if given > limit:
        return f"Not yet: {shown} is above the limit - a job asking for it is refused at creation. Read the range."
    if given < limit:
        return f"Not yet: {shown} is accepted, and so is a larger value; the ValidationException names the range's top."
    return (f"Right: {shown} - at most {limit} epochs (sent as the string \"{limit}\"); more passes need more (or "
            "duplicated) data.")


def check_invoke_body(runtime, model_id: str, body: dict, prompt: str) -> str:
    """Exercise 2: send the learner's invoke_model body; right when the model answers and was asked `prompt`."""
    import json

    try:
        reply = json.loads(runtime.invoke_model(modelId=model_id, body=json.dumps(body))["body"].read())
    except runtime.exceptions.ValidationException as err:
        return f"Not yet: {err.response['Error']['Message']}"
    if json.dumps(prompt)[1:-1] not in json.dumps(body):  # the prompt as JSON text, anywhere in the body
        return "Not yet: the model answered, but not to the firm's prompt for test_set[0] (corpus.clause_prompt)."
    stop = next((reply[k] for k in ("stop_reason", "stopReason") if k in reply), None)  # Llama/Anthropic, Nova
    return f"Right: the model answered the firm's prompt (stop reason {stop!r})."


def check_metrics_key(key: str, keys: list[str], job_arn: str) -> str:
    """Exercise 3: the S3 key of the job's validation metrics, built from the output prefix and the job id."""
    job_id = job_arn.rsplit("/", 1)[-1]
    if key.startswith("s3://"):
        return "Not yet: the key is what follows the bucket name - drop s3://BUCKET/."
    if key.endswith("step_wise_training_metrics.csv"):
        return "Not yet: that is the training metrics; the validation file sits in validation_artifacts/."
    if key in keys and key.endswith("validation_metrics.csv"):
        return f"Right: output/model-customization-job-{job_id}/validation_artifacts/post_fine_tuning_validation/..."
    if job_id not in key:
        return (f"Not yet: the folder is model-customization-job-<the last part of the job ARN>, here {job_id}; "
                "list the prefix to see it.")
    return "Not yet: the folder is right; list the prefix to see the validation file's exact path."
