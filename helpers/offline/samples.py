"""Run AWS's public Bedrock fine-tuning sample notebooks, cell by cell, against the offline account.

The notebooks come from the learner's (or CI's) own checkout of github.com/aws-samples/amazon-bedrock-samples;
the lab stores none of their code. Every code cell runs unmodified, in notebook order, in one namespace (as one
kernel would), except the cells named in STAND_INS: each says why and what runs in its place.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import subprocess
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
REGION = "us-west-2"  # where Claude 3 Haiku can be fine-tuned (bedrock-facts.md)
# In the local model's vocabulary, so a job on these records trains instead of failing on an unknown word.
SYSTEM_PROMPT = "You label each clause with its category."
# Small, so the offline job finishes in seconds; the sample's 3a32a85e reads the 4th test record.
RECORD_COUNTS = {"train_file_name": ("train_set", 40), "validation_file_name": ("val_set", 8),
                 "test_file_name": ("test_set", 10)}
# Imported by the sample's first code cell but used only by stood-in cells; a placeholder lets the import run.
PLACEHOLDER_MODULES = ("datasets", "jsonlines")
POLL_SLEEP = 0.05  # seconds the samples' time.sleep(60) polls really wait offline


class StandInUsed(RuntimeError):
    """Code reached a placeholder module: a cell the runner should stand in for ran instead."""


@dataclass(frozen=True)
class StandIn:
    """Why a sample cell is stood in for, and what runs instead (given the namespace); None: nothing."""

    reason: str
    action: Callable[[dict], None] | None = None


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
    added = [m for m in PLACEHOLDER_MODULES if m not in sys.modules and importlib.util.find_spec(m) is None]
    with warnings.catch_warnings():  # the samples call warnings.filterwarnings('ignore'): keep it to the run
        try:
            os.chdir(workdir)
            os.environ["AWS_DEFAULT_REGION"] = region
            sys.modules.update({m: _placeholder(m) for m in added})
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


def run_notebooks(paths: list[Path], workdir: Path, *, region: str = REGION,
                  report: Callable[[CellResult], None] = lambda r: None) -> tuple[list[CellResult], dict]:
    """Run the notebooks' code cells in one namespace, standing in for STAND_INS; stop at the first failure.

    Returns every cell's result and the namespace. The caller chooses the account (helpers.aws.activate()).
    """
    from IPython.core.inputtransformer2 import TransformerManager

    to_python = TransformerManager().transform_cell  # `!cmd` and `%magic` lines -> get_ipython() calls
    shell = _Shell(workdir)
    namespace: dict = {"__name__": "__main__", "get_ipython": lambda: shell}
    results: list[CellResult] = []
    with _sample_process(workdir, region):
        for path in paths:
            for cell_id, source in read_code_cells(path):
                stand_in = STAND_INS.get(cell_id)
                buffer = io.StringIO()
                try:
                    with contextlib.redirect_stdout(buffer):
                        if stand_in is None:
                            exec(compile(to_python(source), f"{path.name}:{cell_id}", "exec"), namespace)
                        elif stand_in.action is not None:
                            stand_in.action(namespace)
                    result = CellResult(path.name, cell_id, "stand-in" if stand_in else "ok",
                                        stand_in.reason if stand_in else "", buffer.getvalue())
                except Exception as exc:  # a sample cell can raise anything; report it and stop, as a kernel would
                    result = CellResult(path.name, cell_id, "failed", f"{type(exc).__name__}: {exc}",
                                        buffer.getvalue())
                results.append(result)
                report(result)
                if result.status == "failed":
                    return results, namespace
    return results, namespace


def resolve_notebooks(paths: list[str]) -> list[Path]:
    """Expand a checkout directory to the Haiku pair; check every notebook exists."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        out += [path / rel for rel in HAIKU_NOTEBOOKS] if path.is_dir() else [path]
    missing = [str(p) for p in out if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"no such notebook: {', '.join(missing)}")
    return out


def main(argv: list[str]) -> int:
    """`run-aws-sample NOTEBOOK... | CHECKOUT`: run AWS's sample notebooks offline; 0 when every cell ran."""
    parser = argparse.ArgumentParser(prog="python -m helpers run-aws-sample", description=main.__doc__)
    parser.add_argument("notebooks", nargs="+",
                        help="the sample .ipynb files in order, or a checkout of aws-samples/amazon-bedrock-samples "
                             "(runs the Claude 3 Haiku fine-tuning pair)")
    parser.add_argument("--region", default=REGION, help=f"region the samples run in (default {REGION})")
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
    ran = sum(r.status == "ok" for r in results)
    stood_in = sum(r.status == "stand-in" for r in results)
    if results and results[-1].status == "failed":
        print(f"FAILED at {results[-1].notebook} {results[-1].cell_id} ({ran} cells ran, {stood_in} stood in)")
        return 1
    print(f"OK: {ran} cells ran unmodified, {stood_in} stood in")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
