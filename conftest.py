"""How `make test` shares the machine's cores (pytest-xdist), for tests/ and notebooks/ alike.

- Work goes out in units. A notebook's cells run in one kernel, in order, so a notebook is one unit. Notebook 04
  uploads the files notebook 03 prepares when they are there, so 03 and 04 are one unit (03 first), as in a
  serial run. A unit-test module is one unit, so its module fixtures are built once.
- A notebook's learner-copy run (tests/test_learner.py) joins its notebook's unit, after the notebook's cells:
  it then finds the weights those cells trained in the cache, and costs a warm run, not a second cold one.
- Notebook units go out first, the slowest first (cold seconds in benchmarks/notebook_timings.csv), so the
  longest notebook does not start last while the other core sits idle.
- Each worker has its own offline account and work folder (LAB_STATE_DIR and LAB_WORK_DIR + /gw0, /gw1, ...):
  notebooks running at the same time never see each other's jobs or files.
The units are made here rather than with xdist's `--dist loadgroup` marks: with pytest 9.2 those marks are
silently ignored (pytest-dev/pytest-xdist issue 1386, open on 2026-12-01). A serial run (`-n 0`) keeps the same
order, so its learner runs are warm too.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
LEARNER_RUN = "tests/test_learner.py::test_learner_copy_runs_top_to_bottom"
SAME_UNIT_AS = {"04": "03"}


def unit_of(nodeid: str) -> str:
    """The unit of work a test belongs to: `notebook-NN` for a notebook's cells and its learner run, else its file."""
    path = nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        number = Path(path).name[:2]
    elif nodeid.startswith(LEARNER_RUN):
        number = nodeid.rsplit("[", 1)[1].rstrip("]")
    else:
        return path
    return f"notebook-{SAME_UNIT_AS.get(number, number)}"


def cold_seconds() -> dict[str, float]:
    """Each notebook unit's measured cold run (the sum over its notebooks)."""
    seconds: dict[str, float] = {}
    with open(ROOT / "benchmarks" / "notebook_timings.csv", newline="") as table:
        for row in csv.DictReader(table):
            if not row["cell"]:
                unit = unit_of(f"notebooks/{row['notebook']}")
                seconds[unit] = seconds.get(unit, 0.0) + float(row["cold_s"])
    return seconds


def pytest_configure(config):
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        from helpers import paths

        os.environ["LAB_STATE_DIR"] = str(paths.state_dir() / worker)
        os.environ["LAB_WORK_DIR"] = str(paths.work_dir() / worker)


def pytest_collection_modifyitems(config, items):
    """Notebook units first, slowest first; within a unit the collection order, learner runs last."""
    seconds = cold_seconds()
    first_seen = {}
    for item in items:
        first_seen.setdefault(unit_of(item.nodeid), len(first_seen))

    def rank(item):
        unit = unit_of(item.nodeid)
        notebook = unit.startswith("notebook-")
        return (not notebook, -seconds.get(unit, 0.0) if notebook else 0.0, first_seen[unit],
                item.nodeid.startswith(LEARNER_RUN))

    items.sort(key=rank)  # stable: cells keep their order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        """xdist's scope scheduling over the lab's units, in collection order (already sorted above)."""

        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    config.option.loadscopereorder = False
    return UnitScheduling(config, log)
