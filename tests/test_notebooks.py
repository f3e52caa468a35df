"""Guards on the stored notebooks: nbval only compares what was run and stored, so check that it was."""
import json
import re
from pathlib import Path

import pytest

from helpers.paths import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:home|root|Users|work|tmp|opt|usr|var)/[^\s\"'\\]+")
CREDENTIAL = re.compile(
    r"AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|aws_secret_access_key|aws_session_token|"
    r"(?i:secret[_ ]?access[_ ]?key)\W+[A-Za-z0-9/+]{20,}"
)
COMMENT_MARKER = re.compile(r"#\s*NBVAL_", re.IGNORECASE)


def code_cells(path: Path) -> list[dict]:
    """Return the code cells of a stored notebook."""
    return [cell for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code"]


def output_text(cell: dict) -> str:
    """Return all text a cell's stored outputs hold (images left out)."""
    parts = []
    for output in cell.get("outputs", []):
        parts += output.get("text", [])
        for mime, value in output.get("data", {}).items():
            if not mime.startswith("image/"):
                parts += value if isinstance(value, list) else [json.dumps(value)]
        parts += [output.get("evalue", "")] + output.get("traceback", [])
    return "".join(parts)


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS][:2] == ["00_start_here.ipynb", "01_decision_tree.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_code_cell_was_run_in_order(path):
    counts = [cell.get("execution_count") for cell in code_cells(path)]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: stored execution counts are {counts}, not 1..{len(counts)}: unrun cells are never "
        f"compared by nbval. Re-run it top to bottom: make execute NB=notebooks/{path.name}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs_hold_no_machine_paths_or_credentials(path):
    for number, cell in enumerate(code_cells(path), start=1):
        text = output_text(cell)
        assert not CREDENTIAL.search(text), f"{path.name} code cell {number}: an output looks like a credential"
        paths = [m for m in MACHINE_PATH.findall(text) if "ipykernel_" not in m]
        assert not paths, f"{path.name} code cell {number}: outputs show paths of this machine: {paths[:3]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_markers_are_cell_tags_not_comments(path):
    for number, cell in enumerate(code_cells(path), start=1):
        source = "".join(cell["source"])
        assert not COMMENT_MARKER.search(source), f"{path.name} code cell {number}: use a cell tag, not # NBVAL_"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_errors_are_stored_only_where_expected(path):
    for number, cell in enumerate(code_cells(path), start=1):
        errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
        if errors:
            assert "raises-exception" in cell["metadata"].get("tags", []), (
                f"{path.name} code cell {number} stored an error ({errors[0]['ename']}) but is not tagged raises-exception"
            )
