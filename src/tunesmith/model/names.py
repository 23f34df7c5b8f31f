"""ARNs and training job names, in SageMaker's formats.

Region and account are configurable (``TUNESMITH_REGION``, ``TUNESMITH_ACCOUNT``) so ARNs can
match what a client expects; the defaults are AWS's placeholder-style values.
"""

from __future__ import annotations

import os

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "000000000000"


def region() -> str:
    return os.environ.get("TUNESMITH_REGION") or DEFAULT_REGION


def account() -> str:
    return os.environ.get("TUNESMITH_ACCOUNT") or DEFAULT_ACCOUNT


def tuning_job_arn(name: str, region: str | None = None, account: str | None = None) -> str:
    return _arn("hyper-parameter-tuning-job", name, region, account)


def training_job_arn(name: str, region: str | None = None, account: str | None = None) -> str:
    return _arn("training-job", name, region, account)


def _arn(kind: str, name: str, region_: str | None, account_: str | None) -> str:
    # SageMaker lower-cases resource names in ARNs.
    return f"arn:aws:sagemaker:{region_ or region()}:{account_ or account()}:{kind}/{name.lower()}"


def training_job_name(tuning_job: str, seq: int, hex8: str) -> str:
    """``<tuning-job>-<NNN>-<8 hex>``: NNN counts from 001 and grows past 999."""
    return f"{tuning_job}-{seq:03d}-{hex8}"
