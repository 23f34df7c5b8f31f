"""The AWS JSON 1.1 protocol as botocore speaks it: targets, request bodies checked against the
SageMaker service model, response bodies, and errors.

Request bodies are checked against the input shapes of botocore's SageMaker model, the same
model boto3 serialises from, so every operation rejects wrong types (``SerializationException``)
and broken constraints (``ValidationException``) the way SageMaker does, before any operation
code runs. Members the model does not know are dropped, as AWS ignores them. Requests that
``tunesmith.model`` loads (the Create operations) are checked for types only: their constraints
are the model's, with its local differences (local paths, local instance types).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape
from botocore.session import get_session

from tunesmith.model.errors import TunesmithError, ValidationException

TARGET_PREFIX = "SageMaker."
CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_VALUE_IN_MESSAGE = 100
# Patterns checked on the wire: names become folders and ARNs, so their rules matter locally.
# Other patterns (S3 URIs, role ARNs) are AWS's and would refuse local paths.
CHECKED_PATTERNS = frozenset(
    {"HyperParameterTuningJobName", "TrainingJobName", "NameContains", "ResourceArn"}
)
INT_RANGE = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


class SerializationException(TunesmithError):
    code = "SerializationException"


class UnknownOperationException(TunesmithError):
    code = "UnknownOperationException"


class RequestTooLarge(TunesmithError):
    code = "ValidationException"
    http_status = 413


@cache
def service_model() -> ServiceModel:
    return get_session().get_service_model("sagemaker")


def operation_model(target: str | None, operations: Mapping[str, Any]) -> OperationModel:
    """The operation an ``X-Amz-Target`` header names, if this server offers it."""
    if not target or not target.startswith(TARGET_PREFIX):
        raise UnknownOperationException(
            f"X-Amz-Target must be 'SageMaker.<Operation>', got '{_shown(target or '')}'"
        )
    name = target.removeprefix(TARGET_PREFIX)
    if name not in operations:
        raise UnknownOperationException(f"Operation {_shown(name)} is not supported.")
    return service_model().operation_model(name)


def _reject_constant(name: str) -> float:
    raise SerializationException(f"{name} is not a valid JSON number")


def decode_body(body: bytes) -> dict[str, Any]:
    """The JSON object of a request body (an empty body is an empty object)."""
    if not body.strip():
        return {}
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        # Lone surrogates (\ud800) decode but cannot be stored or printed.
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError) as error:
        raise SerializationException(f"The request body is not valid JSON: {error}") from None
    except RecursionError:
        raise SerializationException("The request body is nested too deeply") from None
    if not isinstance(document, dict):
        raise SerializationException("The request body must be a JSON object")
    return document


def _shown(value: Any) -> str:
    """A value as a one-line error message may quote it."""
    text = str(value)
    if len(text) > MAX_VALUE_IN_MESSAGE:
        text = text[:MAX_VALUE_IN_MESSAGE] + "..."
    return text.encode("unicode_escape").decode("ascii")


class _Checker:
    """Walks a request against an input shape, collecting constraint failures and converting
    wire timestamps to ``datetime``."""

    def __init__(self, constraints: bool) -> None:
        self.constraints = constraints
        self.errors: list[str] = []

    def _fail(self, value: Any, path: str, constraint: str) -> None:
        if self.constraints:
            shown = "null" if value is None else f"'{_shown(value)}'"
            self.errors.append(
                f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}"
            )

    def check(self, shape: Shape, value: Any, path: str) -> Any:
        handler = getattr(self, f"_{shape.type_name}", None)
        if handler is None:
            raise SerializationException(f"'{path}': values of type {shape.type_name} are not "
                                         "accepted")
        return handler(shape, value, path)

    def _type_error(self, value: Any, path: str, expected: str) -> SerializationException:
        kind = {dict: "object", list: "array", str: "string", bool: "boolean",
                type(None): "null"}.get(type(value), "number")
        return SerializationException(f"'{path}': expected {expected}, got {kind}")

    def _structure(self, shape: Shape, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self._type_error(value, path, "an object")
        result: dict[str, Any] = {}
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                result[name] = self.check(member, value[name], _join(path, name))
        for name in shape.required_members:
            if name not in result:
                self._fail(None, _join(path, name), "Member must not be null")
        return result

    def _list(self, shape: Shape, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self._type_error(value, path, "an array")
        self._length(shape, value, path, len(value))
        return [self.check(shape.member, item, f"{path}.{i + 1}") for i, item in enumerate(value)]

    def _map(self, shape: Shape, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self._type_error(value, path, "an object")
        self._length(shape, value, path, len(value))
        return {
            self.check(shape.key, key, f"{path}.key"): self.check(shape.value, item,
                                                                   f"{path}.{_shown(key)}")
            for key, item in value.items()
        }

    def _string(self, shape: Shape, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise self._type_error(value, path, "a string")
        self._length(shape, value, path, len(value))
        if shape.enum and value not in shape.enum:
            allowed = ", ".join(shape.enum)
            self._fail(value, path, f"Member must satisfy enum value set: [{allowed}]")
        pattern = shape.metadata.get("pattern")
        if pattern and shape.name in CHECKED_PATTERNS and not _regex(pattern).fullmatch(value):
            self._fail(value, path, f"Member must satisfy regular expression pattern: {pattern}")
        return value

    def _integer(self, shape: Shape, value: Any, path: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._type_error(value, path, "an integer")
        low, high = INT_RANGE[shape.type_name]
        if not low <= value <= high:
            raise SerializationException(f"'{path}': {_shown(value)} is out of range for "
                                         f"{shape.type_name}")
        self._range(shape, value, path)
        return value

    _long = _integer

    def _double(self, shape: Shape, value: Any, path: str) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self._type_error(value, path, "a number")
        try:
            number = float(value)
        except OverflowError:
            raise SerializationException(f"'{path}': {_shown(value)} is out of range") from None
        if not math.isfinite(number):
            raise SerializationException(f"'{path}': {_shown(value)} is out of range")
        self._range(shape, number, path)
        return number

    _float = _double

    def _boolean(self, shape: Shape, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self._type_error(value, path, "a boolean")
        return value

    def _timestamp(self, shape: Shape, value: Any, path: str) -> datetime:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self._type_error(value, path, "a timestamp in epoch seconds")
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise SerializationException(f"'{path}': {_shown(value)} is not a valid "
                                         "timestamp") from None

    def _length(self, shape: Shape, value: Any, path: str, length: int) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and length < low:
            self._fail(value, path, f"Member must have length greater than or equal to {low}")
        if high is not None and length > high:
            self._fail(value, path, f"Member must have length less than or equal to {high}")

    def _range(self, shape: Shape, value: float, path: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            self._fail(value, path, f"Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            self._fail(value, path, f"Member must have value less than or equal to {high}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def check_request(
    operation: OperationModel, body: Mapping[str, Any], *, constraints: bool = True
) -> dict[str, Any]:
    """The request's parameters as the operation's input shape allows them, timestamps as
    ``datetime``; a wrong type is a ``SerializationException``, broken constraints (unless
    ``constraints`` is off) one ``ValidationException`` listing them all."""
    if operation.input_shape is None:
        return {}
    checker = _Checker(constraints)
    params = checker.check(operation.input_shape, body, "")
    if checker.errors:
        count = len(checker.errors)
        raise ValidationException(
            f"{count} validation error{'s' if count > 1 else ''} detected: "
            + "; ".join(checker.errors)
        )
    return params


def to_wire(value: Any) -> Any:
    """A response document with ``datetime`` values as epoch seconds."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    return value


def encode(document: Mapping[str, Any]) -> bytes:
    return json.dumps(to_wire(document), ensure_ascii=False, separators=(",", ":")).encode()


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"__type": code, "message": message}, ensure_ascii=False).encode()
