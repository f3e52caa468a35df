"""Where the lab keeps its files: the shipped data, the cache of trained weights, the offline AWS state."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"


def cache_dir() -> Path:
    """Return the directory of cached trained weights ($LAB_CACHE_DIR, default .cache/models/ in the repo)."""
    return Path(os.environ.get("LAB_CACHE_DIR", ROOT / ".cache" / "models"))


def state_dir() -> Path:
    """Return the directory holding the offline AWS account's state ($LAB_STATE_DIR, default .lab-state/)."""
    return Path(os.environ.get("LAB_STATE_DIR", ROOT / ".lab-state"))


def work_dir() -> Path:
    """Return the learner's own output folder, e.g. prepared data ($LAB_WORK_DIR, default work/ in the repo)."""
    return Path(os.environ.get("LAB_WORK_DIR", ROOT / "work"))


def learner_dir() -> Path:
    """Return the folder of the learner's own copies of the notebooks ($LAB_LEARNER_DIR, default my-notebooks/)."""
    return Path(os.environ.get("LAB_LEARNER_DIR", ROOT / "my-notebooks"))


def keep_aside(path: Path) -> Path | None:
    """Rename an existing file to NAME~1~ (then ~2~, ...) so nothing is lost; return the new name, None if absent."""
    path = Path(path)
    if not path.exists():
        return None
    n = 1
    while path.with_name(f"{path.name}~{n}~").exists():
        n += 1
    return path.rename(path.with_name(f"{path.name}~{n}~"))
