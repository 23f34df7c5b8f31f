"""Small synthetic tuning jobs and helpers to look inside Vega-Lite specs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd

from tunesmith.space import Parameter, SearchSpace
from tunesmith.viz.data import METRIC_COLUMNS, TRIAL_COLUMNS, TuningJobData


def units(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every single-mark view of a (possibly nested) spec."""
    stack: list[Any] = [spec]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        if "mark" in node:
            yield node
        for key in ("vconcat", "hconcat", "concat", "layer"):
            stack.extend(node.get(key, []))


def mark_type(unit: dict[str, Any]) -> str:
    mark = unit["mark"]
    return mark if isinstance(mark, str) else mark["type"]


def data_name(unit: dict[str, Any]) -> str | None:
    return unit.get("data", {}).get("name")


def has_transform(unit: dict[str, Any], kind: str) -> bool:
    return any(kind in t for t in unit.get("transform", []))


def follows_brush(unit: dict[str, Any]) -> bool:
    return any(t.get("filter") == {"param": "brush"} for t in unit.get("transform", []))


def titles(spec: Any) -> list[str]:
    """Every title text and subtitle line in a spec, flattened."""
    found: list[str] = []
    if isinstance(spec, dict):
        title = spec.get("title")
        if isinstance(title, str):
            found.append(title)
        elif isinstance(title, dict):
            for key in ("text", "subtitle"):
                value = title.get(key)
                found.extend([value] if isinstance(value, str) else value or [])
        for value in spec.values():
            found.extend(titles(value))
    elif isinstance(spec, list):
        for value in spec:
            found.extend(titles(value))
    return found


def tiny_job(name: str, statuses: list[str], objectives: list[float]) -> TuningJobData:
    """A hand-written job with one parameter, for edge cases."""
    space = SearchSpace((Parameter("lr", "Continuous", 1e-4, 1e-1, scaling="Logarithmic"),))
    start = pd.Timestamp("2026-01-01 10:00", tz="UTC")
    rows = [
        {
            "lr": 10.0 ** -(1 + i % 3),
            "TrainingJobName": f"{name}-{i + 1:03d}-0000000{i}",
            "TrainingJobStatus": status,
            "FinalObjectiveValue": objective,
            "TrainingStartTime": start + pd.Timedelta(minutes=i),
            "TrainingEndTime": start + pd.Timedelta(minutes=i + 2),
            "TrainingElapsedTimeSeconds": 120.0,
            "TuningJobName": name,
        }
        for i, (status, objective) in enumerate(zip(statuses, objectives, strict=True))
    ]
    trials = pd.DataFrame(rows, columns=["lr", *TRIAL_COLUMNS])
    metrics = pd.DataFrame(columns=list(METRIC_COLUMNS))
    return TuningJobData(name, "Random", "loss", "Minimize", space, trials, metrics)
