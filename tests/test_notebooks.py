"""Guards on the stored notebooks: nbval only compares what was run and stored, so check that it was."""
import json
import re
import sys
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


# --------------------------------------------------------------------------- timing notes vs the measured table
sys.path.insert(0, str(ROOT / "benchmarks"))
import timing_notes  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_timing_note_agrees_with_the_measured_table(path):
    """A "this cell takes about N s" note that drifts from benchmarks/notebook_timings.csv fails here; the fix is
    `python benchmarks/bench_notebooks.py --write --update-notes` (or --update-notes alone after a --write)."""
    table = timing_notes.read_table()
    assert (path.name, timing_notes.NOTEBOOK_ROW) in table, (
        f"{path.name} has no row in {timing_notes.TABLE.name}: run "
        f"OPENBLAS_NUM_THREADS=1 python benchmarks/bench_notebooks.py --write notebooks/{path.name}")
    problems = timing_notes.check([path], table)
    assert not problems, "\n".join(problems)


def fake_notebook(tmp_path: Path, *sources: str) -> Path:
    cells = [{"cell_type": "code" if s.startswith("CODE") else "markdown", "id": f"c{i}", "metadata": {},
              "source": s} for i, s in enumerate(sources)]
    path = tmp_path / "99_fake.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
                               sort_keys=True, indent=1) + "\n")
    return path


def row(cell: str, cold: float, warm: float) -> dict:
    return {"notebook": "99_fake.ipynb", "cell": cell, "cold_idle_s": str(cold), "warm_idle_s": str(warm)}


def test_a_drifting_note_fails_and_is_rewritten_from_the_table(tmp_path):
    path = fake_notebook(tmp_path, "Train it. *This cell takes\nabout 5 s.*", "CODE train()",
                         "This cell takes about 30 s the first time, about 3 s after.", "CODE train_more()",
                         "This notebook takes about 60 s the first time, about 10 s after. About 450 requests.")
    table = {("99_fake.ipynb", c): row(c, cold, warm) for c, cold, warm in
             [("c1", 20.0, 19.0), ("c3", 40.0, 2.0), ("", 70.0, 12.0)]}
    problems = timing_notes.check([path], table)
    assert len(problems) == 1 and "c0" in problems[0] and "measured 20.0 s cold" in problems[0]
    assert "'This cell takes about 20 s'" in problems[0]
    table[("99_fake.ipynb", "c3")] = row("c3", 40.0, 9.0)  # the warm figure drifts too
    assert len(timing_notes.check([path], table)) == 2
    changed = timing_notes.update([path], table)
    assert len(changed) == 2 and timing_notes.check([path], table) == []
    cells = json.loads(path.read_text())["cells"]
    assert cells[0]["source"] == ["Train it. *This cell takes about 20 s.*"]
    assert cells[2]["source"] == ["This cell takes about 40 s the first time, about 9 s after."]
    assert [c["id"] for c in cells] == ["c0", "c1", "c2", "c3", "c4"]


def test_unchecked_or_misplaced_timings_are_reported(tmp_path):
    path = fake_notebook(tmp_path, "Runs in about 10 seconds.", "CODE a()",
                         "The next 2 cells take about 9 s.", "CODE b()", "text", "CODE c()",
                         "This cell takes about 4 s.", "CODE d()")
    assert timing_notes.check([path], {("99_fake.ipynb", "c7"): row("c7", 1.0, 1.0)}) == \
        timing_notes.check([path], {("99_fake.ipynb", "c7"): row("c7", 6.5, 1.0)})  # within 3 s of 4 s: fair
    problems = timing_notes.check([path], {})
    assert len(problems) == 3, problems
    assert "c0" in problems[0] and "does not check" in problems[0]
    assert "c2" in problems[1] and "must come right before" in problems[1]
    assert "c6" in problems[2] and "table has no row" in problems[2] and "--write" in problems[2]


def test_a_fair_note_is_rough_but_not_wrong():
    assert timing_notes.is_fair(5, 7.9) and timing_notes.is_fair(30, 44) and timing_notes.is_fair(30, 21)
    assert not timing_notes.is_fair(5, 20) and not timing_notes.is_fair(30, 46) and not timing_notes.is_fair(30, 19)
    assert [timing_notes.suggest(s) for s in (0.2, 4.4, 12.6, 58, 113)] == [1, 4, 15, 60, 110]
