"""Seconds each notebook takes from a fresh kernel, cold and then warm, and its slowest cells.

Cold: an empty weights cache, offline AWS account and work folder (fresh LAB_CACHE_DIR, LAB_STATE_DIR,
LAB_WORK_DIR), as on a learner's first run. Warm: the same notebook again with the weights cache the cold run
filled (a fresh account and work folder again). Stored outputs are not touched. Targets on the 2-core machine:
notebooks 02 and 05 <= 120 s cold. Run (one BLAS thread, as `make test`):
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_notebooks.py [notebooks/05_evaluation.ipynb ...]

The machine is shared, so two figures stand beside the wall time: the kernel's own CPU seconds, and the local
model's training throughput measured just before and just after the cold run (bench_local_model's pre-training
batch, one thread). Its CPU-seconds per wall-second is the share of a core this process got; the cold wall time
times that share is an estimate of the cold run on an idle machine (the wall time is the measurement).
"""
from __future__ import annotations

import os
import resource
import sys
from datetime import datetime
import tempfile
import time
from pathlib import Path

import nbformat
from bench_local_model import batches, interleaved, numpy_trainer
from nbclient import NotebookClient
from threadpoolctl import threadpool_limits

from helpers import local_model

ROOT = Path(__file__).resolve().parent.parent
SLOWEST = 3  # cells listed per run
THROUGHPUT_STEPS = 4  # timed training steps per throughput figure (about 2 CPU-seconds)
# as `make test`: inline matplotlib, offline AWS, none of the machine's own AWS settings
UNSET = ("MPLBACKEND", "LAB_AWS_MODE", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")


def run(path: Path, env: dict[str, str]) -> tuple[float, float, list[tuple[float, int, str]]]:
    """Execute a copy of the notebook in a fresh kernel under env; return (seconds, the kernel's CPU seconds,
    [(seconds, cell, first line)] of the slowest cells). CPU seconds do not grow when other jobs share the machine."""
    notebook = nbformat.read(path, as_version=4)
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
    cells = []
    for n, cell in enumerate(notebook.cells, start=1):
        timing = cell.metadata.get("execution", {})
        if cell.cell_type == "code" and "shell.execute_reply" in timing:
            start = timing.get("iopub.execute_input") or timing["shell.execute_reply.started"]
            seconds = _parse(timing["shell.execute_reply"]) - _parse(start)
            cells.append((seconds, n, cell.source.splitlines()[0] if cell.source else ""))
    return total, cpu, sorted(cells, reverse=True)[:SLOWEST]


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


def main(argv: list[str]) -> int:
    """Time every notebook named (default: all), cold then warm; print one line per run."""
    paths = [Path(p) for p in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    base_env = {"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "PYTHONHASHSEED": "0",
                "TZ": "UTC",
                "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1"),
                "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    print(f"load average before: {os.getloadavg()[0]:.1f} (CPU seconds are the kernel's own, unaffected by load; "
          "training tokens/s and the core share from just before and just after the cold run)")
    print(f"{'notebook':<36} {'cold s':>7} {'cold cpu':>8} {'warm s':>7} {'warm cpu':>8} {'train tokens/s':>15} "
          f"{'core share':>11} {'cold s x share':>14}  slowest cold cells (seconds, cell number, first line)")
    for path in paths:
        with tempfile.TemporaryDirectory() as scratch:
            def env(kind: str) -> dict[str, str]:
                return {**base_env, "LAB_CACHE_DIR": str(Path(scratch) / "cache"),
                        "LAB_STATE_DIR": str(Path(scratch) / kind / "state"),
                        "LAB_WORK_DIR": str(Path(scratch) / kind / "work")}
            rate0, share0 = throughput()
            cold, cold_cpu, slow = run(path, env("cold"))
            rate1, share1 = throughput()
            warm, warm_cpu, _ = run(path, env("warm"))  # the weights cache the cold run filled
        cells_text = "; ".join(f"{s:.1f} s #{n} {line[:40]!r}" for s, n, line in slow)
        rates, shares = f"{rate0:,.0f}/{rate1:,.0f}", f"{share0:.2f}/{share1:.2f}"
        print(f"{path.name:<36} {cold:>7.1f} {cold_cpu:>8.1f} {warm:>7.1f} {warm_cpu:>8.1f} {rates:>15} {shares:>11} "
              f"{cold * (share0 + share1) / 2:>14.1f}  {cells_text}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
