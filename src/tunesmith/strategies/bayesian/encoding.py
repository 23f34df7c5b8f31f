"""How the Bayesian strategy sees a search space.

Two coordinate systems are used. *Parameter coordinates* give each parameter one number in
[0, 1] (a categorical parameter's number selects one of its values); candidates are generated and
perturbed there. *Features* are what the Gaussian process sees: the unit-cube encoding of
:class:`~tunesmith.space.SearchSpace`, one-hot for categoricals. Integers are snapped to the centre
of their cell in both, so the model never scores a fractional integer that cannot be trained, and
categorical values are one-hot, so the model never imposes an order on them.

``ScalingType: Auto`` becomes logarithmic for a positive range spanning at least two orders of
magnitude (learning rates, regularisation strengths, tree counts), linear otherwise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
from scipy.stats import qmc

from tunesmith.model.errors import ValidationException
from tunesmith.space import Config, Parameter, SearchSpace, Value

_AUTO_LOG_RATIO = 100.0
_MAX_CHOICES = 64


def _resolved(p: Parameter) -> Parameter:
    if p.kind == "Categorical" or p.scaling != "Auto":
        return p
    low = p.low - 0.5 if p.kind == "Integer" else p.low
    if low > 0 and p.high / p.low >= _AUTO_LOG_RATIO:
        return dataclasses.replace(p, scaling="Logarithmic")
    return dataclasses.replace(p, scaling="Linear")


def validate(space: SearchSpace) -> None:
    """Reject spaces the model cannot encode, naming the parameter and the rule."""
    if len(space) == 0:
        raise ValidationException(
            "ParameterRanges: the Bayesian strategy needs at least one tuned hyperparameter"
        )
    for p in space.parameters:
        if p.kind == "Categorical":
            if not p.values:
                raise ValidationException(f"Parameter '{p.name}': needs at least one value")
            continue
        if p.high < p.low or (p.kind == "Continuous" and p.high == p.low):
            rule = ">=" if p.kind == "Integer" else ">"
            raise ValidationException(f"Parameter '{p.name}': MaxValue must be {rule} MinValue")
        low = p.low - 0.5 if p.kind == "Integer" else p.low
        if p.scaling == "Logarithmic" and low <= 0:
            raise ValidationException(
                f"Parameter '{p.name}': ScalingType Logarithmic needs MinValue > 0"
                + (" (>= 1 for integers)" if p.kind == "Integer" else "")
            )
        if p.scaling == "ReverseLogarithmic" and not (0 <= p.low and p.high < 1):
            raise ValidationException(
                f"Parameter '{p.name}': ScalingType ReverseLogarithmic needs "
                "0 <= MinValue and MaxValue < 1"
            )


def _warp(kind: str, x: np.ndarray) -> np.ndarray:
    if kind == "Logarithmic":
        return np.log(x)
    if kind == "ReverseLogarithmic":
        return -np.log1p(-x)
    return x


def _unwarp(kind: str, w: np.ndarray) -> np.ndarray:
    if kind == "Logarithmic":
        return np.exp(w)
    if kind == "ReverseLogarithmic":
        return -np.expm1(-w)
    return w


class Encoding:
    """Maps between configurations, parameter coordinates and model features."""

    def __init__(self, space: SearchSpace) -> None:
        validate(space)
        self.space = SearchSpace(tuple(_resolved(p) for p in space.parameters))
        self.parameters = self.space.parameters
        self.n_parameters = len(self.parameters)
        self.dimension = self.space.dimension
        # Integer columns (parameter coordinates) and the width of one cell, which sets the
        # smallest perturbation that moves an integer at all.
        self.cell_width = np.array(
            [1.0 / (p.high - p.low + 1) if p.kind == "Integer" else 0.0 for p in self.parameters]
        )
        self.categorical = np.array([p.kind == "Categorical" for p in self.parameters])
        self.continuous = np.array([p.kind == "Continuous" for p in self.parameters])
        # The feature column of each continuous parameter (its coordinate is its feature).
        starts = np.cumsum([0] + [p.width for p in self.parameters])[:-1]
        self.continuous_columns = starts[self.continuous]

    def choices(self, j: int, current: np.ndarray) -> np.ndarray:
        """Coordinates to try for the discrete parameter ``j`` from each coordinate in
        ``current``: one row per entry. Every value when there are at most ``_MAX_CHOICES``;
        for a wider integer range an even spread plus the values 1, 2, 4, ... steps away."""
        p = self.parameters[j]
        if p.kind == "Categorical":
            row = (np.arange(len(p.values)) + 0.5) / len(p.values)
            return np.tile(row, (len(current), 1))
        lo, hi = p.low - 0.5, p.high + 0.5
        wlo, whi = _warp(p.warping, np.array(lo)), _warp(p.warping, np.array(hi))
        count = int(p.high - p.low) + 1
        spread = np.round(np.linspace(p.low, p.high, min(count, _MAX_CHOICES)))
        values = np.tile(spread, (len(current), 1))
        if count > _MAX_CHOICES:
            now = np.round(_unwarp(p.warping, wlo + np.clip(current, 0, 1) * (whi - wlo)))
            steps = 2.0 ** np.arange(int(np.log2(count)) + 1)
            near = now[:, None] + np.concatenate([-steps, steps])[None, :]
            values = np.hstack([values, np.clip(near, p.low, p.high)])
        return (_warp(p.warping, values) - wlo) / (whi - wlo)

    def features(self, coords: np.ndarray) -> np.ndarray:
        """Features of parameter coordinates (rows), with integers snapped to their cell."""
        coords = np.clip(np.atleast_2d(coords), 0.0, 1.0)
        out = np.zeros((len(coords), self.dimension))
        col = 0
        for j, p in enumerate(self.parameters):
            u = coords[:, j]
            if p.kind == "Categorical":
                index = np.minimum((u * len(p.values)).astype(int), len(p.values) - 1)
                out[np.arange(len(u)), col + index] = 1.0
            elif p.kind == "Integer":
                out[:, col] = self._snap_integer(p, u)
            else:
                out[:, col] = u
            col += p.width
        return out

    def _snap_integer(self, p: Parameter, u: np.ndarray) -> np.ndarray:
        lo, hi = p.low - 0.5, p.high + 0.5
        wlo, whi = _warp(p.warping, np.array(lo)), _warp(p.warping, np.array(hi))
        value = np.clip(np.round(_unwarp(p.warping, wlo + u * (whi - wlo))), p.low, p.high)
        return np.clip((_warp(p.warping, value) - wlo) / (whi - wlo), 0.0, 1.0)

    def coordinates(self, features: np.ndarray) -> np.ndarray:
        """Parameter coordinates of features (categoricals at the middle of their share)."""
        features = np.atleast_2d(features)
        out = np.zeros((len(features), self.n_parameters))
        col = 0
        for j, p in enumerate(self.parameters):
            if p.kind == "Categorical":
                index = np.argmax(features[:, col : col + p.width], axis=1)
                out[:, j] = (index + 0.5) / len(p.values)
            else:
                out[:, j] = features[:, col]
            col += p.width
        return out

    def encode(self, config: Mapping[str, Value]) -> np.ndarray:
        return self.space.encode(config)

    def decode(self, features: np.ndarray) -> Config:
        return self.space.decode(features)

    def sobol(self, count: int, seed: int) -> np.ndarray:
        """``count`` scrambled Sobol points in parameter coordinates."""
        sampler = qmc.Sobol(self.n_parameters, scramble=True, seed=seed)
        power = max(1, int(np.ceil(np.log2(max(count, 2)))))
        return sampler.random_base2(power)[:count]
