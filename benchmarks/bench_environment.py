"""Print the size of the lab's virtual environments: what a learner installs on a workshop laptop."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def size_mb(path: Path) -> float:
    """Return the total size of the files under path, in MB (links not followed)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def main() -> int:
    """Print one line per environment found: its name, its size, and what it is for."""
    purposes = {".venv": "make lab (JupyterLab + the lab)", ".venv-test": "make test (lean: no JupyterLab)"}
    found = False
    for name, purpose in purposes.items():
        venv = ROOT / name
        if venv.is_dir():
            found = True
            print(f"environment size: {name} {size_mb(venv):.0f} MB - {purpose}")
    if not found:
        print("environment size: no environment yet - run `make lab` or `make test` first")
    return 0


if __name__ == "__main__":
    sys.exit(main())
