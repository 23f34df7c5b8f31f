"""Hyperparameter importance by functional ANOVA over a small forest fitted with numpy.

fANOVA writes the objective as a sum of effects of single hyperparameters, of pairs, and so on,
and calls the share of variance each term carries its importance. The terms are computed on a
surrogate, not on the trials directly: a model-based strategy samples the good region densely,
so hyperparameters it moved together would all look important if the trials were binned. The
surrogate is an extremely randomised regression forest (numpy only, no scikit-learn); the
effects are its marginal predictions with every other hyperparameter drawn uniformly from its
range on its own scale, the distribution random search samples from.

The objective is replaced by its ranks first, so a few diverging trials do not carry most of the
variance. Shares are of the variance of those ranks: what the forest cannot fit (noise) counts
against every term, so a hyperparameter that does not matter scores about zero.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from tunesmith.space import Parameter, SearchSpace

MIN_TRIALS = 10
_TREES = 16
_MIN_LEAF = 4
_MAX_DEPTH = 12
_MAX_ROWS = 500
_GRID = 16
_PAIR_GRID = 6
_BACKGROUND = 128
_PAIR_BACKGROUND = 48
_PAIRS_FROM = 4
_SEED = 20240607


def unit_positions(param: Parameter, values: pd.Series) -> np.ndarray:
    """Where each value sits in [0, 1] on the parameter's scale; categoricals by value order.

    The vectorised form of :meth:`Parameter.to_unit` (integer ranges widened by half a step).
    """
    if param.kind == "Categorical":
        index = {v: i for i, v in enumerate(param.values)}
        positions = values.astype(str).map(index).to_numpy(dtype=float)
        return positions / max(1, len(param.values) - 1)
    margin = 0.5 if param.kind == "Integer" else 0.0
    bounds = np.array([param.low - margin, param.high + margin])
    x = values.to_numpy(dtype=float)
    match param.warping:
        case "Logarithmic":
            warp = np.log
        case "ReverseLogarithmic":
            warp = lambda v: -np.log1p(-v)  # noqa: E731
        case _:
            warp = lambda v: v  # noqa: E731
    low, high = warp(bounds)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.clip((warp(x) - low) / (high - low), 0.0, 1.0)


@dataclass(frozen=True)
class _Tree:
    """A regression tree as flat arrays; ``feature < 0`` marks a leaf."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        node = np.zeros(len(x), dtype=int)
        rows = np.arange(len(x))
        for _ in range(_MAX_DEPTH + 1):
            feature = self.feature[node]
            inner = feature >= 0
            if not inner.any():
                break
            go_left = x[rows, np.maximum(feature, 0)] <= self.threshold[node]
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        return self.value[node]


def _grow(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> _Tree:
    """One extremely randomised tree: per node, the best of one random cut per feature."""
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    value: list[float] = []

    def split(rows: np.ndarray) -> tuple[int, float, np.ndarray] | None:
        # One random cut per feature, all features at once; keep the best variance reduction.
        block, target = x[rows], y[rows]
        low, high = block.min(axis=0), block.max(axis=0)
        cuts = rng.uniform(low, high)
        left_side = block <= cuts
        n_left = left_side.sum(axis=0)
        n_right = len(rows) - n_left
        usable = (high > low) & (n_left >= _MIN_LEAF) & (n_right >= _MIN_LEAF)
        if not usable.any():
            return None
        sums = target @ left_side
        squares = (target**2) @ left_side
        total, total_squares = target.sum(), float(target @ target)
        with np.errstate(divide="ignore", invalid="ignore"):
            error = (squares - sums**2 / n_left) + (
                (total_squares - squares) - (total - sums) ** 2 / n_right
            )
        f = int(np.argmin(np.where(usable, error, np.inf)))
        return f, float(cuts[f]), left_side[:, f]

    def grow(rows: np.ndarray, depth: int) -> int:
        node = len(value)
        feature.append(-1)
        threshold.append(0.0)
        left.append(-1)
        right.append(-1)
        value.append(float(y[rows].mean()))
        if depth >= _MAX_DEPTH or len(rows) < 2 * _MIN_LEAF:
            return node
        found = split(rows)
        if found is None:
            return node
        f, cut, mask = found
        feature[node], threshold[node] = f, cut
        left[node] = grow(rows[mask], depth + 1)
        right[node] = grow(rows[~mask], depth + 1)
        return node

    grow(np.arange(len(y)), 0)
    return _Tree(
        np.array(feature), np.array(threshold), np.array(left), np.array(right), np.array(value)
    )


class _Forest:
    def __init__(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> None:
        self.trees = [_grow(x, y, rng) for _ in range(_TREES)]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.mean([tree.predict(x) for tree in self.trees], axis=0)


def _levels(param: Parameter, size: int) -> np.ndarray:
    """Grid positions of a parameter: its categories, or the midpoints of equal cells."""
    if param.kind == "Categorical":
        return np.arange(len(param.values)) / max(1, len(param.values) - 1)
    return (np.arange(size) + 0.5) / size


def _uniform(space: SearchSpace, n: int, rng: np.random.Generator) -> np.ndarray:
    """Configurations drawn as random search would draw them, in unit positions."""
    columns = [
        rng.integers(len(p.values), size=n) / max(1, len(p.values) - 1)
        if p.kind == "Categorical"
        else rng.random(n)
        for p in space.parameters
    ]
    return np.column_stack(columns)


def _marginal(
    forest: _Forest, background: np.ndarray, columns: tuple[int, ...], grid: list[tuple[float, ...]]
) -> np.ndarray:
    """Mean prediction at each grid point of ``columns``, the others taken from ``background``."""
    points = np.repeat(background[None, :, :], len(grid), axis=0)
    for i, column in enumerate(columns):
        points[:, :, column] = np.array([g[i] for g in grid])[:, None]
    predictions = forest.predict(points.reshape(-1, background.shape[1]))
    return predictions.reshape(len(grid), len(background)).mean(axis=1)


def importance(space: SearchSpace, trials: pd.DataFrame, objective: str) -> pd.DataFrame:
    """Main effects of every tuned hyperparameter and the interactions of the strongest pairs.

    Returns columns ``parameter`` (a name, or ``"a × b"``), ``term`` (``main`` or
    ``interaction``) and ``share``; empty when fewer than :data:`MIN_TRIALS` trials are scored.
    """
    scored = trials[trials[objective].notna()]
    if len(scored) < MIN_TRIALS or len(space) == 0:
        return pd.DataFrame(columns=["parameter", "term", "share"])
    rng = np.random.default_rng(_SEED)
    if len(scored) > _MAX_ROWS:
        scored = scored.iloc[np.sort(rng.choice(len(scored), _MAX_ROWS, replace=False))]
    x = np.column_stack([unit_positions(p, scored[p.name]) for p in space.parameters])
    y = rankdata(scored[objective].to_numpy(dtype=float)) / len(scored)
    total = float(y.var())
    if total == 0.0:
        return pd.DataFrame(columns=["parameter", "term", "share"])
    forest = _Forest(x, y, rng)

    background = _uniform(space, _BACKGROUND, rng)
    main: dict[str, float] = {}
    for i, p in enumerate(space.parameters):
        curve = _marginal(forest, background, (i,), [(g,) for g in _levels(p, _GRID)])
        main[p.name] = min(1.0, float(curve.var()) / total)
    rows = [(name, "main", share) for name, share in main.items()]

    strongest = sorted(range(len(space)), key=lambda i: -main[space.parameters[i].name])
    pairs = []
    small = _uniform(space, _PAIR_BACKGROUND, rng)
    for a, b in itertools.combinations(sorted(strongest[:_PAIRS_FROM]), 2):
        pa, pb = space.parameters[a], space.parameters[b]
        grid = list(itertools.product(_levels(pa, _PAIR_GRID), _levels(pb, _PAIR_GRID)))
        surface = _marginal(forest, small, (a, b), grid).reshape(len(_levels(pa, _PAIR_GRID)), -1)
        # The pair's own variance minus what each of its two axes explains alone.
        joint = surface.var() - surface.mean(axis=1).var() - surface.mean(axis=0).var()
        if joint / total > 0.01:
            pairs.append((f"{pa.name} × {pb.name}", "interaction", min(1.0, float(joint) / total)))
    rows.extend(sorted(pairs, key=lambda row: -row[2])[:3])
    return pd.DataFrame(rows, columns=["parameter", "term", "share"])
