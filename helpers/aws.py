"""The switch between the offline stand-in for AWS (the default) and a real AWS account."""
from __future__ import annotations

import os

MODES = ("offline", "live")
MODE_VARIABLE = "LAB_AWS_MODE"

BANNERS = {
    "offline": (
        "AWS mode: offline - boto3 talks to the lab's stand-in for AWS on this machine "
        "(no account, no network, no cost). Set LAB_AWS_MODE=live to use a real account."
    ),
    "live": (
        "AWS mode: live - boto3 talks to your real AWS account with your credentials; "
        "billable resources are priced and confirmed before they are created."
    ),
}

_mode: str | None = None
_offline_mock = None


class ModeError(ValueError):
    """The requested AWS mode is unknown, or differs from the one this process already chose."""


def choose_mode(mode: str | None = None, environ: dict[str, str] | None = None) -> str:
    """Return the mode asked for: the argument, else $LAB_AWS_MODE, else offline (never inferred from credentials)."""
    environ = os.environ if environ is None else environ
    source, value = ("argument mode", mode) if mode is not None else (MODE_VARIABLE, environ.get(MODE_VARIABLE))
    if value is None or value.strip() == "":
        return "offline"
    value = value.strip().lower()
    if value not in MODES:
        raise ModeError(f"{source}={value!r} is not a mode of the lab; use one of: {', '.join(MODES)}")
    return value


def _start_offline() -> None:
    """Route boto3 to in-process stand-ins: moto for S3, IAM, STS and SageMaker."""
    global _offline_mock
    from moto import mock_aws
    from moto.moto_api._internal import mock_random

    # Dummy credentials, so botocore never looks for (or finds) a real account while offline.
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        os.environ[name] = value
    os.environ.pop("AWS_PROFILE", None)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    mock_random.seed(42)  # stable ids (IAM role ids, request ids) so stored notebook outputs compare
    _offline_mock = mock_aws()
    _offline_mock.start()


def activate(mode: str | None = None) -> str:
    """Decide the AWS mode once for this process, print what it means, and return it."""
    global _mode
    chosen = choose_mode(mode)
    if _mode is not None:
        if mode is not None and chosen != _mode:
            raise ModeError(
                f"this process already runs in {_mode!r} mode; restart the kernel to switch to {chosen!r}"
            )
        return _mode
    if chosen == "offline":
        _start_offline()
    _mode = chosen
    print(BANNERS[chosen])
    return chosen


def current_mode() -> str | None:
    """Return the mode chosen by activate(), or None before it has run."""
    return _mode
