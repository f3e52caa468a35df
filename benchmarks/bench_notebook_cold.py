"""How long a notebook takes cold: a fresh kernel, an empty weights cache and an empty offline account.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_notebook_cold.py [notebooks/02_pretraining_vs_instruction_tuning.ipynb]

Target for notebook 02 on the 2-core machine: <= 120 s. The machine is shared, so the local model's training
throughput is measured just before and after, and the time is also printed scaled to an idle machine (the
throughput in data/base_model/README.md); the scaling is an estimate, the wall time the measurement. Asserts
nothing; the notebook copy it runs is thrown away.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
IDLE_TOKENS_PER_S = 17_300  # data/base_model/README.md, "Speed (measured)"


def throughput() -> float:
    """Training tokens per second of the base model right now (a few steps)."""
    from bench_local_model import train_throughput

    from helpers import local_model
    return train_throughput(local_model.load_base(), steps=8)


def main(argv: list[str]) -> int:
    notebook = ROOT / (argv[0] if argv else "notebooks/02_pretraining_vs_instruction_tuning.ipynb")
    scratch = Path(tempfile.mkdtemp(prefix="bench-cold-"))
    copy = scratch / notebook.name
    shutil.copy(notebook, copy)
    env = {**os.environ, "LAB_CACHE_DIR": str(scratch / "cache"), "LAB_STATE_DIR": str(scratch / "state"),
           "LAB_WORK_DIR": str(scratch / "work")}
    before = throughput()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "scripts" / "execute_notebooks.py"), str(copy)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = throughput()
    shutil.rmtree(scratch)
    rate = (before + after) / 2
    print(f"{notebook.name}: {wall:.0f} s cold (load average {os.getloadavg()[0]:.1f}); training throughput "
          f"{before:,.0f} / {after:,.0f} tokens/s before / after; scaled to an idle machine "
          f"({IDLE_TOKENS_PER_S:,} tokens/s): {wall * rate / IDLE_TOKENS_PER_S:.0f} s (target for notebook 02: <= 120 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
