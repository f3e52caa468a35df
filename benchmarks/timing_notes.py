"""The "this cell takes about N s" notes in the notebooks, checked against the measured timing table.

A checked note is a sentence in a markdown cell about the code right after it:
    This cell takes about 5 s.
    This cell takes about 30 s the first time, about 3 s after.
    The next 2 cells take about 25 s the first time, about 2 s after.
    This notebook takes about 110 s the first time, about 20 s after.     (anywhere in the notebook)
"The first time" is a cold run (empty weights cache, as on a learner's first run); "after" is a warm one (the
weights that run cached). A note without "the first time" is checked against the cold run. The figure compared
is the table's idle-machine estimate (`cold_idle_s`, `warm_idle_s`: the cell's CPU seconds, or its wall seconds
times the share of a core the benchmark got if that is more), so notes speak of an idle 2-core machine whatever
the load was during the measurement.

A note is fair when it is within 3 s of the measurement or within a factor of 1.5 of it either way: rough
enough for "about", close enough that "about 5 s" never means 20 s. Any other "about N s" / "takes about"
wording in a markdown cell is reported too, so every timing a learner reads is a checked one.
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "benchmarks" / "notebook_timings.csv"
NOTEBOOK_ROW = ""  # the cell column of a whole-notebook row
ABSOLUTE_SLACK, RATIO = 3.0, 1.5
COUNTS = {"2": 2, "two": 2, "3": 3, "three": 3, "4": 4, "four": 4}
NOTE = re.compile(r"(?P<subject>this cell takes|this notebook takes|the next (?P<count>\w+) cells take) about "
                  r"(?P<cold>\d+) s(?P<first> the first time(?:, about (?P<warm>\d+) s after)?)?", re.IGNORECASE)
LOOSE = re.compile(r"takes about|about (?:\d+|a|one|two|three|a few) (?:s|secs?|seconds?|CPU-seconds|min|minutes)\b",
                   re.IGNORECASE)


@dataclass
class Note:
    """One checked note: where it is, the code cells it times, and the figures it states."""

    notebook: str
    markdown_id: str
    text: str
    cells: list[str]  # ids of the code cells timed; empty = the whole notebook
    cold: int
    warm: int | None

    def where(self) -> str:
        return f"{self.notebook} markdown cell {self.markdown_id}"


def flat(cell: dict) -> str:
    source = cell["source"]
    return re.sub(r"\s+", " ", "".join(source) if isinstance(source, list) else source)


def read_notes(path: Path) -> tuple[list[Note], list[str]]:
    """The checked notes of one notebook, and a problem line for each timing phrase that is not one."""
    cells = json.loads(path.read_text())["cells"]
    notes, problems = [], []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        text = flat(cell)
        found = list(NOTE.finditer(text))
        checked = [(m.start(), m.end()) for m in found]
        for loose in LOOSE.finditer(text):
            if not any(a <= loose.start() < b for a, b in checked):
                problems.append(f"{path.name} markdown cell {cell['id']}: {text[max(0, loose.start() - 30):loose.end() + 30]!r} "
                                "is a timing the table does not check; write it as 'This cell takes about N s' "
                                "(see benchmarks/timing_notes.py)")
        for m in found:
            subject = m["subject"].lower()
            if subject.startswith("this notebook"):
                timed = []
            else:
                count = 1 if subject.startswith("this cell") else COUNTS.get(m["count"].lower())
                following = [c["id"] for c in cells[i + 1:i + 1 + (count or 0)] if c["cell_type"] == "code"]
                if count is None or len(following) != count:
                    problems.append(f"{path.name} markdown cell {cell['id']}: {m[0]!r} must come right before the "
                                    f"{count or 'N'} code cell(s) it times")
                    continue
                timed = following
            notes.append(Note(path.name, cell["id"], m[0], timed, int(m["cold"]),
                              int(m["warm"]) if m["warm"] else None))
    return notes, problems


def read_table(path: Path = TABLE) -> dict[tuple[str, str], dict]:
    """The timing table: {(notebook, cell id or NOTEBOOK_ROW): row}."""
    with path.open(newline="") as f:
        return {(row["notebook"], row["cell"]): row for row in csv.DictReader(f)}


def is_fair(stated: float, measured: float) -> bool:
    return abs(stated - measured) <= ABSOLUTE_SLACK or measured / RATIO <= stated <= measured * RATIO


def suggest(seconds: float) -> int:
    """The figure a note should state for a measurement: whole seconds under 10, then 5 s, then 10 s steps."""
    step = 1 if seconds < 10 else 5 if seconds < 60 else 10
    return max(1, int(round(seconds / step)) * step)


def measured(note: Note, table: dict) -> tuple[float, float]:
    """The (cold, warm) idle-machine seconds of what a note times, from the table; KeyError if not measured."""
    rows = [table[(note.notebook, NOTEBOOK_ROW)]] if not note.cells else [table[(note.notebook, c)] for c in note.cells]
    return (sum(float(r["cold_idle_s"]) for r in rows), sum(float(r["warm_idle_s"]) for r in rows))


def check(notebooks: list[Path], table: dict) -> list[str]:
    """One line per note that drifts from the table (with the note it should be) or is not measured."""
    problems = []
    for path in notebooks:
        notes, loose = read_notes(path)
        problems += loose
        for note in notes:
            try:
                cold, warm = measured(note, table)
            except KeyError:
                problems.append(f"{note.where()}: {note.text!r} times a cell the table has no row for; run "
                                f"python benchmarks/bench_notebooks.py --write notebooks/{note.notebook}")
                continue
            fair = is_fair(note.cold, cold) and (note.warm is None or is_fair(note.warm, warm))
            if not fair:
                problems.append(f"{note.where()}: {note.text!r} but the table measured {cold:.1f} s cold, "
                                f"{warm:.1f} s warm; write {rewrite(note, cold, warm)!r}")
    return problems


def rewrite(note: Note, cold: float, warm: float) -> str:
    """The note with the table's figures (keeps its wording; adds the warm figure when a note had one)."""
    text = re.sub(r"about \d+ s", f"about {suggest(cold)} s", note.text, count=1)
    if note.warm is not None:
        text = re.sub(r"(, about )\d+( s after)", rf"\g<1>{suggest(warm)}\g<2>", text)
    return text


def update(notebooks: list[Path], table: dict) -> list[str]:
    """Rewrite drifting notes in place from the table (markdown source only; ids and outputs untouched).
    Return what changed."""
    changed = []
    for path in notebooks:
        nb = json.loads(path.read_text())
        before = len(changed)
        by_id = {c["id"]: c for c in nb["cells"]}
        notes, _ = read_notes(path)
        for note in notes:
            try:
                cold, warm = measured(note, table)
            except KeyError:
                continue
            if is_fair(note.cold, cold) and (note.warm is None or is_fair(note.warm, warm)):
                continue
            cell = by_id[note.markdown_id]
            new = rewrite(note, cold, warm)
            source = "".join(cell["source"])
            # the note may wrap over lines: match it with any whitespace where the flattened text has a space
            pattern = r"\s+".join(re.escape(word) for word in note.text.split(" "))
            source, n = re.subn(pattern, new, source, count=1)
            if n:
                cell["source"] = source.splitlines(keepends=True)
                changed.append(f"{note.where()}: {note.text!r} -> {new!r}")
        if len(changed) > before:  # written as nbformat writes it, so only the note's lines change
            path.write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
    return changed
