"""Checks for notebook 00: is everything the lab needs installed, at a version that works?"""
from __future__ import annotations

import importlib.metadata as metadata

import pandas as pd
from packaging.requirements import Requirement
from packaging.version import Version

DISTRIBUTION = "bedrock-customization-lab"


def required_packages(distribution: str = DISTRIBUTION) -> list[Requirement]:
    """Return the lab's own runtime requirements (extras such as [lab] and [test] left out)."""
    requirements = [Requirement(text) for text in metadata.requires(distribution) or []]
    return [req for req in requirements if req.marker is None]


def installed_version(name: str) -> str | None:
    """Return the installed version of a package, or None when it is missing."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def check_environment(requirements: list[Requirement] | None = None) -> pd.DataFrame:
    """Return one row per required package: what the lab needs, what is installed, and whether that works."""
    rows = []
    for req in requirements if requirements is not None else required_packages():
        found = installed_version(req.name)
        works = found is not None and req.specifier.contains(Version(found), prereleases=True)
        rows.append({"package": req.name, "needs": str(req.specifier) or "any", "installed": found or "missing", "ok": works})
    return pd.DataFrame(rows, columns=["package", "needs", "installed", "ok"])


def problems(report: pd.DataFrame) -> list[str]:
    """Return one sentence per package that is missing or too old, with the command that fixes it."""
    return [
        f"{row.package}: needs {row.needs}, found {row.installed} - run `make lab` again (or pip install -e .)"
        for row in report.itertuples()
        if not row.ok
    ]


def check_mode_answer(answer) -> str:
    """Notebook 00's exercise: which mode does a kernel with AWS credentials but no LAB_AWS_MODE run in?"""
    from helpers.aws import choose_mode

    truth = choose_mode(None, {"AWS_PROFILE": "colleague", "AWS_ACCESS_KEY_ID": "from-their-config"})
    given = answer.strip().lower() if isinstance(answer, str) else answer
    if given not in ("offline", "live"):
        return f"Not yet: set my_answer to the string 'offline' or 'live' (it is {answer!r})."
    if given != truth:
        return ("Not yet: credentials never choose live mode - live mode spends money, so only LAB_AWS_MODE=live "
                "or aws.activate('live') choose it.")
    return "Right: credentials alone never switch the lab to live mode; an unset LAB_AWS_MODE means offline."
