"""Fixtures of the offline-account tests (test_offline_*.py, test_aws.py): a 1-layer base model, a clean
environment, and the in-process offline account as helpers.aws.activate() sets it up."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import local_model, offline
from helpers.offline import runtime
from helpers.offline.service import Emulator
from helpers.offline.state import Store
from offline_support import Account

MOTO_CONFIG = {"core": {"mock_credentials": True, "reset_boto3_session": True, "service_whitelist": None,
                        "passthrough": {"urls": [], "services": offline.MOTO_PASSTHROUGH}}}


@pytest.fixture(scope="module")
def tiny_base():
    """A 1-layer stand-in for the shipped checkpoint, on the shipped tokenizer (which reads any text)."""
    tok = local_model.load_base().tokenizer
    config = {"n_layer": 1, "d_model": 32, "n_head": 2, "context": 192, "vocab_size": len(tok)}
    return local_model.Model(config, tok, local_model.init_params(config, np.random.default_rng(0)))


@pytest.fixture
def lab_env(tmp_path, monkeypatch, tiny_base):
    """A clean offline account: its own state and cache directories, fast status phases, the tiny base model."""
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "LAB_AWS_MODE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "LAB_STATE_DIR": str(tmp_path / "state"), "LAB_CACHE_DIR": str(tmp_path / "cache"),
                       "LAB_OFFLINE_TIME_SCALE": "0.02"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(runtime, "base_model", lambda: tiny_base)
    return tmp_path


@pytest.fixture
def account(lab_env):
    """moto for S3/IAM/STS plus the emulator's before-send hook, as helpers.aws.activate() sets them up."""
    from moto import mock_aws
    mock = mock_aws(config=MOTO_CONFIG)
    mock.start()
    offline.install(Emulator(Store(lab_env / "state")))
    try:
        yield Account()
    finally:
        offline.uninstall()
        mock.stop()
