"""Validation messages in the AWS style, and the translation of pydantic errors into them.

AWS reports every broken constraint of a request at once, as one line:
``2 validation errors detected: Value 'x' at 'A.B' failed to satisfy constraint: ...; Value ...``.
"""

from __future__ import annotations

import json
import math
import re
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from tunesmith.model.errors import ValidationException

MAX_QUOTED = 100
NULL = object()
"""The value of a member that is absent (quoted as ``null``, as AWS does)."""


@dataclass(frozen=True)
class Violation:
    """One broken rule: where, the offending value, and the rule in words."""

    path: str
    value: Any
    rule: str

    def message(self) -> str:
        return (
            f"Value {quote(self.value)} at '{self.path}' failed to satisfy constraint: {self.rule}"
        )


def quote(value: Any) -> str:
    """The value as AWS quotes it, on one line and at most ``MAX_QUOTED`` characters."""
    if value is NULL or value is None:
        return "null"
    if isinstance(value, str):
        text = value
    elif isinstance(value, float) and not math.isfinite(value):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, default=str, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError):
            text = repr(value)
    text = " ".join(text.split())
    if len(text) > MAX_QUOTED:
        text = text[: MAX_QUOTED - 3] + "..."
    return f"'{text}'"


def join_path(parts: Iterable[str | int]) -> str:
    """``('A', 'B', 0, 'C')`` -> ``'A.B[0].C'``."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            name = _member_name(str(part))
            path = f"{path}.{name}" if path else name
    return path


def _member_name(name: str) -> str:
    """A member name as it appears in a path: user-made keys (maps, unknown members) may hold
    anything, so odd ones are JSON-quoted and long ones shortened."""
    if not _PLAIN_NAME.fullmatch(name):
        name = json.dumps(name)
    return name if len(name) <= MAX_QUOTED else name[: MAX_QUOTED - 3] + "..."


_PLAIN_NAME = re.compile(r"[\w.:@+=/-]*", re.ASCII)


def validation_exception(violations: Sequence[Violation]) -> ValidationException:
    count = len(violations)
    noun = "error" if count == 1 else "errors"
    details = "; ".join(v.message() for v in violations)
    return ValidationException(f"{count} validation {noun} detected: {details}")


def raise_if_any(violations: Sequence[Violation]) -> None:
    if violations:
        raise validation_exception(violations)


def violations_from_pydantic(error: ValidationError, root: type[BaseModel]) -> list[Violation]:
    """Each pydantic error as an AWS constraint violation, the path in AWS member names."""
    return [_violation(detail, root) for detail in error.errors(include_url=False)]


def _violation(detail: Any, root: type[BaseModel]) -> Violation:
    loc = tuple(detail["loc"])
    kind = detail["type"]
    ctx = detail.get("ctx") or {}
    path = join_path(loc) or root.__name__
    value = detail.get("input")
    if kind == "missing":
        return Violation(path, NULL, "Member must not be null")
    if kind == "extra_forbidden":
        allowed = _members_at(root, loc[:-1])
        rule = "Unknown parameter"
        if allowed:
            rule += f", must be one of: {', '.join(allowed)}"
        return Violation(path, value, rule)
    if kind == "string_pattern_mismatch":
        ctx = {"pattern": _shown_pattern(ctx["pattern"])}
    rule = _RULES.get(kind)
    if rule is not None:
        return Violation(path, value, rule.format(**ctx))
    message = " ".join(str(detail["msg"]).split())
    return Violation(path, value, message.replace("Input should be", "Member must be"))


_RULES = {
    "string_too_short": "Member must have length greater than or equal to {min_length}",
    "too_short": "Member must have length greater than or equal to {min_length}",
    "string_too_long": "Member must have length less than or equal to {max_length}",
    "too_long": "Member must have length less than or equal to {max_length}",
    "string_pattern_mismatch": "Member must satisfy regular expression pattern: {pattern}",
    "greater_than_equal": "Member must have value greater than or equal to {ge}",
    "less_than_equal": "Member must have value less than or equal to {le}",
    "literal_error": "Member must satisfy enum value set: [{expected}]",
    "finite_number": "Member must be a finite number",
}


def _shown_pattern(pattern: str) -> str:
    """The generated ``^(?:p)$`` shown as AWS shows it, ``^p$``."""
    if pattern.startswith("^(?:") and pattern.endswith(")$"):
        return f"^{pattern[4:-2]}$"
    return pattern


def _members_at(root: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """Member names of the model found by following ``loc`` from ``root`` (empty if none)."""
    annotation: Any = root
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return []
            annotation = field.annotation
        else:
            # Inside a list or map: step to the element type.
            args = typing.get_args(annotation)
            if not args:
                return []
            annotation = args[-1]
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``| None`` from an annotation."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation
