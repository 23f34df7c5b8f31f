"""Errors of the SDK layer, named and shaped as the SageMaker SDK's."""

from __future__ import annotations

from typing import Any


class UnexpectedStatusException(ValueError):
    """A job ended with a status other than the one waited for (``Failed``, say)."""

    def __init__(self, message: str, allowed_statuses: list[str], actual_status: str) -> None:
        super().__init__(message)
        self.allowed_statuses = allowed_statuses
        self.actual_status = actual_status


def reject_unsupported(owner: str, **arguments: Any) -> None:
    """Raise ``ValueError`` naming the first argument given a value: SDK arguments with no
    local meaning fail loudly instead of being dropped."""
    for name, value in arguments.items():
        if value is not None and value is not False:
            raise ValueError(
                f"{owner} argument '{name}' is not supported by tunesmith.sagemaker "
                f"(it has no local equivalent); remove it"
            )
