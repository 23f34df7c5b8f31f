"""Hyperparameter ranges, as the SageMaker Python SDK v2 spells them.

Each range turns into one entry of the tuning job's ``ParameterRanges``; bounds and values are
strings on the wire, as the API wants them.
"""

from __future__ import annotations

import json
from typing import Any

from tunesmith.model.validation import hyperparameter_value


def _wire(value: Any) -> str:
    return str(value)


class ParameterRange:
    """A numeric range ``[min_value, max_value]`` with a ``scaling_type`` (``Auto``,
    ``Linear``, ``Logarithmic``, ``ReverseLogarithmic``)."""

    __name__ = "Parameter"
    __all_types__ = ("Continuous", "Categorical", "Integer")

    def __init__(self, min_value: float, max_value: float, scaling_type: str = "Auto") -> None:
        self.min_value = min_value
        self.max_value = max_value
        self.scaling_type = scaling_type

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.min_value!r}, {self.max_value!r}, "
            f"scaling_type={self.scaling_type!r})"
        )

    def is_valid(self, value: float) -> bool:
        return self.min_value <= value <= self.max_value

    @classmethod
    def cast_to_type(cls, value: Any) -> Any:
        return float(value)

    def as_tuning_range(self, name: str) -> dict[str, str]:
        return {
            "Name": name,
            "MinValue": _wire(self.min_value),
            "MaxValue": _wire(self.max_value),
            "ScalingType": self.scaling_type,
        }


class ContinuousParameter(ParameterRange):
    """A range of real numbers."""

    __name__ = "Continuous"


class IntegerParameter(ParameterRange):
    """A range of integers."""

    __name__ = "Integer"

    @classmethod
    def cast_to_type(cls, value: Any) -> int:
        return int(value)


class CategoricalParameter(ParameterRange):
    """A choice among values (kept as strings)."""

    __name__ = "Categorical"

    def __init__(self, values: Any) -> None:
        values = values if isinstance(values, list | tuple) else [values]
        self.values = [_wire(v) for v in values]

    def __repr__(self) -> str:
        return f"CategoricalParameter({self.values!r})"

    def is_valid(self, value: Any) -> bool:
        return value in self.values

    @classmethod
    def cast_to_type(cls, value: Any) -> str:
        return str(value)

    def as_tuning_range(self, name: str) -> dict[str, Any]:
        return {"Name": name, "Values": list(self.values)}

    def as_json_range(self, name: str) -> dict[str, Any]:
        """The range with JSON-quoted values, as framework estimators send them (their
        containers JSON-decode every hyperparameter)."""
        return {"Name": name, "Values": [json.dumps(v) for v in self.values]}


def parameter_ranges(
    ranges: dict[str, ParameterRange], *, json_categoricals: bool
) -> dict[str, Any]:
    """The ``ParameterRanges`` document of a tuning job."""
    document: dict[str, list[dict[str, Any]]] = {
        f"{kind}ParameterRanges": [] for kind in ParameterRange.__all_types__
    }
    for name, parameter in ranges.items():
        if not isinstance(parameter, ParameterRange):
            raise ValueError(
                f"hyperparameter_ranges['{name}'] must be an IntegerParameter, "
                f"ContinuousParameter or CategoricalParameter, not {type(parameter).__name__}"
            )
        if isinstance(parameter, CategoricalParameter) and json_categoricals:
            entry = parameter.as_json_range(name)
        else:
            entry = parameter.as_tuning_range(name)
        document[f"{parameter.__name__}ParameterRanges"].append(entry)
    return document


def ranges_from_document(document: dict[str, Any]) -> dict[str, ParameterRange]:
    """Parameter range objects from a ``ParameterRanges`` document (for ``attach``)."""
    ranges: dict[str, ParameterRange] = {}
    for entry in document.get("CategoricalParameterRanges") or []:
        # Framework jobs hold JSON-quoted values; the range object holds them plain.
        ranges[entry["Name"]] = CategoricalParameter(
            [hyperparameter_value(v) for v in entry["Values"]]
        )
    for entry in document.get("ContinuousParameterRanges") or []:
        ranges[entry["Name"]] = ContinuousParameter(
            float(entry["MinValue"]), float(entry["MaxValue"]), entry.get("ScalingType", "Auto")
        )
    for entry in document.get("IntegerParameterRanges") or []:
        ranges[entry["Name"]] = IntegerParameter(
            int(entry["MinValue"]), int(entry["MaxValue"]), entry.get("ScalingType", "Auto")
        )
    return ranges
