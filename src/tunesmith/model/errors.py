"""Errors in the shape the SageMaker API gives them: a code and a one-line message.

Every interface turns these into its own form: the CLI prints ``code: message`` on one line,
the server answers HTTP 400 with ``{"__type": code, "message": message}``.
"""

from __future__ import annotations


class TunesmithError(Exception):
    """Base of every error a user can cause; ``code`` is the AWS error code."""

    code = "InternalFailure"
    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ValidationException(TunesmithError):
    code = "ValidationException"


class ResourceNotFound(TunesmithError):
    code = "ResourceNotFound"


class ResourceInUse(TunesmithError):
    code = "ResourceInUse"


class ResourceLimitExceeded(TunesmithError):
    code = "ResourceLimitExceeded"


class ConflictException(TunesmithError):
    code = "ConflictException"
