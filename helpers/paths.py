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
