"""Offline Amazon Bedrock: the control plane (customization jobs, custom models, provisioned throughput,
custom model deployments, tags) and the entry point shared by both transports.

`Emulator.handle(service, operation, method, url, headers, body) -> (status, headers, body)` answers one
serialized request; hook.py plugs it into botocore, server.py behind a loopback HTTP port. Messages
quoted from AWS documentation or observed service answers are marked "AWS wording"; the others
follow the service's style and say what to fix; what the lab does not emulate is said in the lab's own voice
(wire.LAB_VOICE). Account id, ARNs and phase durations come from account.py, the package's leaf module.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import socket
import threading
import time
from typing import Any, Callable

from botocore import xform_name

from helpers import catalog

from . import runtime, training
from .account import ACCOUNT, deployment_arn, duration, fm_arn, job_arn, new_id, provisioned_model_arn
from .state import StateError, Store
from .wire import AwsError, Codec

SERVICES = ("bedrock", "bedrock-runtime")
PHASES = ("validation", "dataProcessing", "training")  # StatusDetails: validationDetails, dataProcessingDetails, ...
NO_COMMIT_LIMIT = 2      # no-commitment provisioned throughputs per account (prov-throughput.html)
NO_COMMIT_UNITS = 1      # model units each
_SCOPE = re.compile(r"Credential=[^/]+/[0-9]{8}/([a-z0-9-]+)/")
_HOST_REGION = re.compile(r"bedrock(?:-runtime)?\.([a-z0-9-]+)\.amazonaws\.com")
# The lab's note after AWS's wording when a role or bucket is missing: moto keeps them in memory, the jobs and
# models are on disk, so a restart forgets the former and keeps the latter.
RESTART_NOTE = (" (offline lab: S3 buckets and IAM roles live in the memory of the process serving the offline "
                "account, this kernel or `python -m helpers offline-aws`, and start empty when it restarts, while "
                "jobs and custom models are kept on disk; create the role or bucket again.)")
WORKERS: dict[str, threading.Thread] = {}  # job ARN -> the thread training it in this process (any emulator)


def stamp(t: float | None) -> dt.datetime | None:
    """Return a stored epoch time as the aware datetime botocore expects."""
    return None if t is None else dt.datetime.fromtimestamp(t, dt.timezone.utc)


def region_of(url: str, headers: dict) -> str:
    """Return the request's region: the SigV4 scope, else the endpoint host, else us-east-1."""
    auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
    auth = auth.decode() if isinstance(auth, bytes) else auth
    hit = _SCOPE.search(auth) or _HOST_REGION.search(url)
    return hit.group(1) if hit else "us-east-1"


class Emulator:
    """Answers bedrock and bedrock-runtime requests from the shared state and the local model."""

    def __init__(self, store: Store | None = None, client_factory: Callable[[str, str], Any] | None = None):
        self.store = store or Store()
        self.codecs = {name: Codec(name) for name in SERVICES}
        self._client_factory = client_factory or _boto3_client
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    # ----------------------------------------------------------------------------- transport-neutral entry
    def handle(self, service: str, operation: str | None, method: str, url: str, headers: dict,
               body: bytes) -> tuple[int, dict, bytes]:
        """Answer one serialized request (operation None: route by method and path, as the service does)."""
        from urllib.parse import urlsplit
        codec = self.codecs[service]
        path = urlsplit(url).path
        op, path_params = codec.route(method, path, operation)
        if op is None:
            return codec.error("UnknownOperationException", f"No operation matches {method} {path}", 404)
        handler = getattr(self, f"{service.replace('-', '_')}__{xform_name(op.name)}", None)
        if handler is None:
            err = codec.not_emulated(op, f"{service}.{op.name}")
            return codec.error(err.code, err.message, err.status)
        try:
            try:
                params = codec.decode(op, url, headers, body or b"", path_params)
            except (ValueError, TypeError, KeyError) as exc:  # e.g. ?maxResults=ten, a list where a map goes
                raise AwsError("SerializationException", f"The request could not be read: {exc}.") from None
            codec.validate(op, params)
            result = handler(region_of(url, headers), **params) or {}
            codec.check_output(op, _public(result))
            return codec.encode(op, result)
        except AwsError as e:
            return codec.error(e.code, e.message, e.status)
        except StateError as e:  # sent as a client error: an SDK retrying a 5xx cannot mend the file
            return codec.error("InternalServerException", str(e), 400)

    def client(self, service: str, region: str):
        """Return a (cached) boto3 client for the moto-backed services the emulator reads: s3, iam."""
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = self._client_factory(service, region)
            return self._clients[key]

    # ----------------------------------------------------------------------------- shared helpers
    def refresh(self, doc: dict, now: float | None = None) -> None:
        """Advance time-driven statuses and fail jobs whose training process has gone away."""
        now = time.time() if now is None else now
        for pt in doc["throughputs"].values():
            if pt["status"] == "Creating" and now - pt["creationTime"] >= duration("throughput"):
                pt["status"], pt["lastModifiedTime"] = "InService", now
        for dep in doc["deployments"].values():
            if dep["status"] == "Creating" and now - dep["createdAt"] >= duration("deployment"):
                dep["status"], dep["lastUpdatedAt"] = "Active", now
        for job in doc["jobs"].values():
            if job["status"] in ("InProgress", "Stopping") and not self._worker_alive(job):
                stopped = job["status"] == "Stopping"
                training.end_job(job, "Stopped" if stopped else "Failed", now, None if stopped else (
                    "Internal error: the process that ran this offline job ended before the job finished. "
                    "Create the job again."))

    def _worker_alive(self, job: dict) -> bool:
        worker = job.get("worker", {})
        if worker.get("token") == self.store.worker_token():
            thread = WORKERS.get(job["jobArn"])
            return thread is not None and thread.is_alive()
        if "token" in worker:
            return self.store.worker_alive(worker["token"])
        return False  # recorded by a version of the lab that did not leave a token: its process is long gone

    @staticmethod
    def find(items: dict, ident: str, name_key: str, region: str, what: str) -> dict:
        """Return the resource with this ARN or name in the region, else raise ResourceNotFoundException."""
        hit = items.get(ident) or next((r for r in items.values()
                                        if r[name_key] == ident and r["region"] == region), None)
        if hit is None:
            raise AwsError("ResourceNotFoundException", f"{what} {ident} not found in {region}.")
        return hit

    # ----------------------------------------------------------------------------- foundation models
    def _summary(self, region: str, m: catalog.FoundationModel) -> dict:
        # VIDEO is on the model cards but not in the API's ModelModality enum (TEXT | IMAGE | EMBEDDING)
        api_modalities = self.codecs["bedrock"].model.shape_for("ModelModality").enum
        modalities = [x for x in m.input_modalities if x in api_modalities]
        return dict(modelArn=fm_arn(region, m.model_id), modelId=m.model_id, modelName=m.name,
                    providerName=m.provider, inputModalities=modalities, outputModalities=["TEXT"],
                    responseStreamingSupported=True, customizationsSupported=list(m.customizations),
                    inferenceTypesSupported=list(m.inference_types),
                    modelLifecycle={"status": catalog.lifecycle(m, region)})

    def bedrock__list_foundation_models(self, region, byProvider=None, byCustomizationType=None,
                                        byOutputModality=None, byInferenceType=None, **_):
        # the lifecycle enum has no EOL: a model past its end of life in a Region is no longer listed there
        out = [self._summary(region, m) for m in catalog.foundation_models().values()
               if catalog.available(m, region)
               and (byProvider is None or byProvider.lower() == m.provider.lower())
               and (byCustomizationType is None or byCustomizationType in m.customizations)
               and (byInferenceType is None or byInferenceType in m.inference_types)
               and (byOutputModality in (None, "TEXT"))]
        return {"modelSummaries": out}

    def bedrock__get_foundation_model(self, region, modelIdentifier, **_):
        m = catalog.foundation_models().get(catalog.model_id_of(modelIdentifier))
        if m is None or region not in m.regions:
            raise AwsError("ResourceNotFoundException", f"The model {modelIdentifier} was not found in {region}.")
        runtime.check_not_eol(m, region)
        return {"modelDetails": self._summary(region, m)}

    # ----------------------------------------------------------------------------- customization jobs
    def bedrock__create_model_customization_job(self, region, jobName, customModelName, roleArn,
                                                baseModelIdentifier, trainingDataConfig, outputDataConfig,
                                                customizationType="FINE_TUNING", hyperParameters=None,
                                                validationDataConfig=None, clientRequestToken=None,
                                                jobTags=None, customModelTags=None, **rest):
        with self.store.transaction() as doc:
            self.refresh(doc)
            if clientRequestToken and clientRequestToken in doc["tokens"]:
                return {"jobArn": doc["tokens"][clientRequestToken]}  # an idempotent retry
            fm, parent = self._base_for_job(doc, region, baseModelIdentifier, customizationType)
            if rest.get("customizationConfig") or rest.get("vpcConfig"):
                raise self.codecs["bedrock"].not_emulated(
                    self.codecs["bedrock"].model.operation_model("CreateModelCustomizationJob"),
                    "customizationConfig or vpcConfig of CreateModelCustomizationJob")
            hp = training.check_hyperparameters(fm, hyperParameters or {})
            if any(j["jobName"] == jobName and j["region"] == region for j in doc["jobs"].values()):
                raise AwsError("ConflictException", f"A model customization job with the name {jobName} "
                                                    f"already exists in {region}. Job names are unique per account "
                                                    "and Region.")
            if any(m["modelName"] == customModelName and m["region"] == region for m in doc["models"].values()) or \
                    any(j["outputModelName"] == customModelName and j["region"] == region
                        and j["status"] in ("InProgress", "Stopping") for j in doc["jobs"].values()):
                raise AwsError("ConflictException", f"A custom model with the name {customModelName} already "
                                                    f"exists in {region}.")
            self._check_role(region, roleArn)
            train = self._read_object(region, trainingDataConfig["s3Uri"])
            validation = [(v["s3Uri"], self._read_object(region, v["s3Uri"]))
                          for v in (validationDataConfig or {}).get("validators", [])]
            self._check_output(region, outputDataConfig["s3Uri"])
            job_id = new_id("job", region, jobName)
            arn = job_arn(region, fm.model_id, job_id)
            now = time.time()
            doc["jobs"][arn] = dict(
                jobArn=arn, id=job_id, jobName=jobName, region=region, outputModelName=customModelName,
                roleArn=roleArn, clientRequestToken=clientRequestToken, status="InProgress",
                creationTime=now, lastModifiedTime=now, baseModelArn=parent or fm_arn(region, fm.model_id),
                base_model_id=fm.model_id, parent=parent, hyperParameters=hyperParameters or {}, effective=hp,
                trainingDataConfig=trainingDataConfig,
                validationDataConfig=validationDataConfig or {"validators": []},
                outputDataConfig=outputDataConfig, customizationType=customizationType,
                phases={}, worker={"token": self.store.worker_token(), "pid": os.getpid(),
                                 "host": socket.gethostname()},
                customModelTags=customModelTags or [])
            doc["tags"][arn] = jobTags or []
            if clientRequestToken:
                doc["tokens"][clientRequestToken] = arn
        thread = threading.Thread(target=training.run_job, name=f"offline-job-{job_id}", daemon=True,
                                  args=(self, arn, (trainingDataConfig["s3Uri"], train), validation))
        WORKERS[arn] = thread
        thread.start()
        return {"jobArn": arn}

    def _base_for_job(self, doc, region, identifier, customization):
        """Return (customizable foundation model, parent custom-model ARN or None), or raise like Bedrock."""
        parent = None
        if ":custom-model/" in identifier:
            model = self.find(doc["models"], identifier, "modelName", region, "Custom model")
            parent, identifier = model["modelArn"], model["base_model_id"]
        fm = catalog.foundation_models().get(catalog.model_id_of(identifier))
        if fm is None:
            raise AwsError("ValidationException", f"The provided model identifier {identifier} is invalid: "
                                                  "no such base model.")
        if not fm.customizations:
            raise AwsError("ValidationException", f"The model {fm.model_id} can't be customized. Choose a "
                                                  "model from list_foundation_models(byCustomizationType="
                                                  f"'{customization}').")
        if region not in fm.regions:
            raise AwsError("ValidationException", f"Customization of {fm.model_id} is not available in "
                                                  f"{region}; it is offered in {', '.join(fm.regions)}.")
        runtime.check_not_eol(fm, region)
        if customization not in fm.customizations:
            raise AwsError("ValidationException", f"{fm.model_id} does not support customization type "
                                                  f"{customization}; it supports {', '.join(fm.customizations)}.")
        if customization not in ("FINE_TUNING", "CONTINUED_PRE_TRAINING"):
            raise self.codecs["bedrock"].not_emulated(
                self.codecs["bedrock"].model.operation_model("CreateModelCustomizationJob"),
                f"customizationType {customization} (the lab emulates FINE_TUNING and CONTINUED_PRE_TRAINING)")
        return fm, parent

    def _check_role(self, region: str, role_arn: str) -> None:
        """The role must exist in this account and trust bedrock.amazonaws.com."""
        account, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[-1]
        try:
            role = self.client("iam", region).get_role(RoleName=name)["Role"] if account == ACCOUNT else None
        except Exception:
            role = None
        policy = (role or {}).get("AssumeRolePolicyDocument") or {}
        if isinstance(policy, str):
            from urllib.parse import unquote
            policy = json.loads(unquote(policy))
        trusted = any(s.get("Effect") == "Allow" and "bedrock.amazonaws.com" in json.dumps(s.get("Principal", {}))
                      for s in policy.get("Statement", []))
        if not trusted:  # AWS wording, and the lab's note when the role is not there at all
            raise AwsError("ValidationException", "Could not assume provided IAM role." + ("" if role else RESTART_NOTE))

    def _read_object(self, region: str, uri: str) -> bytes:
        """Read a data file the role can get; a missing bucket or key fails as Bedrock does."""
        bucket, _, key = uri[len("s3://"):].partition("/")
        s3 = self.client("s3", region)
        try:
            self._check_bucket_region(s3, bucket, region)
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except AwsError:
            raise
        except Exception:
            raise AwsError("ValidationException", f"Could not validate GetObject permissions to access Amazon S3 "
                                                  f"bucket: {bucket} at key {key}{RESTART_NOTE}") from None  # AWS wording

    def _check_output(self, region: str, uri: str) -> None:
        bucket, _, prefix = uri[len("s3://"):].partition("/")
        s3 = self.client("s3", region)
        try:
            s3.head_bucket(Bucket=bucket)
        except Exception:
            raise AwsError("ValidationException", "Amazon S3 perms missing (PutObject): Could not validate PutObject "
                                                  f"permissions to access S3 bucket: {bucket} at key "
                                                  f"{prefix}.write_access_check_file.tmp{RESTART_NOTE}") from None
        self._check_bucket_region(s3, bucket, region)

    @staticmethod
    def _check_bucket_region(s3, bucket: str, region: str) -> None:
        located = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
        if located != region:
            raise AwsError("ValidationException", f"The S3 bucket {bucket} is in {located}; a customization job in "
                                                  f"{region} needs its data and output in {region}.")

    def job_view(self, job: dict) -> dict:
        """Return a job as GetModelCustomizationJob answers it."""
        # a phase the job has not reached (or never will) is NotStarted, a value of the JobStatusDetails enum
        phases = {name: {"status": "NotStarted"} for name in PHASES}
        phases.update({name: {"status": p["status"], "creationTime": stamp(p["start"]),
                              "lastModifiedTime": stamp(p["end"] or p["start"])} for name, p in job["phases"].items()})
        return dict(
            jobArn=job["jobArn"], jobName=job["jobName"], outputModelName=job["outputModelName"],
            outputModelArn=job.get("outputModelArn"), clientRequestToken=job["clientRequestToken"],
            roleArn=job["roleArn"], status=job["status"], failureMessage=job.get("failureMessage"),
            statusDetails={f"{k}Details": v for k, v in phases.items()},
            creationTime=stamp(job["creationTime"]), lastModifiedTime=stamp(job["lastModifiedTime"]),
            endTime=stamp(job.get("endTime")), baseModelArn=job["baseModelArn"],
            hyperParameters=job["hyperParameters"], trainingDataConfig=job["trainingDataConfig"],
            validationDataConfig=job["validationDataConfig"], outputDataConfig=job["outputDataConfig"],
            customizationType=job["customizationType"], trainingMetrics=job.get("trainingMetrics"),
            validationMetrics=job.get("validationMetrics"))

    def bedrock__get_model_customization_job(self, region, jobIdentifier, **_):
        with self.store.transaction() as doc:
            self.refresh(doc)
            return self.job_view(self.find(doc["jobs"], jobIdentifier, "jobName", region,
                                           "Model customization job"))

    def bedrock__list_model_customization_jobs(self, region, statusEquals=None, nameContains=None,
                                               creationTimeAfter=None, creationTimeBefore=None,
                                               sortOrder="Descending", maxResults=None, nextToken=None, **_):
        with self.store.transaction() as doc:
            self.refresh(doc)
            jobs = [j for j in doc["jobs"].values() if j["region"] == region
                    and (statusEquals is None or j["status"] == statusEquals)
                    and (nameContains is None or nameContains in j["jobName"])
                    and (creationTimeAfter is None or j["creationTime"] > creationTimeAfter.timestamp())
                    and (creationTimeBefore is None or j["creationTime"] < creationTimeBefore.timestamp())]
        jobs.sort(key=lambda j: (j["creationTime"], j["jobName"]), reverse=sortOrder != "Ascending")
        page, token = _page(jobs, maxResults, nextToken)
        return {"nextToken": token, "modelCustomizationJobSummaries": [dict(
            jobArn=j["jobArn"], jobName=j["jobName"], status=j["status"], baseModelArn=j["baseModelArn"],
            creationTime=stamp(j["creationTime"]), lastModifiedTime=stamp(j["lastModifiedTime"]),
            endTime=stamp(j.get("endTime")), customModelArn=j.get("outputModelArn"),
            customModelName=j["outputModelName"] if j.get("outputModelArn") else None,
            customizationType=j["customizationType"]) for j in page]}

    def bedrock__stop_model_customization_job(self, region, jobIdentifier, **_):
        with self.store.transaction() as doc:
            self.refresh(doc)
            job = self.find(doc["jobs"], jobIdentifier, "jobName", region, "Model customization job")
            if job["status"] != "InProgress":
                raise AwsError("ConflictException", f"The job {job['jobName']} is {job['status']}; only an "
                                                    "InProgress job can be stopped.")
            job.update(status="Stopping", lastModifiedTime=time.time())
        return {}

    # ----------------------------------------------------------------------------- custom models
    def bedrock__get_custom_model(self, region, modelIdentifier, **_):
        with self.store.transaction() as doc:
            m = self.find(doc["models"], modelIdentifier, "modelName", region, "Custom model")
        keys = ("modelArn", "modelName", "jobName", "jobArn", "baseModelArn", "customizationType", "hyperParameters",
                "trainingDataConfig", "validationDataConfig", "outputDataConfig", "trainingMetrics",
                "validationMetrics", "modelStatus")
        return {**{k: m.get(k) for k in keys}, "creationTime": stamp(m["creationTime"])}

    def bedrock__list_custom_models(self, region, nameContains=None, baseModelArnEquals=None,
                                    foundationModelArnEquals=None, modelStatus=None, sortOrder="Descending",
                                    maxResults=None, nextToken=None, **_):
        with self.store.transaction() as doc:
            models = [m for m in doc["models"].values() if m["region"] == region
                      and (nameContains is None or nameContains in m["modelName"])
                      and (baseModelArnEquals is None or m["baseModelArn"] == baseModelArnEquals)
                      and (foundationModelArnEquals is None or fm_arn(region, m["base_model_id"])
                           == foundationModelArnEquals)
                      and (modelStatus is None or m["modelStatus"] == modelStatus)]
        models.sort(key=lambda m: (m["creationTime"], m["modelName"]), reverse=sortOrder != "Ascending")
        page, token = _page(models, maxResults, nextToken)
        return {"nextToken": token, "modelSummaries": [dict(
            modelArn=m["modelArn"], modelName=m["modelName"], creationTime=stamp(m["creationTime"]),
            baseModelArn=m["baseModelArn"], baseModelName=m["baseModelName"],
            customizationType=m["customizationType"], ownerAccountId=ACCOUNT, modelStatus=m["modelStatus"])
            for m in page]}

    def bedrock__delete_custom_model(self, region, modelIdentifier, **_):
        with self.store.transaction() as doc:
            self.refresh(doc)
            m = self.find(doc["models"], modelIdentifier, "modelName", region, "Custom model")
            users = [p["provisionedModelName"] for p in doc["throughputs"].values() if p["modelArn"] == m["modelArn"]]
            users += [d["modelDeploymentName"] for d in doc["deployments"].values() if d["modelArn"] == m["modelArn"]]
            if users:
                raise AwsError("ConflictException", f"The custom model {m['modelName']} is in use by "
                                                    f"{', '.join(users)}. Delete those first.")
            del doc["models"][m["modelArn"]]
            forget(doc, m["modelArn"])
        _remove_tree(self.store.model_dir(m["id"]))
        return {}

    # ----------------------------------------------------------------------------- provisioned throughput
    def bedrock__create_provisioned_model_throughput(self, region, modelUnits, provisionedModelName, modelId,
                                                     commitmentDuration=None, clientRequestToken=None,
                                                     tags=None, **_):
        with self.store.transaction() as doc:
            self.refresh(doc)
            if clientRequestToken and clientRequestToken in doc["tokens"]:
                return {"provisionedModelArn": doc["tokens"][clientRequestToken]}
            if ":custom-model/" not in modelId and not any(m["modelName"] == modelId for m in doc["models"].values()):
                base = catalog.foundation_models().get(catalog.model_id_of(modelId))
                if base is not None and region in base.regions:
                    check_can_provision(base, region)
                raise AwsError("ValidationException", "No-commitment Provisioned Throughput is available for custom "
                                                      "models only, and this offline account has no model units for "
                                                      "commitment terms. Pass a custom model's ARN or name.")
            model = self.find(doc["models"], modelId, "modelName", region, "Custom model")
            check_can_provision(catalog.foundation_models()[model["base_model_id"]], region)
            if commitmentDuration:
                raise AwsError("ServiceQuotaExceededException", "Your account has no model units for Provisioned "
                                                                "Throughput with a commitment; request them from AWS "
                                                                "Support, or omit commitmentDuration.")
            if modelUnits > NO_COMMIT_UNITS:
                raise AwsError("ServiceQuotaExceededException", f"A no-commitment Provisioned Throughput has a quota "
                                                                f"of {NO_COMMIT_UNITS} model unit; you asked for "
                                                                f"{modelUnits}.")
            if any(p["provisionedModelName"] == provisionedModelName and p["region"] == region
                   for p in doc["throughputs"].values()):
                raise AwsError("ValidationException", f"A Provisioned Throughput named {provisionedModelName} "
                                                      "already exists.")
            if sum(1 for p in doc["throughputs"].values() if not p.get("commitmentDuration")) >= NO_COMMIT_LIMIT:
                raise AwsError("ServiceQuotaExceededException", f"You have reached the quota of {NO_COMMIT_LIMIT} "
                                                                "no-commitment Provisioned Throughputs per account. "
                                                                "Delete one before creating another.")
            arn = provisioned_model_arn(region, new_id("pt", region, provisionedModelName))
            now = time.time()
            doc["throughputs"][arn] = dict(
                provisionedModelArn=arn, provisionedModelName=provisionedModelName, region=region,
                modelUnits=modelUnits, desiredModelUnits=modelUnits, modelArn=model["modelArn"],
                desiredModelArn=model["modelArn"], foundationModelArn=fm_arn(region, model["base_model_id"]),
                status="Creating", creationTime=now, lastModifiedTime=now)
            doc["tags"][arn] = tags or []
            if clientRequestToken:
                doc["tokens"][clientRequestToken] = arn
        return {"provisionedModelArn": arn}

    @staticmethod
    def _pt_view(p: dict) -> dict:
        return {**{k: p[k] for k in ("provisionedModelArn", "provisionedModelName", "modelUnits", "desiredModelUnits",
                                     "modelArn", "desiredModelArn", "foundationModelArn", "status")},
                "creationTime": stamp(p["creationTime"]), "lastModifiedTime": stamp(p["lastModifiedTime"])}

    def bedrock__get_provisioned_model_throughput(self, region, provisionedModelId, **_):
        with self.store.transaction() as doc:
            self.refresh(doc)
            return self._pt_view(self.find(doc["throughputs"], provisionedModelId, "provisionedModelName", region,
                                           "Provisioned model"))

    def bedrock__list_provisioned_model_throughputs(self, region, statusEquals=None, nameContains=None,
                                                    sortOrder="Descending", maxResults=None, nextToken=None, **_):
        with self.store.transaction() as doc:
            self.refresh(doc)
            pts = [p for p in doc["throughputs"].values() if p["region"] == region
                   and (statusEquals is None or p["status"] == statusEquals)
                   and (nameContains is None or nameContains in p["provisionedModelName"])]
        pts.sort(key=lambda p: (p["creationTime"], p["provisionedModelName"]), reverse=sortOrder != "Ascending")
        page, token = _page(pts, maxResults, nextToken)
        return {"nextToken": token, "provisionedModelSummaries": [self._pt_view(p) for p in page]}

    def bedrock__delete_provisioned_model_throughput(self, region, provisionedModelId, **_):
        with self.store.transaction() as doc:
            pt = self.find(doc["throughputs"], provisionedModelId, "provisionedModelName", region,
                           "Provisioned model")
            del doc["throughputs"][pt["provisionedModelArn"]]
            forget(doc, pt["provisionedModelArn"])
        return {}

    # ----------------------------------------------------------------------------- on-demand deployments
    def bedrock__create_custom_model_deployment(self, region, modelDeploymentName, modelArn, description=None,
                                                tags=None, clientRequestToken=None, **_):
        with self.store.transaction() as doc:
            self.refresh(doc)
            if clientRequestToken and clientRequestToken in doc["tokens"]:
                return {"customModelDeploymentArn": doc["tokens"][clientRequestToken]}
            model = self.find(doc["models"], modelArn, "modelName", region, "Custom model")
            fm = catalog.foundation_models()[model["base_model_id"]]
            runtime.check_not_eol(fm, region)
            if "DEPLOYMENT" not in fm.custom_serving:
                raise AwsError("ValidationException", f"On-demand deployment is not supported for custom models of "
                                                      f"{fm.model_id}; use Provisioned Throughput.")
            if any(d["modelDeploymentName"] == modelDeploymentName and d["region"] == region
                   for d in doc["deployments"].values()):
                raise AwsError("ValidationException", f"A custom model deployment named {modelDeploymentName} "
                                                      "already exists.")
            arn = deployment_arn(region, new_id("deployment", region, modelDeploymentName))
            now = time.time()
            doc["deployments"][arn] = dict(customModelDeploymentArn=arn, modelDeploymentName=modelDeploymentName,
                                           region=region, modelArn=model["modelArn"], description=description,
                                           status="Creating", createdAt=now, lastUpdatedAt=now)
            doc["tags"][arn] = tags or []
            if clientRequestToken:
                doc["tokens"][clientRequestToken] = arn
        return {"customModelDeploymentArn": arn}

    def bedrock__get_custom_model_deployment(self, region, customModelDeploymentIdentifier, **_):
        with self.store.transaction() as doc:
            self.refresh(doc)
            d = self.find(doc["deployments"], customModelDeploymentIdentifier, "modelDeploymentName", region,
                          "Custom model deployment")
        return {**{k: d[k] for k in ("customModelDeploymentArn", "modelDeploymentName", "modelArn", "status",
                                     "description")},
                "createdAt": stamp(d["createdAt"]), "lastUpdatedAt": stamp(d["lastUpdatedAt"])}

    def bedrock__list_custom_model_deployments(self, region, statusEquals=None, nameContains=None,
                                               modelArnEquals=None, sortOrder="Descending", maxResults=None,
                                               nextToken=None, **_):
        with self.store.transaction() as doc:
            self.refresh(doc)
            deps = [d for d in doc["deployments"].values() if d["region"] == region
                    and (statusEquals is None or d["status"] == statusEquals)
                    and (nameContains is None or nameContains in d["modelDeploymentName"])
                    and (modelArnEquals is None or d["modelArn"] == modelArnEquals)]
        deps.sort(key=lambda d: (d["createdAt"], d["modelDeploymentName"]), reverse=sortOrder != "Ascending")
        page, token = _page(deps, maxResults, nextToken)
        return {"nextToken": token, "modelDeploymentSummaries": [dict(
            customModelDeploymentArn=d["customModelDeploymentArn"], customModelDeploymentName=d["modelDeploymentName"],
            modelArn=d["modelArn"], status=d["status"], createdAt=stamp(d["createdAt"]),
            lastUpdatedAt=stamp(d["lastUpdatedAt"])) for d in page]}

    def bedrock__delete_custom_model_deployment(self, region, customModelDeploymentIdentifier, **_):
        with self.store.transaction() as doc:
            d = self.find(doc["deployments"], customModelDeploymentIdentifier, "modelDeploymentName", region,
                          "Custom model deployment")
            del doc["deployments"][d["customModelDeploymentArn"]]
            forget(doc, d["customModelDeploymentArn"])
        return {}

    # ----------------------------------------------------------------------------- tags
    def _tagged(self, doc: dict, arn: str) -> list:
        if arn not in doc["tags"]:
            raise AwsError("ResourceNotFoundException", f"The resource {arn} was not found.")
        return doc["tags"][arn]

    def bedrock__tag_resource(self, region, resourceARN, tags, **_):
        with self.store.transaction() as doc:
            keep = [t for t in self._tagged(doc, resourceARN) if t["key"] not in {n["key"] for n in tags}]
            doc["tags"][resourceARN] = keep + tags
        return {}

    def bedrock__untag_resource(self, region, resourceARN, tagKeys, **_):
        with self.store.transaction() as doc:
            doc["tags"][resourceARN] = [t for t in self._tagged(doc, resourceARN) if t["key"] not in tagKeys]
        return {}

    def bedrock__list_tags_for_resource(self, region, resourceARN, **_):
        with self.store.transaction() as doc:
            return {"tags": list(self._tagged(doc, resourceARN))}

    # ----------------------------------------------------------------------------- runtime
    def bedrock_runtime__converse(self, region, modelId, messages=None, system=None, inferenceConfig=None, **rest):
        return runtime.converse(self, region, modelId, messages or [], system, inferenceConfig or {}, rest)

    def bedrock_runtime__converse_stream(self, region, modelId, messages=None, system=None, inferenceConfig=None,
                                         **rest):
        reply = runtime.converse(self, region, modelId, messages or [], system, inferenceConfig or {}, rest)
        return {"stream": runtime.converse_events(reply)}

    def bedrock_runtime__invoke_model(self, region, modelId, body=b"", **_):
        return {"body": json.dumps(runtime.invoke(self, region, modelId, body)).encode(),
                "contentType": "application/json"}

    def bedrock_runtime__invoke_model_with_response_stream(self, region, modelId, body=b"", **_):
        return {"body": [{"chunk": {"bytes": json.dumps(c).encode()}}
                         for c in runtime.invoke_chunks(self, region, modelId, body)],
                "contentType": "application/json"}


def check_can_provision(model: catalog.FoundationModel, region: str) -> None:
    """Raise unless new Provisioned Throughput can be bought for (custom models of) this model in this Region."""
    runtime.check_not_eol(model, region)
    if catalog.lifecycle(model, region) == "LEGACY":
        raise AwsError("ValidationException", catalog.LEGACY_PROVISIONING_MESSAGE.format(model=model.model_id))


def forget(doc: dict, arn: str) -> None:
    """Drop a deleted resource's tags and the client request tokens that pointed at it."""
    doc["tags"].pop(arn, None)
    for token in [t for t, target in doc["tokens"].items() if target == arn]:
        del doc["tokens"][token]


def _boto3_client(service: str, region: str):
    import boto3
    return boto3.session.Session().client(service, region_name=region)


def _public(value: Any) -> Any:
    """Drop None values before the self-check (absent members are simply not sent)."""
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value


def _page(items: list, max_results: int | None, token: str | None) -> tuple[list, str | None]:
    try:
        start = int(base64.b64decode(token, validate=True).decode()) if token else 0
    except ValueError:  # binascii.Error, UnicodeDecodeError and a non-number all are ValueErrors
        start = -1
    if start < 0:
        raise AwsError("ValidationException", f"Invalid nextToken {token!r}: pass the nextToken of the previous "
                                              "response of this same request, unchanged.")
    end = start + (max_results or 100)
    return items[start:end], (base64.b64encode(str(end).encode()).decode() if end < len(items) else None)


def _remove_tree(path) -> None:
    import shutil
    shutil.rmtree(path, ignore_errors=True)
