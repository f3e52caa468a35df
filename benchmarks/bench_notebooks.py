"""Seconds each notebook takes from a fresh kernel, cold and then warm, and its slowest cells.

Cold: an empty weights cache, offline AWS account and work folder (fresh LAB_CACHE_DIR, LAB_STATE_DIR,
LAB_WORK_DIR), as on a learner's first run. Warm: the same notebook again with the weights cache the cold run
filled (a fresh account and work folder again). Stored outputs are not touched. Targets on the 2-core machine:
notebooks 02 and 05 <= 120 s cold. Run (one BLAS thread, as `make test`):
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_notebooks.py [notebooks/05_evaluation.ipynb ...]

The machine is shared, so two figures stand beside the wall time: the kernel's own CPU seconds, and the local
model's training throughput measured just before and just after the cold run (bench_local_model's pre-training
batch, one thread). Its CPU-seconds per wall-second is the share of a core this process got; the cold wall time
times that share is an estimate of the cold run on an idle machine (the wall time is the measurement). Each
cell's CPU seconds (the kernel's and its subprocesses') are measured in the kernel itself; the stored table's
idle estimate of a cell or notebook is its CPU seconds, or its wall time times the share if that is more.

With --write it also stores the table in benchmarks/notebook_timings.csv (replacing the rows of the notebooks
it ran): one row per notebook and one per code cell that took >= 5 s or carries a "this cell takes about N s"
note, with the date, the load average, the throughput and core share. It then lists every note in the
notebooks that drifts from the table (tests/test_notebooks.py fails on the same list); --update-notes rewrites
those notes from the stored table without running anything. The coordinator's one command after a change:
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_notebooks.py --write --update-notes
"""
from __future__ import annotations

import argparse
import csv
import fcntl
import json
import os
import resource
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from bench_local_model import batches, interleaved, numpy_trainer
from nbclient import NotebookClient
from threadpoolctl import threadpool_limits

import timing_notes
from helpers import local_model

ROOT = Path(__file__).resolve().parent.parent
SLOW_CELL = 5.0  # seconds (cold or warm) from which a cell gets a row in the stored table
COLUMNS = ["notebook", "cell", "cell_number", "first_line", "cold_s", "warm_s", "cold_cpu_s", "warm_cpu_s",
           "core_share", "cold_idle_s", "warm_idle_s", "train_tokens_per_s", "load_average", "measured"]
THROUGHPUT_STEPS = 4  # timed training steps per throughput figure (about 2 CPU-seconds)
# as `make test`: inline matplotlib, offline AWS, none of the machine's own AWS settings
UNSET = ("MPLBACKEND", "LAB_AWS_MODE", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")


# Injected before and after the notebook's own cells (in the copy that runs): each cell's CPU seconds, the kernel's
# and its child processes' (notebook 04 trains in a subprocess), from IPython's pre/post-run events.
CPU_PROBE = """import json as _bench_json, resource as _bench_resource
def _bench_cpu():
    own, kids = (_bench_resource.getrusage(w) for w in (_bench_resource.RUSAGE_SELF, _bench_resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
_bench_cells, _bench_start = [], []
get_ipython().events.register("pre_run_cell", lambda info: _bench_start.append(_bench_cpu()))
get_ipython().events.register("post_run_cell", lambda result: _bench_start and _bench_cells.append(_bench_cpu() - _bench_start.pop()))"""
CPU_REPORT = "print(_bench_json.dumps(_bench_cells))"


def run(path: Path, env: dict[str, str]) -> tuple[float, float, list[tuple[float, float, int, str, str]]]:
    """Execute a copy of the notebook in a fresh kernel under env; return (seconds, the kernel's CPU seconds,
    [(seconds, CPU seconds, cell number, cell id, first line)] of every code cell, slowest first). CPU seconds
    do not grow when other jobs share the machine."""
    original = nbformat.read(path, as_version=4)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [nbformat.v4.new_code_cell(CPU_PROBE)] + notebook.cells + [nbformat.v4.new_code_cell(CPU_REPORT)]
    saved = dict(os.environ)
    for name in UNSET:
        os.environ.pop(name, None)
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        client = NotebookClient(notebook, timeout=1800, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}}, record_timing=True)
        cpu0 = _children_cpu()
        t0 = time.perf_counter()
        client.execute()
        total = time.perf_counter() - t0
        cpu = _children_cpu() - cpu0  # the kernel is a child process, reaped when execute() shuts it down
    finally:
        os.environ.clear()
        os.environ.update(saved)
    cell_cpu = iter(json.loads(notebook.cells[-1].outputs[0]["text"]))
    cells = []
    for n, (cell, ran) in enumerate(zip(original.cells, notebook.cells[1:-1]), start=1):
        timing = ran.metadata.get("execution", {})
        if cell.cell_type == "code" and "shell.execute_reply" in timing:
            start = timing.get("iopub.execute_input") or timing["shell.execute_reply.started"]
            seconds = _parse(timing["shell.execute_reply"]) - _parse(start)
            cells.append((seconds, next(cell_cpu), n, cell.get("id", ""),
                          cell.source.splitlines()[0] if cell.source else ""))
    return total, cpu, sorted(cells, reverse=True)


def throughput() -> tuple[float, float]:
    """The local model's training tokens per wall-clock second right now, and the share of a core it got
    (CPU-seconds per wall-second: 1.0 on an idle machine)."""
    base = local_model.load_base()
    batch = batches(base.config)["pre-training"]
    with threadpool_limits(1, user_api="blas"):
        wall, cpu = interleaved({"train": numpy_trainer(base, batch)}, THROUGHPUT_STEPS, warmup=1)
    return batch[0].size / wall["train"], cpu["train"] / wall["train"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _parse(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def idle(seconds: float, cpu: float, share: float) -> float:
    """An estimate of wall seconds on an idle machine: the CPU seconds spent, or the wall time scaled by the share
    of a core the benchmark got, whichever is larger (waits such as a job's scaled status phases are not CPU)."""
    return max(cpu, seconds * share)


def rows(path: Path, cold: tuple, warm: tuple, rate: float, share: float, load: float, when: str) -> list[dict]:
    """The stored table's rows for one notebook: the notebook, then its slow or noted cells in order."""
    noted = {c for note in timing_notes.read_notes(path)[0] for c in note.cells}
    warm_cells = {cell_id: (seconds, cpu) for seconds, cpu, _, cell_id, _ in warm[2]}
    common = {"notebook": path.name, "core_share": f"{share:.2f}", "train_tokens_per_s": f"{rate:.0f}",
              "load_average": f"{load:.1f}", "measured": when}
    out = [{**common, "cell": timing_notes.NOTEBOOK_ROW, "cell_number": "", "first_line": "",
            "cold_s": f"{cold[0]:.1f}", "warm_s": f"{warm[0]:.1f}", "cold_cpu_s": f"{cold[1]:.1f}",
            "warm_cpu_s": f"{warm[1]:.1f}", "cold_idle_s": f"{idle(cold[0], cold[1], share):.1f}",
            "warm_idle_s": f"{idle(warm[0], warm[1], share):.1f}"}]
    for seconds, cpu, n, cell_id, line in sorted(cold[2], key=lambda c: c[2]):
        again, again_cpu = warm_cells.get(cell_id, (0.0, 0.0))
        if cell_id in noted or max(seconds, again) >= SLOW_CELL:
            out.append({**common, "cell": cell_id, "cell_number": str(n), "first_line": line[:60],
                        "cold_s": f"{seconds:.1f}", "warm_s": f"{again:.1f}", "cold_cpu_s": f"{cpu:.1f}",
                        "warm_cpu_s": f"{again_cpu:.1f}", "cold_idle_s": f"{idle(seconds, cpu, share):.1f}",
                        "warm_idle_s": f"{idle(again, again_cpu, share):.1f}"})
    return out


def write_table(new_rows: list[dict], path: Path = timing_notes.TABLE) -> None:
    """Store new_rows, keeping the rows of notebooks this run did not time (under a lock: benchmarks of
    different notebooks may run side by side)."""
    ran = {r["notebook"] for r in new_rows}
    with open(Path(tempfile.gettempdir()) / f"{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        kept = list(timing_notes.read_table(path).values()) if path.exists() else []
        table = sorted([r for r in kept if r["notebook"] not in ran] + new_rows,
                       key=lambda r: (r["notebook"], int(r["cell_number"] or 0)))
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(table)


def main(argv: list[str]) -> int:
    """Time every notebook named (default: all), cold then warm; print one line per run; --write stores the
    table and lists the notes that drift from it; --update-notes rewrites them from the stored table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--write", action="store_true", help=f"store the table in {timing_notes.TABLE.name}")
    parser.add_argument("--update-notes", action="store_true",
                        help="rewrite drifting 'takes about N s' notes from the stored table")
    args = parser.parse_args(argv)
    every = sorted((ROOT / "notebooks").glob("*.ipynb"))
    paths = args.notebooks or every
    if args.update_notes and not args.write:
        return report_notes(every, update=True)
    base_env = {"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "PYTHONHASHSEED": "0",
                "TZ": "UTC",
                "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1"),
                "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    print(f"load average before: {os.getloadavg()[0]:.1f} (CPU seconds are the kernel's own, unaffected by load; "
          "training tokens/s and the core share from just before and just after the cold run)")
    print(f"{'notebook':<36} {'cold s':>7} {'cold cpu':>8} {'warm s':>7} {'warm cpu':>8} {'train tokens/s':>15} "
          f"{'core share':>11} {'cold s x share':>14}  cold cells >= 5 s, slowest first (seconds, CPU seconds, cell number, first line)")
    load, when = os.getloadavg()[0], datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    for path in paths:
        with tempfile.TemporaryDirectory() as scratch:
            def env(kind: str) -> dict[str, str]:
                return {**base_env, "LAB_CACHE_DIR": str(Path(scratch) / "cache"),
                        "LAB_STATE_DIR": str(Path(scratch) / kind / "state"),
                        "LAB_WORK_DIR": str(Path(scratch) / kind / "work")}
            rate0, share0 = throughput()
            cold = run(path, env("cold"))
            rate1, share1 = throughput()
            warm = run(path, env("warm"))  # the weights cache the cold run filled
        share = (share0 + share1) / 2
        slow = [c for c in cold[2] if c[0] >= SLOW_CELL] or cold[2][:1]
        cells_text = "; ".join(f"{s:.1f} s ({c:.1f} cpu) #{n} {line[:40]!r}" for s, c, n, _, line in slow)
        rates, shares = f"{rate0:,.0f}/{rate1:,.0f}", f"{share0:.2f}/{share1:.2f}"
        print(f"{path.name:<36} {cold[0]:>7.1f} {cold[1]:>8.1f} {warm[0]:>7.1f} {warm[1]:>8.1f} {rates:>15} "
              f"{shares:>11} {cold[0] * share:>14.1f}  {cells_text}", flush=True)
        if args.write:  # after each notebook: an interrupted run keeps what it measured
            write_table(rows(path, cold, warm, (rate0 + rate1) / 2, share, load, when))
    if not args.write:
        return 0
    print(f"\nwrote {timing_notes.TABLE.relative_to(ROOT)}")
    return report_notes(every, update=args.update_notes)


def report_notes(notebooks: list[Path], update: bool) -> int:
    """Print the notes that drift from the stored table (after rewriting them, with update); 1 if any is left."""
    table = timing_notes.read_table()
    if update:
        for line in timing_notes.update(notebooks, table):
            print("updated", line)
    problems = timing_notes.check(notebooks, table)
    for line in problems:
        print(line)
    print(f"{len(problems)} timing note(s) to change" if problems else "every timing note agrees with the table")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
