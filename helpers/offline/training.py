"""What a customization job does offline: check the data, train the local model, write Bedrock's outputs.

The job's hyperparameters are checked against data/bedrock/hyperparameters.csv (strings only, as the API
takes them) and mapped onto the local model: epochs and warm-up steps as given; the learning rate scaled
so the base model's documented default lands on the local model's own default (a 10x larger
learningRate is 10x larger here too); batchSize as given but never below MIN_LOCAL_BATCH records, so a
batch-1 model does not take a thousand tiny steps on a laptop. A batch is that many records for either
customization type (the API's batchSize counts samples): continued pre-training packs several short records
into one context-long sequence, so its local batch holds as many sequences as that many records fill, and
equal records, epochs and batchSize give a continued pre-training job and a fine-tuning job the same number of
optimizer steps.

The data are checked with Bedrock's documented rules only (helpers.formats: format, record counts, token
limits, reserved words); the local model reads any text. A record within Bedrock's limits but longer than
the local model's context (192 tokens) is cut to fit as helpers.local_model does it: a fine-tuning record
keeps its whole completion and the end of its prompt; a continued pre-training text is read whole, in
context-long pieces. Token counts, for limits and cost estimates, come from the same tokenizer.

A job that fails on its data answers as Bedrock does: the failureMessage names the S3 key, not a line, and
gives no advice (see data_failure_message). File, line and field are check-data's to name (helpers.formats);
helpers.aws.wait_for prints the lab's advice to run it, labelled as the lab's.
"""
from __future__ import annotations

import csv
import inspect
import io
import json
import math
import time

from helpers import catalog, formats

from . import runtime
from .account import custom_model_arn, duration, fm_arn, new_id
from .wire import AwsError

MIN_LOCAL_BATCH = 8
SEED = 0
CHECK_STOP_EVERY = 0.25  # seconds between looks at the shared state for a stop request
# A record's shape as a failed job's failureMessage writes it: "Input data at KEY must follow 'SHAPE' format".
# AWS wording for prompt-completion, quoted from a real job in aws-samples/amazon-bedrock-workshop issue 266
# (2024-06-13, checked 2026-12-01); the other families' shapes are written the same way from their documented
# formats (no real message for them was found to quote).
RECORD_SHAPES = {
    "prompt-completion": '{"prompt": "<input text>", "completion": "<output text>"}',
    "bedrock-conversation-2024": '{"schemaVersion": "bedrock-conversation-2024", "system": [{"text": "<system '
                                 'prompt>"}], "messages": [{"role": "user", "content": [{"text": "<input text>"}]}, '
                                 '{"role": "assistant", "content": [{"text": "<output text>"}]}]}',
    "claude-messages": '{"system": "<system prompt>", "messages": [{"role": "user", "content": "<input text>"}, '
                       '{"role": "assistant", "content": "<output text>"}]}',
    "continued-pretraining": '{"input": "<input text>"}',
}
# Findings of a limit (counts, sizes, tokens, reserved words) rather than of a record's shape.
LIMIT_FIELDS = ("(file)", "(record)", "(input)", "(output)", "(text)")


class Stopped(Exception):
    """Raised inside training when StopModelCustomizationJob asked the job to stop."""


def check_hyperparameters(fm: catalog.FoundationModel, given: dict) -> dict:
    """Validate a job's hyperParameters (strings, known names, documented ranges); return all values as numbers."""
    table = catalog.hyperparameters(fm.hp_group)
    values = {name: float(spec.default) for name, spec in table.items()}
    for name, raw in given.items():
        spec = table.get(name)
        if spec is None:
            raise AwsError("ValidationException", f"Hyperparameter {name} is not supported for {fm.model_id}. "
                                                  f"Supported: {', '.join(sorted(table))}.")
        if not isinstance(raw, str):
            raise AwsError("ValidationException", f"Hyperparameter {name} must be a string, got {raw!r}.")
        try:
            value = float(raw) if spec.kind == "float" else int(raw)
        except ValueError:
            raise AwsError("ValidationException", f"Hyperparameter {name} value '{raw}' is not a valid "
                                                  f"{'number' if spec.kind == 'float' else 'integer'}.") from None
        if not spec.low <= value <= spec.high:
            raise AwsError("ValidationException", f"Hyperparameter {name} value '{raw}' is out of range for "
                                                  f"{fm.model_id}. Valid range is [{_num(spec.low)}, "
                                                  f"{_num(spec.high)}].")
        values[name] = value
    return values


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def local_settings(fm: catalog.FoundationModel, hp: dict, train_fn, records_per_sequence: float = 1.0) -> dict:
    """Map Bedrock hyperparameters onto keyword arguments of the local model's training function
    (records_per_sequence: how many training records one local sequence holds; 1 for fine-tuning)."""
    table = catalog.hyperparameters(fm.hp_group)
    local_lr = inspect.signature(train_fn).parameters["learning_rate"].default
    if "learningRate" in hp:
        scale = hp["learningRate"] / float(table["learningRate"].default)
    else:
        scale = hp.get("learningRateMultiplier", 1.0)
    settings = {"epochs": int(hp.get("epochCount", 1)), "learning_rate": local_lr * scale,
                "batch_size": max(1, round(max(int(hp.get("batchSize", MIN_LOCAL_BATCH)), MIN_LOCAL_BATCH)
                                           / records_per_sequence))}
    if "warmup_steps" in inspect.signature(train_fn).parameters:
        settings["warmup_steps"] = int(hp.get("learningRateWarmupSteps", 0))
    return settings


def records_per_sequence(base, texts: list[str]) -> float:
    """How many continued pre-training records one local training sequence holds (local_settings' batch unit)."""
    from helpers import local_model
    return len(texts) / local_model.packed_sequences(base, texts)


def run_job(emulator, arn: str, train: tuple[str, bytes], validation: list[tuple[str, bytes]]) -> None:
    """The job's worker thread: validation, data processing, training, outputs; never raises."""
    try:
        job = _job(emulator, arn)
        fm = catalog.foundation_models()[job["base_model_id"]]
        ctype = job["customizationType"]
        _phase(emulator, arn, "validation")
        report = _check_data(fm.model_id, ctype, train, validation)
        family = formats.family_for(fm.model_id, ctype)
        _wait(job["creationTime"], duration("validation"))
        if not report.ok:
            return _finish(emulator, arn, "Failed", data_failure_message(report, family))
        _phase(emulator, arn, "validation", "Completed")
        started = time.time()
        _phase(emulator, arn, "dataProcessing")
        train_records = _records(train[1])
        val_records = [r for _, blob in validation for r in _records(blob)]
        _wait(started, duration("data_processing"))
        _phase(emulator, arn, "dataProcessing", "Completed")
        _phase(emulator, arn, "training")
        model = _train(emulator, arn, job, fm, family, train_records, val_records)
        _write_metrics(emulator, job, model.history)
        _save_model(emulator, arn, job, fm, family, model)
    except Stopped:
        # Stopping is a status learners poll through, as on AWS: it lasts its own phase, counted from the request.
        _wait(_job(emulator, arn)["lastModifiedTime"], duration("stopping"))
        _finish(emulator, arn, "Stopped", None)
    except Exception as exc:  # a diverging run, a bug or a broken checkpoint ends the job; the data were checked above
        from helpers import local_model
        if isinstance(exc, local_model.DivergedError):
            message = _diverged(job, exc)
        else:
            message = f"Internal error while training offline: {type(exc).__name__}: {exc}"
        _finish(emulator, arn, "Failed", message)


def data_failure_message(report: formats.Report, family: str) -> str:
    """A failed job's failureMessage for data that break the rules: the S3 key of the first file at fault and,
    as Bedrock words it, the shape its records must follow. For a broken limit no real message was found to
    quote, so the lab states the limit in the same frame; neither names a line (that is check-data's)."""
    first = report.findings[0]
    if first.field in LIMIT_FIELDS:
        return f"Input data at {first.file} does not meet the data limits of {report.model_id}: {first.rule}"
    return f"Input data at {first.file} must follow '{RECORD_SHAPES[family]}' format"


def end_job(job: dict, status: str, now: float, message: str | None = None) -> None:
    """Move a job record to a final status; every phase still InProgress ends with it (statusDetails as AWS)."""
    for phase in job.get("phases", {}).values():
        if phase["status"] == "InProgress":
            phase.update(status=status, end=now)
    job.update(status=status, endTime=now, lastModifiedTime=now)
    if message:
        job["failureMessage"] = message


def _diverged(job: dict, exc) -> str:
    """The failure message of a run whose loss went NaN/inf: which learning rate to lower (no model is kept)."""
    name = "learningRate" if "learningRate" in job["effective"] else "learningRateMultiplier"
    return (f"Training diverged: the training loss became {exc.loss} at step {exc.step}, so no custom model was "
            f"created. {name} {job['effective'][name]:g} is too high for this data (the offline model trained "
            f"with learning rate {exc.learning_rate:g}); create a new job with a smaller {name}.")


def _check_data(model_id: str, ctype: str, train: tuple[str, bytes], validation: list[tuple[str, bytes]]):
    """Check every file with the same rules as `check-data`, naming each file by its S3 key."""
    uri, blob = train
    report = formats.check_file(blob, model_id, ctype, role="training", name=_key(uri))
    total = report.n_records
    for vuri, vblob in validation:
        vreport = formats.check_file(vblob, model_id, ctype, role="validation", name=_key(vuri))
        report.findings += vreport.findings
        total += vreport.n_records
    limit = formats.rules_for(model_id, ctype)["max_total_records"]
    if report.ok and limit is not None and total > limit:
        report.findings.append(formats.Finding("training + validation", 0, "(file)", f"{total} records, more than "
                                               f"{limit}", f"max {limit} training + validation records, {model_id}"))
    return report


def _key(uri: str) -> str:
    """The object key of an s3:// URI: how a finding names the file."""
    return uri[len("s3://"):].partition("/")[2]


def _records(blob: bytes) -> list[dict]:
    return [value for _, value, error in formats.read_lines(io.BytesIO(blob)) if not error]


def _train(emulator, arn: str, job: dict, fm, family: str, train_records: list, val_records: list):
    from helpers import local_model
    base = runtime.load_weights(emulator, job["parent"]) if job["parent"] else runtime.base_model()
    last_look = [time.time()]

    def on_step(*_args, **_kwargs) -> None:
        if time.time() - last_look[0] >= CHECK_STOP_EVERY:
            last_look[0] = time.time()
            if _job(emulator, arn)["status"] == "Stopping":
                raise Stopped()

    if job["customizationType"] == "CONTINUED_PRE_TRAINING":
        fn, data = local_model.cached_continue_pretraining, [formats.to_text(r) for r in train_records]
        extra = {}
        settings = local_settings(fm, job["effective"], local_model.continue_pretraining,
                                  records_per_sequence(base, data))
    else:
        fn, data = local_model.cached_finetune, [formats.to_pair(r, family) for r in train_records]
        extra = {"val_pairs": [formats.to_pair(r, family) for r in val_records] or None}
        settings = local_settings(fm, job["effective"], local_model.finetune)
    # cached_*: a job with the same data, hyperparameters and base trains once (the first run trains for real)
    return fn(base, data, **settings, **extra, seed=SEED, progress=False, on_step=on_step)


def _write_metrics(emulator, job: dict, history: list[dict]) -> None:
    """Write the two CSVs where Bedrock writes them (model-customization-analyze.html), columns as documented."""
    bucket, _, prefix = job["outputDataConfig"]["s3Uri"][len("s3://"):].partition("/")
    base = f"{prefix.rstrip('/') + '/' if prefix.strip('/') else ''}model-customization-job-{job['id']}/"
    train_csv = _csv(["step_number", "epoch_number", "training_loss", "perplexity"],
                     [(i, h["epoch"], h["train_loss"]) for i, h in enumerate(history)])
    s3 = emulator.client("s3", job["region"])
    s3.put_object(Bucket=bucket, Key=base + "training_artifacts/step_wise_training_metrics.csv", Body=train_csv)
    val_rows = [(i, h["epoch"], h["val_loss"]) for i, h in enumerate(history) if h.get("val_loss") is not None]
    if val_rows:
        s3.put_object(Bucket=bucket, Key=base + "validation_artifacts/post_fine_tuning_validation/validation_metrics.csv",
                      Body=_csv(["step_number", "epoch_number", "validation_loss", "perplexity"], val_rows))


def _csv(header: list[str], rows: list[tuple]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows((step, epoch, f"{loss:.6f}", f"{math.exp(min(loss, 50)):.6f}") for step, epoch, loss in rows)
    return out.getvalue().encode()


def _save_model(emulator, arn: str, job: dict, fm, family: str, model) -> None:
    """Keep the weights in the offline account's own storage and register the custom model (job Completed)."""
    from helpers import local_model
    model_id = new_id("model", job["region"], job["outputModelName"])
    local_model.save(model, emulator.store.model_dir(model_id))
    history = model.history
    train_loss = history[-1]["train_loss"] if history else None
    val_losses = [h["val_loss"] for h in history if h.get("val_loss") is not None]
    model_arn = custom_model_arn(job["region"], fm.model_id, model_id)
    now = time.time()
    with emulator.store.transaction() as doc:
        j = doc["jobs"][arn]
        if j["status"] == "Stopping":
            raise Stopped()
        metrics = {"trainingMetrics": {"trainingLoss": round(train_loss, 6)} if train_loss is not None else None,
                   "validationMetrics": [{"validationLoss": round(val_losses[-1], 6)}] if val_losses else None}
        doc["models"][model_arn] = dict(
            modelArn=model_arn, id=model_id, modelName=j["outputModelName"], region=j["region"], jobName=j["jobName"],
            jobArn=arn, baseModelArn=fm_arn(j["region"], fm.model_id), baseModelName=fm.name,
            base_model_id=fm.model_id, family=family, customizationType=j["customizationType"],
            hyperParameters=j["hyperParameters"], trainingDataConfig=j["trainingDataConfig"],
            validationDataConfig=j["validationDataConfig"], outputDataConfig=j["outputDataConfig"],
            creationTime=now, modelStatus="Active", **metrics)
        doc["tags"][model_arn] = j.get("customModelTags", [])
        j["phases"]["training"].update(status="Completed", end=now)
        j.update(status="Completed", outputModelArn=model_arn, endTime=now, lastModifiedTime=now, **metrics)


def _job(emulator, arn: str) -> dict:
    with emulator.store.transaction() as doc:
        return json.loads(json.dumps(doc["jobs"][arn]))


def _phase(emulator, arn: str, name: str, status: str = "InProgress") -> None:
    now = time.time()
    with emulator.store.transaction() as doc:
        if doc["jobs"][arn]["status"] == "Stopping":
            raise Stopped()
        phases = doc["jobs"][arn]["phases"]
        if status == "InProgress":
            phases[name] = {"status": status, "start": now, "end": None}
        else:
            phases[name].update(status=status, end=now)
        doc["jobs"][arn]["lastModifiedTime"] = now


def _finish(emulator, arn: str, status: str, message: str | None) -> None:
    with emulator.store.transaction() as doc:
        if arn in doc["jobs"]:
            end_job(doc["jobs"][arn], status, time.time(), message)


def _wait(since: float, seconds: float) -> None:
    left = since + seconds - time.time()
    if left > 0:
        time.sleep(left)
