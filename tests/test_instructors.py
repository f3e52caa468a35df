"""INSTRUCTORS.md keeps up with the notebooks: one timing row and one answer key per notebook, and an answer for
every exercise a notebook asks."""
import json
import re

import pytest

from helpers.paths import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
GUIDE = (ROOT / "INSTRUCTORS.md").read_text(encoding="utf-8")


def exercise_headings(notebook) -> list[str]:
    """The exercise headings of a notebook's markdown cells: '### Exercise ...', or a numbered section that is one
    ('## 15. Exercise 4 - ...'); a section named 'Exercises' only gathers them."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return [line for cell in cells if cell["cell_type"] == "markdown"
            for line in "".join(cell["source"]).splitlines() if re.match(r"#{2,3} (\d+\. )?Exercise\b", line)]


def answer_key(number: str) -> str:
    """The guide's answer-key section of one notebook, from its '### NN ·' heading to the next heading."""
    match = re.search(rf"^### {number} · .*?(?=^#{{2,3}} |\Z)", GUIDE, re.M | re.S)
    assert match, f"INSTRUCTORS.md has no answer key '### {number} · ...'"
    return match.group(0)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_a_timing_row(notebook):
    assert re.search(rf"^\| `{notebook.stem}` \|", GUIDE, re.M), f"no row for {notebook.stem} in the timing table"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_has_an_answer(notebook):
    asked = exercise_headings(notebook)
    answered = re.findall(r"^\*\*Exercise\b", answer_key(notebook.stem[:2]), re.M)
    assert asked, f"{notebook.name} has no exercise heading"
    assert len(answered) == len(asked), (f"{notebook.name} asks {len(asked)} exercises ({asked}); "
                                         f"INSTRUCTORS.md answers {len(answered)}")
