"""Cells that say what to run first: a cell run before the one it depends on names that cell, not a bare NameError.

`install()` (called when a notebook imports helpers) sets an IPython exception hook. A NameError for a name that an
earlier code cell of the running notebook assigns becomes "run the cell in section '…' that begins `…` first";
a `NotReady` (a job or throughput read before it settled) and Bedrock's ModelNotReadyException are shown as their
message alone, with what to run first. Any other error is shown as IPython always shows it.
"""
from __future__ import annotations

import ast
import json
import os
from pathlib import Path

from . import paths

HINT_FOR_CODE = {
    "ModelNotReadyException": "the provisioned throughput is not InService yet: run the cell that waits for it "
                              "(aws.wait_for(PT_ARN, ...)) first",
}


class NotReady(RuntimeError):
    """A cell needs a job, throughput or deployment that has not finished yet; the message says what to run."""


def assigned_names(code: str) -> set[str]:
    """Return the names a cell's code binds at the notebook's top level (assignments, defs, imports, loop targets)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:  # IPython magics and shell escapes are not Python
        return set()
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            return  # names inside a body are local to it
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return  # their variables are their own
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def where_defined(notebook: dict, name: str) -> str | None:
    """Return a sentence naming the first code cell of `notebook` that binds `name`, with its section; else None."""
    section = "the top of the notebook"
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            headings = [line.lstrip("#").strip() for line in source.splitlines() if line.startswith("#")]
            section = f"section '{headings[-1]}'" if headings else section
        elif cell["cell_type"] == "code" and name in assigned_names(source):
            first_line = next((line for line in source.splitlines() if line.strip()), "")
            return f"it is set by the cell in {section} that begins `{first_line[:80]}`"
    return None


def running_notebook(cell_source: str, environ=os.environ) -> dict | None:
    """Return the notebook this kernel runs: JupyterLab's JPY_SESSION_NAME, else the one holding the running cell."""
    session = environ.get("JPY_SESSION_NAME", "")
    if session.endswith(".ipynb") and Path(session).is_file():
        return json.loads(Path(session).read_text(encoding="utf-8"))
    for folder in (paths.learner_dir(), paths.ROOT / "notebooks"):
        for path in sorted(Path(folder).glob("*.ipynb")):
            notebook = json.loads(path.read_text(encoding="utf-8"))
            if any("".join(c["source"]) == cell_source for c in notebook["cells"] if c["cell_type"] == "code"):
                return notebook
    return None


def explain(exc: BaseException, cell_source: str = "", environ=os.environ) -> str | None:
    """Return what to run first for an error a cell run out of order raises, or None when it is some other error."""
    if isinstance(exc, NotReady):
        return str(exc)
    response = getattr(exc, "response", None)  # botocore's ClientError carries AWS's error as a dict
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    if code in HINT_FOR_CODE:
        return f"{exc}\n-> {HINT_FOR_CODE[code]}."
    if isinstance(exc, NameError) and getattr(exc, "name", None):
        notebook = running_notebook(cell_source, environ)
        where = notebook and where_defined(notebook, exc.name)
        if where:
            return (f"name '{exc.name}' is not defined yet: {where}. Run that cell first "
                    "(or Run > Run All Above Selected Cell).")
    return None


def install(shell=None) -> bool:
    """Install the hook in the running IPython kernel (no-op outside IPython); return whether it was installed."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False

    def handler(self, etype, value, tb, tb_offset=None):
        cell = self.user_ns.get("In", [""])[-1] if self.user_ns.get("In") else ""
        message = explain(value, cell)
        if message is None:
            return self.showtraceback((etype, value, tb), tb_offset=tb_offset)
        value.args = (message,)
        return self.showtraceback((etype, value, tb), exception_only=True)

    shell.set_custom_exc((NameError, NotReady, Exception), handler)
    return True
