"""Run AWS's public Bedrock fine-tuning sample notebooks, cell by cell, against the offline account.

Two sample families: the Claude 3 Haiku pair of github.com/aws-samples/amazon-bedrock-samples and the Amazon Nova
pair of github.com/aws-samples/amazon-bedrock-workshop, read from the learner's (or CI's) own checkout; the lab
stores none of their code. Every code cell runs unmodified, in notebook order, in one namespace (as one kernel
would), except the cells named in STAND_INS: each says why, and either what runs in its place, what is prepared
before the unmodified cell runs, or which placeholder lines are filled in.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import re
import subprocess
import uuid
import sys
import tempfile
import time
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from helpers import corpus, formats

# The Claude 3 Haiku pair, relative to a checkout of aws-samples/amazon-bedrock-samples, in the order they run.
HAIKU_NOTEBOOKS = (
    "custom-models/bedrock-fine-tuning/claude-haiku/00_Setup_and_DataPrep_Haiku.ipynb",
    "custom-models/bedrock-fine-tuning/claude-haiku/01_Claude_Haiku_Fine_Tuning.ipynb",
)
# The Amazon Nova pair, relative to a checkout of aws-samples/amazon-bedrock-workshop, in the order they run.
NOVA_NOTEBOOKS = (
    "03_Model_customization/bedrock-models-fine-tuning/amazon-nova/01_Amazon_Nova_Finetuning_Walkthrough.ipynb",
    "03_Model_customization/bedrock-models-fine-tuning/amazon-nova/02_Inference_Amazon_Nova.ipynb",
)
REGION = "us-west-2"  # where Claude 3 Haiku can be fine-tuned (bedrock-facts.md)
NOVA_REGION = "us-east-1"  # where Nova can be fine-tuned (bedrock-facts.md); the Nova samples' Config says so too
NOVA_TRAIN_RECORDS = 40  # Nova needs at least 8 (bedrock-facts.md 2.3); few, so the offline job takes seconds
NOVA_QUESTIONS = 4  # questions the Nova inference sample answers, two threads at a time
JOB_TIMEOUT = 300.0  # seconds the runner waits for a job where the sample leaves the learner to wait
# In the local model's vocabulary, so a job on these records trains instead of failing on an unknown word.
SYSTEM_PROMPT = "You label each clause with its category."
# Small, so the offline job finishes in seconds; the sample's 3a32a85e reads the 4th test record.
RECORD_COUNTS = {"train_file_name": ("train_set", 40), "validation_file_name": ("val_set", 8),
                 "test_file_name": ("test_set", 10)}
# Imported by the sample's first code cell but used only by stood-in cells; a placeholder lets the import run.
PLACEHOLDER_MODULES = ("datasets", "jsonlines")
# shortuuid (the Nova samples' requirements.txt) is not in the lab's environment; the samples call only uuid(),
# a short random id written next to each answer, which the standard library's uuid4 stands in for.
SHORT_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # shortuuid's 57 characters
POLL_SLEEP = 0.05  # seconds the samples' time.sleep(60) polls really wait offline


class StandInUsed(RuntimeError):
    """Code reached a placeholder module: a cell the runner should stand in for ran instead."""


@dataclass(frozen=True)
class StandIn:
    """Why a sample cell is stood in for, and what runs (given the namespace); None: nothing.

    mode 'replace': the action runs instead of the cell; 'before': the action prepares what the sample assumes
    the learner did, then the cell runs unmodified; 'fill': the action binds the cell's `name = # Replace ...`
    placeholders, then the cell's other lines run as written.
    """

    reason: str
    action: Callable[[dict], None] | None = None
    mode: str = "replace"


@dataclass
class CellResult:
    """One code cell: the notebook, its id, 'ok' / 'stand-in' / 'failed', the reason or error, its output."""

    notebook: str
    cell_id: str
    status: str
    detail: str = ""
    output: str = field(default="", repr=False)

    def line(self) -> str:
        """Return the one-line report of this cell."""
        return f"{self.notebook} {self.cell_id} {self.status}" + (f": {self.detail}" if self.detail else "")


def create_bucket_in_region(namespace: dict) -> None:
    """The sample's create_bucket call with the LocationConstraint its own comment says to uncomment."""
    extra = {} if namespace["region"] == "us-east-1" else {
        "CreateBucketConfiguration": {"LocationConstraint": namespace["region"]}}
    namespace["s3bucket"] = namespace["s3_client"].create_bucket(Bucket=namespace["bucket_name"], **extra)


def clause_records() -> dict[str, list[dict]]:
    """Return the stand-in's records per sample file variable: the lab's clause splits in Haiku's format."""
    splits = corpus.clause_splits()
    return {variable: [formats.make_record(corpus.clause_prompt(r["text"]), corpus.clause_completion(r["label"]),
                                           "claude-messages", system=SYSTEM_PROMPT) for r in splits[split][:count]]
            for variable, (split, count) in RECORD_COUNTS.items()}


def nova_train_records() -> list[dict]:
    """Return the Nova stand-in's training records: the lab's clause train_set in bedrock-conversation-2024."""
    return [formats.make_record(corpus.clause_prompt(r["text"]), corpus.clause_completion(r["label"]),
                                "bedrock-conversation-2024", system=SYSTEM_PROMPT)
            for r in corpus.clause_splits()["train_set"][:NOVA_TRAIN_RECORDS]]


def nova_questions() -> list[dict]:
    """Return the Nova inference sample's question file rows (question_id, category, turns) from the test_set."""
    return [{"question_id": n, "category": "clause", "turns": [corpus.clause_prompt(r["text"])]}
            for n, r in enumerate(corpus.clause_splits()["test_set"][:NOVA_QUESTIONS], start=1)]


def _split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def upload_nova_dataset(namespace: dict) -> None:
    """Put Nova-format clause records where the sample's input_s3_uri points (its bucket made if missing)."""
    import boto3
    s3 = boto3.client("s3", region_name=NOVA_REGION)
    buckets = {_split_s3_uri(namespace[v])[0] for v in ("input_s3_uri", "output_s3_uri")}
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in sorted(buckets - existing):
        s3.create_bucket(Bucket=bucket)  # us-east-1 takes no LocationConstraint
    bucket, key = _split_s3_uri(namespace["input_s3_uri"])
    s3.put_object(Bucket=bucket, Key=key, Body="".join(json.dumps(r) + "\n" for r in nova_train_records()).encode())


def create_nova_role(namespace: dict) -> None:
    """Bind role_name/role_arn to a role in the offline account that Bedrock may assume (made if missing)."""
    import boto3
    iam = boto3.client("iam", region_name=NOVA_REGION)
    name = "LabNovaSampleBedrockRole"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "bedrock.amazonaws.com"}}]}
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    namespace["role_name"], namespace["role_arn"] = name, arn


def wait_for_sample_job(namespace: dict) -> None:
    """Poll the sample's job (jobArn) until it settles, as the learner is told to; fail unless Completed."""
    from helpers import aws
    job = aws.wait_for(namespace["jobArn"], client=namespace["bedrock"], poll_seconds=POLL_SLEEP,
                       timeout_seconds=JOB_TIMEOUT, progress=False)
    if job["status"] != "Completed":
        raise RuntimeError(f"job {job['jobName']} ended {job['status']}: {job.get('failureMessage', '')}")


def keep_throughput_arn(namespace: dict) -> None:
    """Keep the create response's provisionedModelArn under the name the next cells pass as provisionedModelId."""
    namespace["provisioned_model_id"] = namespace["provisioned_model_id"]["provisionedModelArn"]


def write_nova_questions(namespace: dict) -> None:
    """Write the question file the Nova inference sample reads, from the lab's clause test_set."""
    path = Path("dataset/test_set/question_short.jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(q) + "\n" for q in nova_questions()), encoding="utf-8")


def bind_answer_model(namespace: dict) -> None:
    """Bind the global `model` that get_answer records to the model id the notebook invoked above."""
    namespace["model"] = namespace["base_model_id"]


# the file the Nova sample's plotting cell (54362a24) reads, downloaded by hand from the job's output on AWS
NOVA_LOSS_CSV = "model_training_loss/aws-ft-nova-lite/step_wise_training_metrics_epoch5_lr_1e-06.csv"


def download_training_metrics(namespace: dict) -> None:
    """Copy the job's step_wise_training_metrics.csv from its S3 output to the path the plotting cell reads."""
    import boto3
    job = namespace["bedrock"].get_model_customization_job(jobIdentifier=namespace["jobArn"])
    bucket, prefix = _split_s3_uri(job["outputDataConfig"]["s3Uri"])
    s3 = boto3.client("s3", region_name=NOVA_REGION)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
            if o["Key"].endswith("training_artifacts/step_wise_training_metrics.csv")]
    if len(keys) != 1:
        raise RuntimeError(f"expected one step_wise_training_metrics.csv under s3://{bucket}/{prefix}, found {keys}")
    Path(NOVA_LOSS_CSV).parent.mkdir(parents=True, exist_ok=True)
    s3.download_file(bucket, keys[0], NOVA_LOSS_CSV)


def write_clause_files(namespace: dict) -> None:
    """Write Haiku-format train/validation/test files from the lab's clause corpus, under the sample's names."""
    for variable, rows in clause_records().items():
        path = Path(namespace["abs_path"]) / namespace[variable]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


_DOWNLOAD = "uses the Hugging Face samsum download; offline the data is the lab's clause corpus (see 389eed26)"
_STORE = "%store magic: one namespace carries the variables from the set-up notebook to the next"
_INSTALL = "pip install: the lab's environment already has what the AWS cells need; nothing is installed"
_RESTART = "kernel restart after the installs: nothing was installed, and a restart would drop the namespace"

# Keyed by the cell ids of the notebooks at aws-samples/amazon-bedrock-samples commits 8e56542 (00) and 2273ac5 (01).
STAND_INS: dict[str, StandIn] = {
    # 00_Setup_and_DataPrep_Haiku.ipynb
    "93e28916": StandIn(_INSTALL),
    "e6958613": StandIn(_RESTART),
    "199c4502": StandIn("create_bucket without CreateBucketConfiguration fails outside us-east-1 on AWS too; the "
                        "same call runs with the LocationConstraint the cell says to uncomment",
                        create_bucket_in_region),
    "698f48aa": StandIn("downloads the samsum dataset from Hugging Face; the lab runs with no internet"),
    "e15c2ad8": StandIn(_DOWNLOAD),
    "53502dcf": StandIn(_DOWNLOAD),
    "b756ae7b": StandIn(_DOWNLOAD),
    "0fdb8697": StandIn(_DOWNLOAD),
    "dc2fb7d5": StandIn(_DOWNLOAD),
    "eb2e5485": StandIn(_DOWNLOAD),
    "389eed26": StandIn("writes the samsum JSONL files; Haiku-format files from the lab's clause corpus are "
                        "written under the same names instead", write_clause_files),
    "b714f27f": StandIn(_STORE),
    # 01_Claude_Haiku_Fine_Tuning.ipynb
    "a3df9fa6": StandIn(_INSTALL),
    "ec065f85": StandIn(_RESTART),
    "64d6535c": StandIn(_STORE),
    "d1bce422": StandIn("BERTScore evaluation: downloads a BERT model from the internet and calls no AWS API"),
}

NOVA_FT = "01_Amazon_Nova_Finetuning_Walkthrough.ipynb"
NOVA_INFERENCE = "02_Inference_Amazon_Nova.ipynb"
# Keyed by the cell ids of the notebooks at aws-samples/amazon-bedrock-workshop commits 9f564b1 (01) and 37d99d4
# (02). The two notebooks share some ids: "<notebook>#<id>" names the one copy a stand-in is for.
NOVA_STAND_INS: dict[str, StandIn] = {
    "0147f270-3cf7-4a94-b806-9fc3aabda552": StandIn(_INSTALL),  # in both notebooks
    "ef96a213-b08e-41ec-a987-c1fdd4e3aa0b": StandIn(_RESTART),  # in both notebooks
    # 01_Amazon_Nova_Finetuning_Walkthrough.ipynb
    "4ae02645": StandIn("role_name/role_arn are `# Replace with your role ...` placeholders (a syntax error as "
                        "published); they are bound to a Bedrock service role in the offline account and the "
                        "cell's other lines run as written", create_nova_role, "fill"),
    "0ee8a157-fb04-4e9d-beca-bdabfbed39e7": StandIn(
        "the sample assumes a prepared Nova dataset at input_s3_uri; Nova-format (bedrock-conversation-2024) "
        "records from the lab's clause corpus are uploaded there first", upload_nova_dataset, "before"),
    "71f64472-00ca-4f4f-a4d4-065e2b61684c": StandIn(
        "the markdown says to wait until the job completes (2-4 hours on AWS); the job is polled until it "
        "settles", wait_for_sample_job, "before"),
    "de9f56bd": StandIn(
        "this cell and the delete pass the whole create response as provisionedModelId, which botocore refuses "
        "(ParamValidationError, on AWS too); the name is rebound to its provisionedModelArn, as the create cell "
        "prints, and both cells run as written", keep_throughput_arn, "before"),
    # 02_Inference_Amazon_Nova.ipynb
    "f0c444dd": StandIn("reads the learner's own question file (not in the repository); it is written from the "
                        "lab's clause test_set first", write_nova_questions, "before"),
    "d97c7f3a-8640-4aa1-b11a-73b8053101e9": StandIn(
        "get_answer records a global `model` no cell defines (NameError in a fresh kernel, on AWS too); it is "
        "bound to base_model_id, the model id this notebook invokes", bind_answer_model, "before"),
    "54362a24-9222-412f-b89e-60913fbb52dd": StandIn(
        "plots a CSV the learner downloads by hand from the job's S3 output; the job's "
        "step_wise_training_metrics.csv is copied to that path first", download_training_metrics, "before"),
    f"{NOVA_INFERENCE}#4341f7e8-e85b-4c88-9f77-11b2afc463de": StandIn(
        "the same delete already ran at the end of 01 (one kernel, as 02's prerequisites say); deleting it again "
        "would raise ResourceNotFoundException, on AWS too"),
}
HAIKU_STAND_INS = dict(STAND_INS)
STAND_INS.update(NOVA_STAND_INS)  # the two families' ids do not overlap


@dataclass(frozen=True)
class SampleFamily:
    """One sample family: its repository, notebooks (checkout-relative, in order), region and stand-ins."""

    name: str
    repository: str
    notebooks: tuple[str, ...]
    region: str
    stand_ins: dict[str, StandIn]


FAMILIES = (SampleFamily("Claude 3 Haiku", "aws-samples/amazon-bedrock-samples", HAIKU_NOTEBOOKS, REGION,
                         HAIKU_STAND_INS),
            SampleFamily("Amazon Nova", "aws-samples/amazon-bedrock-workshop", NOVA_NOTEBOOKS, NOVA_REGION,
                         NOVA_STAND_INS))


def family_of(paths: list[Path]) -> SampleFamily | None:
    """Return the family whose notebooks these are (by file name), or None for other notebooks."""
    names = {p.name for p in paths}
    return next((f for f in FAMILIES if names & {Path(n).name for n in f.notebooks}), None)


def stand_in_for(notebook: str, cell_id: str) -> tuple[str, StandIn] | None:
    """Return (key, stand-in) for a cell: a '<notebook>#<id>' key first, then the bare id; None: runs as is."""
    for key in (f"{notebook}#{cell_id}", cell_id):
        if key in STAND_INS:
            return key, STAND_INS[key]
    return None


def _without_placeholders(source: str) -> str:
    """Drop the `name = # Replace ...` lines a sample leaves for the learner to fill in."""
    return "\n".join(line for line in source.splitlines()
                     if not re.match(r"^\s*\w+\s*=\s*#\s*Replace\b", line))


class _Shell:
    """The little of get_ipython() the samples' remaining cells use: `!command` runs in the working folder."""

    def __init__(self, workdir: Path):
        self.workdir = workdir

    def system(self, command: str) -> None:
        # like IPython's `!`: output is shown and a non-zero exit status does not stop the cell
        done = subprocess.run(command, shell=True, cwd=self.workdir, capture_output=True, text=True)
        print(done.stdout + done.stderr, end="")

    def run_line_magic(self, name: str, line: str) -> None:
        raise StandInUsed(f"%{name} {line}: this magic has no offline stand-in; add the cell to STAND_INS")

    def run_cell_magic(self, name: str, line: str, _cell: str) -> None:
        raise StandInUsed(f"%%{name} {line}: this cell magic has no offline stand-in; add the cell to STAND_INS")


def read_code_cells(path: Path) -> list[tuple[str, str]]:
    """Return (cell id, source) of each code cell of a notebook, in order (ids 'cell-N' where a cell has none)."""
    with open(path, encoding="utf-8") as f:
        cells = json.load(f)["cells"]
    out = []
    for n, cell in enumerate(cells):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            out.append((cell.get("id") or f"cell-{n}", "".join(source) if isinstance(source, list) else source))
    return out


def _short_uuid_module() -> types.ModuleType:
    """Return a `shortuuid` whose uuid() gives 22 characters of shortuuid's alphabet from a uuid4."""
    module = types.ModuleType("shortuuid")

    def short_uuid() -> str:
        number, out = uuid.uuid4().int, ""
        for _ in range(22):
            number, digit = divmod(number, len(SHORT_ID_ALPHABET))
            out += SHORT_ID_ALPHABET[digit]
        return out

    module.uuid = short_uuid  # type: ignore[attr-defined]
    return module


def _placeholder(name: str) -> types.ModuleType:
    """Return a stand-in for an uninstalled module: importing it works, calling anything in it raises."""
    module = types.ModuleType(name)

    def unavailable(attr: str):
        def call(*_, **__):
            raise StandInUsed(f"{name}.{attr} is only used by stood-in cells (package {name} is not installed)")
        return call

    module.__getattr__ = unavailable  # type: ignore[attr-defined]
    return module


@contextlib.contextmanager
def _sample_process(workdir: Path, region: str):
    """The process as the samples expect it: cwd, region, placeholder imports, fast sleeps. Restored after."""
    saved_cwd, saved_region, real_sleep = os.getcwd(), os.environ.get("AWS_DEFAULT_REGION"), time.sleep
    added = [m for m in PLACEHOLDER_MODULES + ("shortuuid",)
             if m not in sys.modules and importlib.util.find_spec(m) is None]
    with warnings.catch_warnings():  # the samples call warnings.filterwarnings('ignore'): keep it to the run
        try:
            os.chdir(workdir)
            os.environ["AWS_DEFAULT_REGION"] = region
            sys.modules.update({m: _short_uuid_module() if m == "shortuuid" else _placeholder(m) for m in added})
            # the samples poll every 60 s (twice per loop); offline statuses move in seconds
            time.sleep = lambda seconds: real_sleep(min(seconds, POLL_SLEEP))
            yield
        finally:
            time.sleep = real_sleep
            for m in added:
                sys.modules.pop(m, None)
            if saved_region is None:
                os.environ.pop("AWS_DEFAULT_REGION", None)
            else:
                os.environ["AWS_DEFAULT_REGION"] = saved_region
            os.chdir(saved_cwd)


def run_notebooks(paths: list[Path], workdir: Path, *, region: str | None = None,
                  report: Callable[[CellResult], None] = lambda r: None) -> tuple[list[CellResult], dict]:
    """Run the notebooks' code cells in one namespace, standing in for STAND_INS; stop at the first failure.

    The region defaults to the sample family's. Returns every cell's result ('ok', 'prepared', 'filled',
    'stand-in' or 'failed') and the namespace. The caller chooses the account (helpers.aws.activate()).
    """
    family = family_of(paths)
    region = region or (family.region if family else REGION)
    from IPython.core.inputtransformer2 import TransformerManager

    to_python = TransformerManager().transform_cell  # `!cmd` and `%magic` lines -> get_ipython() calls
    shell = _Shell(workdir)
    namespace: dict = {"__name__": "__main__", "get_ipython": lambda: shell}
    results: list[CellResult] = []
    with _sample_process(workdir, region):
        for path in paths:
            for cell_id, source in read_code_cells(path):
                found = stand_in_for(path.name, cell_id)
                stand_in = found[1] if found else None
                mode = stand_in.mode if stand_in else "run"
                buffer = io.StringIO()
                try:
                    with contextlib.redirect_stdout(buffer):
                        if stand_in is not None and stand_in.action is not None:
                            stand_in.action(namespace)
                        if mode in ("run", "before", "fill"):
                            code = _without_placeholders(source) if mode == "fill" else source
                            exec(compile(to_python(code), f"{path.name}:{cell_id}", "exec"), namespace)
                    status = {"run": "ok", "before": "prepared", "fill": "filled", "replace": "stand-in"}[mode]
                    result = CellResult(path.name, cell_id, status, stand_in.reason if stand_in else "",
                                        buffer.getvalue())
                except Exception as exc:  # a sample cell can raise anything; report it and stop, as a kernel would
                    result = CellResult(path.name, cell_id, "failed", f"{type(exc).__name__}: {exc}",
                                        buffer.getvalue())
                results.append(result)
                report(result)
                if result.status == "failed":
                    return results, namespace
    return results, namespace


def resolve_notebooks(paths: list[str]) -> list[Path]:
    """Expand a checkout directory to its sample family's notebooks (Haiku or Nova); check every notebook exists."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.is_dir():
            out.append(path)
            continue
        found = [f for f in FAMILIES if all((path / rel).is_file() for rel in f.notebooks)]
        if not found:
            expected = "; ".join(f"{f.repository}: {', '.join(f.notebooks)}" for f in FAMILIES)
            raise FileNotFoundError(f"{path} is not a checkout of a known sample family (expected {expected})")
        out += [path / rel for f in found for rel in f.notebooks]
    missing = [str(p) for p in out if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"no such notebook: {', '.join(missing)}")
    return out


def main(argv: list[str]) -> int:
    """`run-aws-sample NOTEBOOK... | CHECKOUT`: run AWS's sample notebooks offline; 0 when every cell ran."""
    parser = argparse.ArgumentParser(prog="python -m helpers run-aws-sample", description=main.__doc__)
    parser.add_argument("notebooks", nargs="+",
                        help="the sample .ipynb files in order, or a checkout of aws-samples/amazon-bedrock-samples "
                             "(runs the Claude 3 Haiku fine-tuning pair) or of aws-samples/amazon-bedrock-workshop "
                             "(runs the Amazon Nova fine-tuning pair)")
    parser.add_argument("--region", help=f"region the samples run in (default: the family's, {REGION} for "
                                         f"Haiku, {NOVA_REGION} for Nova)")
    parser.add_argument("--workdir", help="folder the samples write their files in (default: a temporary one)")
    parser.add_argument("--show-output", action="store_true", help="print each cell's output under its line")
    args = parser.parse_args(argv)
    try:
        paths = resolve_notebooks(args.notebooks)
    except FileNotFoundError as exc:
        print(f"run-aws-sample: {exc}", file=sys.stderr)
        return 2
    from helpers import aws
    aws.activate("offline")  # never a real account: stand-ins are not what AWS would run

    def report(result: CellResult) -> None:
        print(result.line(), flush=True)
        if args.show_output and result.output:
            print("".join(f"    {line}\n" for line in result.output.splitlines()), end="", flush=True)

    with contextlib.ExitStack() as stack:
        workdir = Path(args.workdir) if args.workdir else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        results, _ = run_notebooks(paths, workdir.resolve(), region=args.region, report=report)
    ran = sum(r.status in ("ok", "prepared") for r in results)
    prepared = sum(r.status == "prepared" for r in results)
    filled = sum(r.status == "filled" for r in results)
    stood_in = sum(r.status == "stand-in" for r in results)
    counts = f"{ran} cells ran unmodified ({prepared} after a prerequisite), {filled} with placeholders filled, " \
             f"{stood_in} stood in"
    if results and results[-1].status == "failed":
        print(f"FAILED at {results[-1].notebook} {results[-1].cell_id} ({counts})")
        return 1
    print(f"OK: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
