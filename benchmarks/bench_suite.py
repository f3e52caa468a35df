"""Time `make test` as CI meets it: a fresh clone of the committed HEAD, no environment, no weights cache.

    python benchmarks/bench_suite.py [--workers auto|0|N ...] [--keep]

For each --workers value (default: auto, what `make test` uses) it clones the repository into a new temporary
folder and runs `make test TEST_WORKERS=...` there, then prints the wall seconds of the install (the
.venv-test/.installed target) and of the test run, the CPU seconds of both, the core share (CPU / wall) and the
load average before and after. Several values compare in one run on the same machine, so a busy machine shows
up as a ratio rather than as a wrong absolute figure. The pip download cache of this machine is used (a laptop
that has never installed these packages also downloads them). Exits 1 if a run fails.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall s, CPU s of the command and its children, the finished process)."""
    cpu0, t0 = children_cpu(), time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return time.perf_counter() - t0, children_cpu() - cpu0, done


def run_once(workers: str, keep: bool) -> bool:
    folder = Path(tempfile.mkdtemp(prefix="bench-suite-"))
    clone = folder / "lab"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    # what the machine's shell may carry must not reach the clone: its own cache, state and work folders
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAB_")}
    load0 = os.getloadavg()[0]
    install_wall, install_cpu, done = timed(["make", ".venv-test/.installed"], clone, env)
    if done.returncode:
        print(done.stdout[-3000:] + done.stderr[-3000:])
        return False
    test_wall, test_cpu, done = timed(["make", "test", f"TEST_WORKERS={workers}"], clone, env)
    summary = (re.findall(r"=+ (\d+ (?:passed|failed).*?) in [\d.]+s", done.stdout) or ["no summary"])[-1]
    total = install_wall + test_wall
    print(f"workers={workers}: {summary}")
    print(f"  install {install_wall:.0f} s wall / {install_cpu:.0f} s CPU; tests {test_wall:.0f} s wall / "
          f"{test_cpu:.0f} s CPU (core share {test_cpu / test_wall:.2f}); total {total:.0f} s = {total / 60:.1f} min "
          f"wall; load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after")
    if done.returncode:
        print(done.stdout[-5000:])
    if keep:
        print(f"  clone kept in {clone}")
    else:
        subprocess.run(["rm", "-rf", str(folder)], check=True)
    return done.returncode == 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", nargs="+", default=["auto"], help="TEST_WORKERS values to compare (0 = serial)")
    ap.add_argument("--keep", action="store_true", help="keep the clones (to look at their caches)")
    args = ap.parse_args(argv)
    print(f"fresh clones of {subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()}"
          f" on {os.cpu_count()} cores")
    ok = [run_once(w, args.keep) for w in args.workers]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
