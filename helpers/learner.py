"""Learner copies of the notebooks: what `make lab` opens, made from the tracked notebooks without their solutions.

The tracked notebooks in notebooks/ are the tested source and the answer key. In them each exercise has an answer
cell that is a blank template (`my_answer = None`), then a cell tagged `solution` that fills in a right answer,
then a check cell tagged `check`. A learner copy is the source without its `solution` cells and with every output
cleared, so each check starts at "Not yet". Copies live in an ignored folder (paths.learner_dir()); JupyterLab's
autosave touches only them, and a `git pull` of updated notebooks never conflicts with a learner's work.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from . import paths

SOLUTION, CHECK = "solution", "check"
SOURCE_DIR = paths.ROOT / "notebooks"


def tags(cell: dict) -> list[str]:
    """Return a cell's tags."""
    return cell.get("metadata", {}).get("tags", [])


def learner_copy(source: dict) -> dict:
    """Return the learner's version of a notebook: `solution` cells left out, every output and count cleared."""
    cells = []
    for cell in source["cells"]:
        if SOLUTION in tags(cell):
            continue
        cell = {**cell, "metadata": dict(cell.get("metadata", {}))}
        if cell["cell_type"] == "code":
            cell.update(outputs=[], execution_count=None)
        cells.append(cell)
    return {**source, "cells": cells, "metadata": {**source.get("metadata", {}), "lab": {"made_from": fingerprint(cells)}}}


def fingerprint(cells: list[dict]) -> str:
    """Return a short hash of the cells' sources: a copy made from an older source has another one."""
    text = json.dumps([(c.get("id"), c["cell_type"], "".join(c["source"])) for c in cells])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read(path: Path) -> dict:
    """Read a notebook file as plain JSON."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write(path: Path, notebook: dict) -> None:
    """Write a notebook as Jupyter does (one-space indent, UTF-8 kept), atomically."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def is_outdated(copy_path: Path, source_path: Path) -> bool:
    """Return whether a learner copy was made from another version of its tracked notebook."""
    made_from = read(copy_path).get("metadata", {}).get("lab", {}).get("made_from")
    return made_from != learner_copy(read(source_path))["metadata"]["lab"]["made_from"]


def make_copies(target: Path | None = None, source: Path = SOURCE_DIR) -> list[str]:
    """Make the learner copy of every tracked notebook that has none in `target`; never touch an existing one.

    Returns one line per notebook: made, or kept (and whether the tracked notebook has changed since).
    """
    target = Path(target or paths.learner_dir())
    target.mkdir(parents=True, exist_ok=True)
    lines = []
    for source_path in sorted(Path(source).glob("*.ipynb")):
        copy_path = target / source_path.name
        if not copy_path.exists():
            write(copy_path, learner_copy(read(source_path)))
            lines.append(f"{source_path.stem}: made your copy")
        elif is_outdated(copy_path, source_path):
            lines.append(f"{source_path.stem}: kept your copy; the lab's notebook has changed since it was made - "
                         f"`make refresh NB={source_path.name[:2]}` replaces it (keeping yours as a backup)")
    return lines


def find_source(name: str, source: Path = SOURCE_DIR) -> Path:
    """Return the tracked notebook that `name` means: its number ("02"), its stem, its file name or a path to it."""
    stem = Path(name).name.removesuffix(".ipynb")
    matches = [p for p in sorted(Path(source).glob("*.ipynb")) if p.stem == stem or p.stem.split("_", 1)[0] == stem]
    if len(matches) != 1:
        known = ", ".join(p.stem for p in sorted(Path(source).glob("*.ipynb")))
        raise ValueError(f"no notebook {name!r} (give its number, e.g. 02, or one of: {known})")
    return matches[0]


def refresh(name: str, target: Path | None = None, source: Path = SOURCE_DIR) -> str:
    """Replace one learner copy with a fresh one from its tracked notebook; the old copy is kept as NAME~n~."""
    target = Path(target or paths.learner_dir())
    source_path = find_source(name, source)
    copy_path = target / source_path.name
    target.mkdir(parents=True, exist_ok=True)
    kept = paths.keep_aside(copy_path)
    write(copy_path, learner_copy(read(source_path)))
    return f"{source_path.stem}: fresh copy in {copy_path}" + (f"; yours is kept as {kept.name}" if kept else "")


def main_copies(argv: list[str]) -> int:
    """`python -m helpers learner-copies [--into DIR] [--from DIR]`: make the missing learner copies."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m helpers learner-copies", description=main_copies.__doc__)
    parser.add_argument("--into", type=Path, default=None, help="the learner's folder (default: my-notebooks/)")
    parser.add_argument("--from", dest="source", type=Path, default=SOURCE_DIR, help="the tracked notebooks")
    args = parser.parse_args(argv)
    target = args.into or paths.learner_dir()
    for line in make_copies(target, args.source):
        print(line)
    print(f"your notebooks: {target} (the lab's own, in notebooks/, stay as shipped)")
    return 0


def main_refresh(argv: list[str]) -> int:
    """`python -m helpers refresh NB`: replace one learner copy with a fresh one, keeping a backup."""
    if len(argv) != 1:
        print("usage: python -m helpers refresh NB   (NB: a notebook's number, e.g. 02)", file=sys.stderr)
        return 2
    try:
        print(refresh(argv[0]))
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    return 0
