"""The lab's environment: the two ways to install it (pip via pyproject.toml, conda via environment.yml) must
not drift, and importing helpers pins the BLAS to one thread however the kernel started."""
import json
import os
import subprocess
import sys
import tomllib

import pytest
import yaml

from helpers.paths import ROOT


def pyproject_requirements() -> set[str]:
    """Return every requirement pyproject.toml names: dependencies plus all extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {}).values()
    return set(project["dependencies"]).union(*extras)


def conda_pip_requirements() -> set[str]:
    """Return the pip requirements environment.yml installs, less the lab's own editable package."""
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lists = [entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict)]
    assert len(pip_lists) == 1, "environment.yml should have exactly one pip: section"
    return {req for req in pip_lists[0] if req != "-e ."}


def test_environment_yml_matches_pyproject():
    in_pyproject, in_conda = pyproject_requirements(), conda_pip_requirements()
    assert in_conda == in_pyproject, (
        f"only in pyproject.toml: {sorted(in_pyproject - in_conda)}; "
        f"only in environment.yml: {sorted(in_conda - in_pyproject)}"
    )


def test_environment_yml_installs_the_lab_package():
    assert "-e ." in yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"][-1]["pip"]


def test_importing_helpers_pins_a_blas_that_is_already_loaded():
    # as in a `make lab` kernel: no thread variables set, numpy imported before helpers
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    code = ("import json, numpy, threadpoolctl\n"
            "before = [i['num_threads'] for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas']\n"
            "import helpers\n"
            "after = [i['num_threads'] for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas']\n"
            "print(json.dumps([before, after]))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    before, after = json.loads(out.stdout)
    if not before:
        pytest.skip("threadpoolctl sees no BLAS in this numpy build (e.g. Apple Accelerate)")
    print(f"BLAS threads before importing helpers: {before}; after: {after}")
    assert after == [1] * len(before)
