"""Streaming metric extraction: every ``MetricDefinitions`` regex applied to every output line.

As in SageMaker, a regex is applied with ``re.search`` semantics and its first capture group is
the value. A match whose text is no finite number is not a value; the first such text per metric
is kept so the user can be told why a metric stayed empty.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]

from tunesmith.model.errors import ValidationException
from tunesmith.runner.base import MetricDefinition, MetricValue

MAX_NOTE_TEXT = 80


def compile_metric_regex(definition: MetricDefinition) -> re.Pattern[str]:
    """The compiled regex of a metric definition; it must compile and have exactly one group."""
    try:
        pattern = re.compile(definition.regex)
    except re.error as error:
        raise ValidationException(
            f"MetricDefinitions: the Regex of metric {definition.name} is invalid: {error}"
        ) from None
    if pattern.groups != 1:
        raise ValidationException(
            f"MetricDefinitions: the Regex of metric {definition.name} must have exactly one "
            f"capture group, it has {pattern.groups}"
        )
    return pattern


@functools.lru_cache(maxsize=256)
def required_literal(pattern: re.Pattern[str]) -> str | None:
    """The longest run of plain characters every match must contain, or ``None`` (worked out
    once per pattern: every training job of a tuning job has the same metric definitions).

    Checking ``literal in text`` runs at C speed over a whole burst of lines, so most lines of a
    chatty script never reach the regex engine. Only top-level and group-level literal runs are
    considered; case-insensitive patterns have none.
    """
    if pattern.flags & re.IGNORECASE:
        return None
    try:
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    except Exception:  # the pattern compiled, so this only guards the private parser's shape
        return None
    best = ""
    for run in _literal_runs(list(parsed)):
        if len(run) > len(best):
            best = run
    return best or None


def _literal_runs(items: list[tuple[object, object]]) -> list[str]:
    runs: list[str] = []
    current: list[str] = []
    for op, argument in items:
        if op is sre_constants.LITERAL:
            current.append(chr(argument))  # type: ignore[arg-type]
            continue
        runs.append("".join(current))
        current = []
        if op is sre_constants.SUBPATTERN:
            _group, add_flags, _del_flags, body = argument  # type: ignore[misc]
            if not add_flags & re.IGNORECASE:
                runs.extend(_literal_runs(list(body)))
    runs.append("".join(current))
    return runs


@dataclass(frozen=True)
class _Compiled:
    name: str
    pattern: re.Pattern[str]
    literal: str | None


class MetricExtractor:
    """Applies every metric definition to each line fed to it."""

    def __init__(self, definitions: Sequence[MetricDefinition]) -> None:
        self._definitions = tuple(
            _Compiled(d.name, pattern, required_literal(pattern))
            for d in definitions
            for pattern in (compile_metric_regex(d),)
        )
        self.rejected: dict[str, str] = {}
        """Per metric, the first matched text that was no finite number."""

    def feed(self, line: str, timestamp: float) -> list[MetricValue]:
        """The metric values one line holds (at most one per metric)."""
        return self._apply(self._definitions, (line,), timestamp)

    def feed_lines(self, lines: Sequence[str], timestamp: float) -> list[MetricValue]:
        """The metric values of a burst of lines, in line order; same result as ``feed`` on
        each line, but definitions whose required text is absent from the burst are skipped."""
        if not self._definitions or not lines:
            return []
        text = "\n".join(lines) if len(lines) > 1 else lines[0]
        active = tuple(d for d in self._definitions if d.literal is None or d.literal in text)
        return self._apply(active, lines, timestamp) if active else []

    def notes(self) -> tuple[str, ...]:
        """One sentence per metric whose regex matched text that is no number."""
        return tuple(
            f"metric {name}: regex matched {text!r}, which is not a number"
            for name, text in self.rejected.items()
        )

    def _apply(
        self, definitions: Sequence[_Compiled], lines: Sequence[str], timestamp: float
    ) -> list[MetricValue]:
        values: list[MetricValue] = []
        for line in lines:
            for definition in definitions:
                match = definition.pattern.search(line)
                if match is None:
                    continue
                text = match.group(1)
                if text is None:  # an optional group that took no part in the match
                    continue
                value = _number(text)
                if value is None:
                    self.rejected.setdefault(definition.name, text[:MAX_NOTE_TEXT])
                else:
                    values.append(MetricValue(definition.name, value, timestamp))
        return values


def _number(text: str) -> float | None:
    """``text`` as a finite float; NaN and infinities are no usable objective values."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
