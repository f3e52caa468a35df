"""The offline stand-in for Amazon Bedrock: an API-level emulator of `bedrock` and `bedrock-runtime` built
from botocore's service model, next to moto for S3, IAM, STS and SageMaker.

In-process: `helpers.aws.activate()` (offline) calls `hook.install()`. Across processes:
`python -m helpers offline-aws --port PORT` serves the same emulator and moto on 127.0.0.1.
"""
from .hook import MOTO_PASSTHROUGH, install, uninstall
from .service import Emulator
from .wire import AwsError

__all__ = ["Emulator", "AwsError", "MOTO_PASSTHROUGH", "install", "uninstall"]
