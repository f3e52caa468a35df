"""Run notebooks' code cells in one namespace, as one kernel would, standing in only for what cannot run offline.

A stand-in is keyed by cell id ('<notebook>#<id>' where ids repeat or cells have none) and checked against a
piece of the cell's code (`marker`), so a changed sample fails with a message instead of running differently.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import time
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

POLL_SLEEP = 0.05  # seconds a sample's time.sleep(60) really waits offline: statuses move in seconds


class StandInUsed(RuntimeError):
    """Code reached a stand-in that cannot do what it was asked: a cell the runner should stand in for ran."""


@dataclass(frozen=True)
class StandIn:
    """Why a sample cell is stood in for, the code it expects there, and what runs (given the namespace).

    mode 'replace': the action (or nothing) runs instead of the cell; 'before': the action prepares what the
    sample assumes the learner did, then the cell runs unmodified.
    """

    reason: str
    marker: str
    action: Callable[[dict], None] | None = None
    mode: str = "replace"


@dataclass(frozen=True)
class ModuleStandIn:
    """A module a sample pip-installs that the lab's environment lacks: why, and how to build what stands in."""

    name: str
    reason: str
    build: Callable[[], types.ModuleType]


@dataclass
class CellResult:
    """One code cell: the notebook, its id, 'ok' / 'prepared' / 'stand-in' / 'failed', the reason, its output."""

    notebook: str
    cell_id: str
    status: str
    detail: str = ""
    output: str = field(default="", repr=False)

    def line(self) -> str:
        """Return the one-line report of this cell."""
        return f"{self.notebook} {self.cell_id} {self.status}" + (f": {self.detail}" if self.detail else "")


class _Shell:
    """The little of get_ipython() the samples' remaining cells use: `!command` runs in the working folder."""

    def __init__(self, workdir: Path, namespace: dict):
        self.workdir, self.namespace = workdir, namespace

    def system(self, command: str) -> None:
        from IPython.utils.text import DollarFormatter
        try:  # like IPython's `!`: $name and {expression} are filled in from the notebook's variables
            command = DollarFormatter().vformat(command, args=[], kwargs=self.namespace)
        except Exception:  # IPython runs the command as written when it cannot expand it
            pass
        # like IPython's `!`: output is shown and a non-zero exit status does not stop the cell
        done = subprocess.run(command, shell=True, cwd=self.workdir, capture_output=True, text=True)
        print(done.stdout + done.stderr, end="")

    def run_line_magic(self, name: str, line: str) -> None:
        raise StandInUsed(f"%{name} {line}: this magic has no offline stand-in; add the cell to the stand-ins")

    def run_cell_magic(self, name: str, line: str, _cell: str) -> None:
        raise StandInUsed(f"%%{name} {line}: this cell magic has no offline stand-in; add the cell to the stand-ins")


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


def placeholder_module(name: str) -> types.ModuleType:
    """Return a stand-in for an uninstalled module: importing it works, calling anything in it raises."""
    module = types.ModuleType(name)

    def unavailable(attr: str):
        def call(*_, **__):
            raise StandInUsed(f"{name}.{attr} is only used by stood-in cells (package {name} is not installed)")
        return call

    module.__getattr__ = unavailable  # type: ignore[attr-defined]
    return module


def stand_in_for(stand_ins: dict[str, StandIn], notebook: str, cell_id: str) -> tuple[str, StandIn] | None:
    """Return (key, stand-in) for a cell: a '<notebook>#<id>' key first, then the bare id; None: runs as is."""
    for key in (f"{notebook}#{cell_id}", cell_id):
        if key in stand_ins:
            return key, stand_ins[key]
    return None


def missing(modules: tuple[ModuleStandIn, ...]) -> list[ModuleStandIn]:
    """Return the modules of `modules` this environment does not have (the ones to stand in for)."""
    return [m for m in modules if m.name not in sys.modules and importlib.util.find_spec(m.name) is None]


@contextlib.contextmanager
def _sample_process(workdir: Path, region: str, added: list[ModuleStandIn]) -> Iterator[None]:
    """The process as the samples expect it: cwd, region, stand-in modules, fast sleeps, no windows. Restored after."""
    saved_cwd, real_sleep = os.getcwd(), time.sleep
    saved_env = {k: os.environ.get(k) for k in ("AWS_DEFAULT_REGION", "MPLBACKEND")}
    with warnings.catch_warnings():  # the samples call warnings.filterwarnings('ignore'): keep it to the run
        try:
            os.chdir(workdir)
            os.environ["AWS_DEFAULT_REGION"] = region
            os.environ.setdefault("MPLBACKEND", "Agg")  # plt.show() draws nowhere instead of opening a window
            sys.modules.update({m.name: m.build() for m in added})
            time.sleep = lambda seconds: real_sleep(min(seconds, POLL_SLEEP))
            yield
        finally:
            time.sleep = real_sleep
            for m in added:
                sys.modules.pop(m.name, None)
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            os.chdir(saved_cwd)


def run_notebooks(paths: list[Path], workdir: Path, *, region: str, stand_ins: dict[str, StandIn],
                  modules: tuple[ModuleStandIn, ...] = (),
                  report: Callable[[CellResult], None] = lambda r: None,
                  report_module: Callable[[ModuleStandIn], None] = lambda m: None) -> tuple[list[CellResult], dict]:
    """Run the notebooks' code cells in one namespace, standing in where `stand_ins` say; stop at the first failure.

    `modules` not installed here are stood in for (each passed to `report_module` first). Returns every cell's
    result ('ok', 'prepared', 'stand-in' or 'failed') and the namespace. The caller chooses the account
    (helpers.aws.activate()).
    """
    from IPython.core.inputtransformer2 import TransformerManager

    to_python = TransformerManager().transform_cell  # `!cmd` and `%magic` lines -> get_ipython() calls
    namespace: dict = {"__name__": "__main__"}
    shell = _Shell(workdir, namespace)
    namespace["get_ipython"] = lambda: shell
    results: list[CellResult] = []
    added = missing(modules)
    for module in added:
        report_module(module)
    with _sample_process(workdir, region, added):
        for path in paths:
            for cell_id, source in read_code_cells(path):
                found = stand_in_for(stand_ins, path.name, cell_id)
                stand_in = found[1] if found else None
                mode = stand_in.mode if stand_in else "run"
                buffer = io.StringIO()
                try:
                    if stand_in is not None and stand_in.marker not in source:
                        raise StandInUsed(f"the stand-in {found[0]} expects a cell with {stand_in.marker!r}; "
                                          "the sample has changed: update its stand-ins")
                    with contextlib.redirect_stdout(buffer):
                        if stand_in is not None and stand_in.action is not None:
                            stand_in.action(namespace)
                        if mode in ("run", "before"):
                            exec(compile(to_python(source), f"{path.name}:{cell_id}", "exec"), namespace)
                    status = {"run": "ok", "before": "prepared", "replace": "stand-in"}[mode]
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
