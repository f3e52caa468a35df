"""Run notebooks top to bottom in a fresh kernel and store their outputs (what nbval compares).

Usage: python scripts/execute_notebooks.py notebooks/01_decision_tree.ipynb [...]
Run it through `make execute NB=...`, which sets the same environment as `make test`.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def execute(path: Path) -> None:
    """Execute one notebook in place from a fresh kernel, without timing or widget-state metadata."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
    client = NotebookClient(
        notebook,
        timeout=1800,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / "notebooks")}},
        record_timing=False,
        store_widget_state=False,
    )
    client.execute()
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                # nbval never compares tracebacks, and a stored one would show this machine's file paths.
                output.traceback = [f"{output.ename}: {output.evalue}"]
    nbformat.write(notebook, path)


def main(paths: list[str]) -> int:
    """Execute each notebook named; stop at the first that fails."""
    for name in paths:
        print(f"executing {name}", flush=True)
        execute(Path(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
