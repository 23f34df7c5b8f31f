"""The search space: parameter ranges and their encoding in the unit cube.

A *configuration* maps each tuned hyperparameter to a Python value (``int`` for integer ranges,
``float`` for continuous ones, ``str`` for categorical ones). On the wire, and in the training
contract, every value is a string; :meth:`SearchSpace.to_hyperparameters` and
:meth:`SearchSpace.from_hyperparameters` convert between the two.

Numeric parameters map to one coordinate in [0, 1] through their scaling type; an integer range
[lo, hi] is relaxed to [lo - 0.5, hi + 0.5] so that each integer owns an equal share of the unit
interval. A categorical parameter with k values maps to k one-hot coordinates.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

ParameterKind = Literal["Integer", "Continuous", "Categorical"]
ScalingType = Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"]
Value = int | float | str
Config = dict[str, Value]


@dataclass(frozen=True)
class Parameter:
    """One tuned hyperparameter with its range."""

    name: str
    kind: ParameterKind
    low: float = 0.0
    high: float = 0.0
    values: tuple[str, ...] = ()
    scaling: ScalingType = "Auto"

    @property
    def is_numeric(self) -> bool:
        return self.kind != "Categorical"

    @property
    def warping(self) -> Literal["Linear", "Logarithmic", "ReverseLogarithmic"]:
        """The scaling actually applied; ``Auto`` is linear here, strategies may choose more."""
        return "Linear" if self.scaling == "Auto" else self.scaling

    @property
    def width(self) -> int:
        """Number of unit-cube coordinates this parameter uses."""
        return len(self.values) if self.kind == "Categorical" else 1

    def _bounds(self) -> tuple[float, float]:
        if self.kind == "Integer":
            return self.low - 0.5, self.high + 0.5
        return self.low, self.high

    def _warp(self, x: float) -> float:
        match self.warping:
            case "Logarithmic":
                return math.log(x)
            case "ReverseLogarithmic":
                return -math.log1p(-x)
            case _:
                return x

    def _unwarp(self, w: float) -> float:
        match self.warping:
            case "Logarithmic":
                return math.exp(w)
            case "ReverseLogarithmic":
                return -math.expm1(-w)
            case _:
                return w

    def to_unit(self, value: Value) -> float:
        """Position of a numeric value in [0, 1]."""
        lo, hi = self._bounds()
        wlo, whi = self._warp(lo), self._warp(hi)
        return min(1.0, max(0.0, (self._warp(float(value)) - wlo) / (whi - wlo)))

    def from_unit(self, u: float) -> Value:
        """The numeric value at position ``u`` of [0, 1], rounded and clipped for integers."""
        lo, hi = self._bounds()
        wlo, whi = self._warp(lo), self._warp(hi)
        x = self._unwarp(wlo + min(1.0, max(0.0, float(u))) * (whi - wlo))
        if self.kind == "Integer":
            return int(min(self.high, max(self.low, round(x))))
        return float(min(self.high, max(self.low, x)))

    def format(self, value: Value) -> str:
        """The wire form of a value (every hyperparameter is a string)."""
        if self.kind == "Integer":
            return str(int(value))
        if self.kind == "Continuous":
            return repr(float(value))
        return str(value)

    def parse(self, text: str) -> Value:
        """Inverse of :meth:`format`; raises ``ValueError`` for text outside this parameter."""
        if self.kind == "Categorical":
            if text not in self.values:
                raise ValueError(f"{text!r} is not one of {list(self.values)}")
            return text
        number = float(text)
        if self.kind == "Integer":
            if not number.is_integer():
                raise ValueError(f"{text!r} is not an integer")
            return int(number)
        return number

    def contains(self, value: Value) -> bool:
        if self.kind == "Categorical":
            return value in self.values
        try:
            number = float(value)
        except (TypeError, ValueError):
            return False
        if self.kind == "Integer" and not number.is_integer():
            return False
        return self.low <= number <= self.high


@dataclass(frozen=True)
class SearchSpace:
    """The tuned hyperparameters of a tuning job, in the order they were declared."""

    parameters: tuple[Parameter, ...]
    _index: dict[str, Parameter] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {p.name: p for p in self.parameters})

    @classmethod
    def from_parameter_ranges(cls, ranges: Mapping[str, Any] | Any) -> SearchSpace:
        """Build from a ``ParameterRanges`` document (a mapping, or a pydantic model of one).

        The document is assumed valid (the model layer checks ranges); wire strings are parsed.
        """
        if not isinstance(ranges, Mapping):
            ranges = ranges.model_dump(exclude_none=True)
        params: list[Parameter] = []
        for r in ranges.get("IntegerParameterRanges") or []:
            params.append(
                Parameter(
                    name=r["Name"],
                    kind="Integer",
                    low=float(int(float(r["MinValue"]))),
                    high=float(int(float(r["MaxValue"]))),
                    scaling=r.get("ScalingType") or "Auto",
                )
            )
        for r in ranges.get("ContinuousParameterRanges") or []:
            params.append(
                Parameter(
                    name=r["Name"],
                    kind="Continuous",
                    low=float(r["MinValue"]),
                    high=float(r["MaxValue"]),
                    scaling=r.get("ScalingType") or "Auto",
                )
            )
        for r in ranges.get("CategoricalParameterRanges") or []:
            params.append(Parameter(name=r["Name"], kind="Categorical", values=tuple(r["Values"])))
        return cls(tuple(params))

    def __len__(self) -> int:
        return len(self.parameters)

    def __getitem__(self, name: str) -> Parameter:
        return self._index[name]

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def dimension(self) -> int:
        """Length of the unit-cube encoding."""
        return sum(p.width for p in self.parameters)

    def sample(self, rng: np.random.Generator) -> Config:
        """One configuration drawn uniformly in the (warped) unit cube."""
        config: Config = {}
        for p in self.parameters:
            if p.kind == "Categorical":
                config[p.name] = p.values[int(rng.integers(len(p.values)))]
            else:
                config[p.name] = p.from_unit(float(rng.random()))
        return config

    def encode(self, config: Mapping[str, Value]) -> np.ndarray:
        """The unit-cube vector of a configuration (one-hot for categoricals)."""
        out = np.zeros(self.dimension)
        i = 0
        for p in self.parameters:
            if p.kind == "Categorical":
                out[i + p.values.index(str(config[p.name]))] = 1.0
            else:
                out[i] = p.to_unit(config[p.name])
            i += p.width
        return out

    def decode(self, vector: Sequence[float] | np.ndarray) -> Config:
        """The configuration nearest to a unit-cube vector (argmax for one-hot blocks)."""
        config: Config = {}
        i = 0
        for p in self.parameters:
            if p.kind == "Categorical":
                block = np.asarray(vector[i : i + p.width], dtype=float)
                config[p.name] = p.values[int(np.argmax(block))]
            else:
                config[p.name] = p.from_unit(float(vector[i]))
            i += p.width
        return config

    def contains(self, config: Mapping[str, Value]) -> bool:
        """Whether a configuration has exactly these parameters, each inside its range."""
        return set(config) == set(self._index) and all(
            p.contains(config[p.name]) for p in self.parameters
        )

    def to_hyperparameters(self, config: Mapping[str, Value]) -> dict[str, str]:
        return {p.name: p.format(config[p.name]) for p in self.parameters}

    def from_hyperparameters(self, hyperparameters: Mapping[str, str]) -> Config:
        """The tuned values among a training job's hyperparameters (static ones are ignored)."""
        return {p.name: p.parse(str(hyperparameters[p.name])) for p in self.parameters}

    def grid(self) -> Iterator[Config]:
        """Every combination of categorical values, in declaration order."""
        names = [p.name for p in self.parameters]
        for combo in itertools.product(*(p.values for p in self.parameters)):
            yield dict(zip(names, combo, strict=True))

    def grid_size(self) -> int:
        return math.prod(len(p.values) for p in self.parameters)
