"""Learner copies: every tracked notebook converts, the copies hold no solution cell, and a copy runs top to bottom
(its checks print "not yet" - the proof that no answer is left in it - nothing raises) without changing a tracked
file."""
import ast
import subprocess
from pathlib import Path

import pytest

from helpers import learner, paths, run_first

SOURCES = sorted((paths.ROOT / "notebooks").glob("*.ipynb"))


def outputs_text(cell: dict) -> str:
    return "\n".join("".join(o.get("text", "")) or f"{o.get('ename')}: {o.get('evalue')}" for o in cell["outputs"])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem[:2])
def test_learner_copy_leaves_out_solutions_and_nothing_else(path):
    source = learner.read(path)
    copy = learner.learner_copy(source)
    kept = [c for c in source["cells"] if learner.SOLUTION not in learner.tags(c)]
    assert [(c["id"], c["cell_type"], c["source"], c["metadata"]) for c in copy["cells"]] == \
           [(c["id"], c["cell_type"], c["source"], c["metadata"]) for c in kept]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in copy["cells"] if c["cell_type"] == "code")
    solutions = [c for c in source["cells"] if learner.SOLUTION in learner.tags(c)]
    checks = [i for i, c in enumerate(source["cells"]) if learner.CHECK in learner.tags(c)]
    assert solutions and checks, f"{path.name}: every notebook ends with exercises that have a solution and a check"
    for cell in solutions:
        position = source["cells"].index(cell)
        assert any(i > position for i in checks), f"{path.name}: solution {cell['id']} has no check after it"
        # the learner copy must still define what the solution sets: an earlier answer cell is its blank template
        earlier = set().union(*(run_first.assigned_names("".join(c["source"])) for c in kept[:position]
                                if c["cell_type"] == "code"))
        check = source["cells"][next(i for i in checks if i > position)]
        used = {n.id for n in ast.walk(ast.parse("".join(check["source"]))) if isinstance(n, ast.Name)}
        missing = run_first.assigned_names("".join(cell["source"])) & used - earlier
        assert not missing, f"{path.name}: solution {cell['id']} sets {sorted(missing)} for its check, no earlier cell does"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem[:2])
def test_tracked_notebooks_store_right_answers(path):
    """The sources are the answer key: every check cell's stored output says right, never not yet."""
    for cell in learner.read(path)["cells"]:
        if learner.CHECK in learner.tags(cell):
            text = outputs_text(cell).lower()
            assert "right" in text and "not yet" not in text, f"{path.name} cell {cell['id']}: {text[:200]}"


def test_make_copies_never_overwrites_and_says_when_a_source_changed(tmp_path):
    source, target = tmp_path / "notebooks", tmp_path / "mine"
    source.mkdir()
    (source / "00_start_here.ipynb").write_text((paths.ROOT / "notebooks" / "00_start_here.ipynb").read_text())
    assert learner.make_copies(target, source) == ["00_start_here: made your copy"]
    mine = target / "00_start_here.ipynb"
    work = learner.read(mine)
    work["cells"][0]["source"] = ["my notes"]
    learner.write(mine, work)
    assert learner.make_copies(target, source) == []  # the learner's edit is theirs: kept, nothing to say
    changed = learner.read(source / "00_start_here.ipynb")
    changed["cells"][1]["source"] = ["an updated map of the series"]
    learner.write(source / "00_start_here.ipynb", changed)
    lines = learner.make_copies(target, source)
    assert learner.read(mine)["cells"][0]["source"] == ["my notes"]
    assert len(lines) == 1 and "`make refresh NB=00` replaces it" in lines[0]


def test_refresh_replaces_one_copy_and_keeps_the_old_one(tmp_path):
    learner.make_copies(tmp_path)
    mine = tmp_path / "02_pretraining_vs_instruction_tuning.ipynb"
    mine.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    line = learner.refresh("02", tmp_path)
    assert line.endswith("yours is kept as 02_pretraining_vs_instruction_tuning.ipynb~1~")
    assert (tmp_path / (mine.name + "~1~")).read_text().startswith('{"cells": []')
    assert learner.read(mine)["cells"] == learner.learner_copy(learner.read(paths.ROOT / "notebooks" / mine.name))["cells"]
    learner.refresh("02_pretraining_vs_instruction_tuning.ipynb", tmp_path)
    assert (tmp_path / (mine.name + "~2~")).exists()
    with pytest.raises(ValueError, match=r"no notebook '9' \(give its number, e.g. 02"):
        learner.refresh("9", tmp_path)


def test_command_line_makes_copies_and_refuses_a_bad_refresh(tmp_path, capsys):
    from helpers.__main__ import main

    assert main(["learner-copies", "--into", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("*.ipynb"))) == len(SOURCES)
    assert main(["refresh"]) == 2 and "usage: python -m helpers refresh NB" in capsys.readouterr().err


def test_default_learner_work_state_and_cache_folders_are_ignored_by_git(monkeypatch):
    for var in ("LAB_LEARNER_DIR", "LAB_WORK_DIR", "LAB_STATE_DIR", "LAB_CACHE_DIR"):
        monkeypatch.delenv(var, raising=False)
    for folder in (paths.learner_dir(), paths.work_dir(), paths.state_dir(), paths.cache_dir()):
        probe = folder / "00_start_here.ipynb"
        done = subprocess.run(["git", "check-ignore", "-q", str(probe)], cwd=paths.ROOT)
        assert done.returncode == 0, f"{probe.relative_to(paths.ROOT)} is not ignored by git"


def git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=paths.ROOT,
                          capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem[:2])
def test_learner_copy_runs_top_to_bottom_with_checks_at_not_yet(path, tmp_path, monkeypatch):
    """As a learner meets it: the copy in its own folder, run in a kernel; no tracked file changes."""
    import nbformat
    from nbclient import NotebookClient

    folder = tmp_path / "my-notebooks"
    folder.mkdir()
    copy_path = folder / path.name
    learner.write(copy_path, learner.learner_copy(learner.read(path)))
    for var in ("LAB_AWS_MODE", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "MPLBACKEND"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LAB_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("JPY_SESSION_NAME", str(copy_path))  # what JupyterLab tells a notebook's kernel
    before = git_status()
    notebook = nbformat.read(copy_path, as_version=4)
    NotebookClient(notebook, timeout=900, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    errors = [f"cell {c.id}: {o.ename}: {o.evalue}" for c in notebook.cells if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error" and "raises-exception" not in c.metadata.get("tags", [])]
    assert not errors
    for cell in notebook.cells:
        if learner.CHECK in cell.metadata.get("tags", []):
            assert "not yet" in outputs_text(cell).lower(), f"cell {cell.id}: {outputs_text(cell)[:200]}"
    assert git_status() == before, "running a learner copy changed files in the repository"
