"""Notebook 00's environment check."""
from packaging.requirements import Requirement

from helpers import start


def test_required_packages_are_the_runtime_dependencies():
    names = {req.name for req in start.required_packages()}
    assert {"boto3", "moto", "numpy", "ipywidgets", "tqdm"} <= names
    assert "jupyterlab" not in names and "pytest" not in names


def test_this_environment_is_complete():
    report = start.check_environment()
    assert report["ok"].all(), start.problems(report)


def test_missing_and_too_old_packages_are_named_with_the_fix():
    report = start.check_environment([Requirement("no-such-package-xyz>=1"), Requirement("numpy>=999")])
    assert report["ok"].tolist() == [False, False]
    assert report["installed"].iloc[0] == "missing"
    messages = start.problems(report)
    assert messages[0].startswith("no-such-package-xyz: needs >=1, found missing")
    assert "numpy: needs >=999" in messages[1] and "make lab" in messages[1]


def test_mode_check_right_wrong_and_near_miss():
    assert start.check_mode_answer("offline").startswith("Right")
    assert start.check_mode_answer(" Offline").startswith("Right")  # case and spaces are not the point
    wrong = start.check_mode_answer("live")
    assert wrong.startswith("Not yet") and "credentials never choose live mode" in wrong
    near = start.check_mode_answer(None)  # the learner copy's blank answer
    assert near.startswith("Not yet") and "'offline' or 'live'" in near
