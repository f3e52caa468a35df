"""`python -m helpers run-aws-sample`: run AWS's public Bedrock fine-tuning samples against the offline account.

runner.py runs a notebook's cells as one kernel would; families.py names the sample pairs, where they live and
what stands in for what cannot run offline; english.py makes the English records that stand in for downloads.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections import Counter
from pathlib import Path

from helpers.aws_samples.families import FAMILIES, MODULES, SampleFamily, family_of, find_in_checkout
from helpers.aws_samples.runner import CellResult, ModuleStandIn, run_notebooks


def resolve(raw_paths: list[str]) -> list[tuple[SampleFamily, list[Path]]]:
    """Return the sample pairs to run: every pair found in a checkout, or the pair the named notebooks belong to."""
    found: list[tuple[SampleFamily, list[Path]]] = []
    files = []
    for raw in raw_paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found += find_in_checkout(path)
        else:
            files.append(path)
    if files:
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"no such notebook: {', '.join(missing)}")
        family = family_of(files)
        if family is None:
            known = "; ".join(f"{f.name}: {', '.join(f.notebooks)}" for f in FAMILIES)
            raise FileNotFoundError(f"{', '.join(p.name for p in files)}: not notebooks of one sample pair the lab "
                                    f"knows ({known})")
        found.append((family, files))
    return found


def summary(results: list[CellResult]) -> str:
    """Return 'N ran unmodified (P after a prerequisite), S stood in[, F failed]' for some cells."""
    counts = Counter(r.status for r in results)
    text = (f"{counts['ok'] + counts['prepared']} ran unmodified ({counts['prepared']} after a prerequisite), "
            f"{counts['stand-in']} stood in")
    return text + (f", {counts['failed']} failed" if counts["failed"] else "")


def end_of_life(results: list[CellResult]) -> CellResult | None:
    """Return the cell where a pair met Bedrock's end-of-life answer for its model, if it did."""
    from helpers import catalog
    return next((r for r in results if r.status == "failed" and catalog.EOL_MESSAGE in r.detail), None)


def run_family(family: SampleFamily, paths: list[Path], workdir: Path, *, region: str | None = None,
               show_output: bool = False) -> list[CellResult]:
    """Run one sample pair in one namespace, printing a line per cell and per notebook; return the cell results."""
    print(f"== {family.name}: {', '.join(p.name for p in paths)} in {region or family.region}", flush=True)

    def report(result: CellResult) -> None:
        print(result.line(), flush=True)
        if show_output and result.output:
            print("".join(f"    {line}\n" for line in result.output.splitlines()), end="", flush=True)

    def report_module(module: ModuleStandIn) -> None:
        print(f"module {module.name} stand-in: {module.reason}", flush=True)

    workdir.mkdir(parents=True, exist_ok=True)
    results, _ = run_notebooks(paths, workdir.resolve(), region=region or family.region, stand_ins=family.stand_ins,
                               modules=MODULES, report=report, report_module=report_module)
    for path in paths:
        print(f"{path.name}: {summary([r for r in results if r.notebook == path.name])}", flush=True)
    return results


def main(argv: list[str]) -> int:
    """`run-aws-sample CHECKOUT... | NOTEBOOK...`: run AWS's sample notebooks offline; 0 when every cell ran, or
    a pair stopped where Bedrock answers that its model reached end of life (ENDED)."""
    parser = argparse.ArgumentParser(prog="python -m helpers run-aws-sample", description=main.__doc__)
    parser.add_argument("paths", nargs="+", metavar="CHECKOUT_OR_NOTEBOOK",
                        help="a checkout of aws-samples/amazon-bedrock-samples or aws-samples/amazon-bedrock-workshop "
                             "(runs every sample pair found: " + "; ".join(f.name for f in FAMILIES) + "), or one "
                             "pair's .ipynb files in order")
    parser.add_argument("--family", choices=[f.key for f in FAMILIES], help="run only this sample pair")
    parser.add_argument("--region", help="region the samples run in (default: the pair's own)")
    parser.add_argument("--workdir", help="folder the samples write their files in (default: a temporary one)")
    parser.add_argument("--show-output", action="store_true", help="print each cell's output under its line")
    args = parser.parse_args(argv)
    try:
        pairs = [(f, p) for f, p in resolve(args.paths) if args.family in (None, f.key)]
    except FileNotFoundError as exc:
        print(f"run-aws-sample: {exc}", file=sys.stderr)
        return 2
    if not pairs:
        print(f"run-aws-sample: no {args.family} sample pair in {', '.join(args.paths)}", file=sys.stderr)
        return 2
    from helpers import aws
    aws.activate("offline")  # never a real account: stand-ins are not what AWS would run

    failed = False
    with contextlib.ExitStack() as stack:
        root = Path(args.workdir) if args.workdir else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        for n, (family, paths) in enumerate(pairs):
            results = run_family(family, paths, root / f"{n}-{family.key}", region=args.region,
                                 show_output=args.show_output)
            ended = end_of_life(results)
            family_failed = ended is None and any(r.status == "failed" for r in results)
            failed = failed or family_failed
            if ended:  # the sample is out of date, not the lab: say so as the live account would
                print(f"ENDED: {summary(results)}; {ended.notebook} {ended.cell_id} met the end of life of the "
                      f"sample's model in {args.region or family.region}, as the live account answers there. The "
                      "sample cannot run as published today; the Nova Micro pair and notebook 04 customize current "
                      "models.", flush=True)
            else:
                print(("FAILED: " if family_failed else "OK: ") + summary(results), flush=True)
    return 1 if failed else 0
