"""Job names made from a base name and the time, as the SageMaker SDK makes them.

Tuning job names are at most 32 characters; the SDK's minute-resolution stamp would make two
tuners started in the same minute collide, so the stamp here has seconds and a random suffix.
"""

from __future__ import annotations

import re
import secrets
import time

TUNING_JOB_NAME_MAX_LENGTH = 32
TRAINING_JOB_NAME_MAX_LENGTH = 63
_STAMP = re.compile(
    r"^(.+)-(\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{3}|\d{6}-\d{4,6}(-[0-9a-f]{3})?)$"
)


def _base(base: str, room: int) -> str:
    # Names allow letters, digits and hyphens only.
    cleaned = re.sub(r"[^a-zA-Z0-9-]", "-", base).strip("-") or "job"
    return cleaned[:room].rstrip("-")


def tuning_job_name(base: str) -> str:
    """``<base>-YYMMDD-HHMMSS-xxx``, at most 32 characters (the base is cut to fit)."""
    stamp = f"{time.strftime('%y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(2)[:3]}"
    return f"{_base(base, TUNING_JOB_NAME_MAX_LENGTH - len(stamp) - 1)}-{stamp}"


def training_job_name(base: str) -> str:
    """``<base>-YYYY-MM-DD-HH-MM-SS-mmm``, at most 63 characters, as the SDK names them."""
    moment = time.time()
    stamp = (
        time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(moment)) + f"-{int(moment % 1 * 1000):03d}"
    )
    return f"{_base(base, TRAINING_JOB_NAME_MAX_LENGTH - len(stamp) - 1)}-{stamp}"


def base_from_name(name: str) -> str:
    """The base a job name was made from (the whole name when it carries no stamp)."""
    match = _STAMP.match(name)
    return match.group(1) if match else name
