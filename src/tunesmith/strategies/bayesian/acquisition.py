"""Expected improvement in log form, and its maximisation over a mixed search space.

``log EI`` stays finite and ordered far from the incumbent, where plain EI underflows to zero
and every candidate looks alike. The maximiser scores quasi-random candidates plus perturbations
of the best observations, then refines a few starts (the best candidate, others drawn in
proportion to their expected improvement, and the best observations themselves) by coordinate
ascent: L-BFGS-B with the analytic gradient over the continuous parameters, then each integer and
categorical parameter set to its best value with the others held, until nothing changes. Every
candidate is a trainable configuration when it is scored (integers snapped, categoricals one-hot).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize
from scipy.special import erfcx, log_ndtr

from tunesmith.strategies.bayesian.encoding import Encoding
from tunesmith.strategies.bayesian.gp import GaussianProcess

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_LOG_SQRT_PI_2 = 0.5 * math.log(math.pi / 2)
# Spread of the candidates drawn around the best observations (parameter coordinates), over the
# whole space and within a box.
_STEP = 0.1
_LOCAL_STEP = 0.03


def log_h(z: np.ndarray) -> np.ndarray:
    """``log(phi(z) + z * Phi(z))``, accurate for every ``z``."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    upper = z > -1.0
    zu = z[upper]
    out[upper] = np.log(np.exp(-0.5 * zu * zu - _LOG_SQRT_2PI) + zu * np.exp(log_ndtr(zu)))
    zl = z[~upper]
    # h(z) = phi(z) * (1 - |z| * sqrt(pi/2) * erfcx(|z| / sqrt 2)) for z < 0; the bracket is
    # computed as -expm1(log(...)), which keeps precision as it approaches zero.
    inner = np.log(-zl) + np.log(erfcx(-zl / math.sqrt(2.0))) + _LOG_SQRT_PI_2
    out[~upper] = -0.5 * zl * zl - _LOG_SQRT_2PI + np.log(-np.expm1(np.minimum(inner, -1e-300)))
    # Far in the tail the bracket is ~1/z^2 and its float evaluation cancels out.
    far = z < -1e4
    out[far] = -0.5 * z[far] ** 2 - _LOG_SQRT_2PI - 2.0 * np.log(-z[far])
    return out


def log_expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """log E[max(best - f, 0)] for f ~ N(mean, std^2) (minimisation)."""
    z = (best - mean) / std
    return log_h(z) + np.log(std)


class LogExpectedImprovement:
    """log EI of a Gaussian-process posterior below ``best`` (minimisation), with its gradient."""

    def __init__(self, gp: GaussianProcess, best: float) -> None:
        self.gp = gp
        self.best = best

    def __call__(self, features: np.ndarray) -> np.ndarray:
        mean, std = self.gp.predict(features)
        return log_expected_improvement(mean, std, self.best)

    def with_gradient(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values and their gradients with respect to the features (rows x features)."""
        mean, std, grad_mean, grad_std = self.gp.predict_with_gradient(features)
        z = (self.best - mean) / std
        value = log_h(z)
        # d log h / dz = Phi(z) / h(z), taken in log space so that it stays finite in the tail.
        slope = np.exp(log_ndtr(z) - value)[:, None]
        grad = (slope * (-grad_mean - z[:, None] * grad_std) + grad_std) / std[:, None]
        return value + np.log(std), grad


def maximize(
    acquisition: LogExpectedImprovement,
    encoding: Encoding,
    rng: np.random.Generator,
    *,
    anchors: np.ndarray,
    exclude: set[bytes],
    n_candidates: int = 1024,
    n_starts: int = 8,
    rounds: int = 4,
    box: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, float]:
    """The features of the best-scoring candidate found (and its score).

    ``anchors`` are parameter coordinates of the best observations, best first: part of the
    candidates are drawn around them and the first two start a local search of their own (what
    is left to gain is often right next to the best point). Candidates whose features are in
    ``exclude`` (already evaluated or pending) are never returned, unless nothing else is found.
    ``box`` (lower and upper parameter coordinates) confines the search to part of the space.
    """
    lower, upper = box if box is not None else (np.zeros(encoding.n_parameters),
                                                np.ones(encoding.n_parameters))
    coords = lower + encoding.sobol(n_candidates, int(rng.integers(2**31))) * (upper - lower)
    if len(anchors):
        picks = anchors[rng.integers(len(anchors), size=n_candidates // 4)]
        step = _STEP if box is None else _LOCAL_STEP
        coords = np.vstack([coords, np.clip(_perturb(picks, step, encoding, rng), lower, upper)])
    feats = encoding.features(coords)
    raw = acquisition(feats)
    values = _masked(raw, feats, exclude)
    starts = np.vstack([coords[_start_indices(values, n_starts - 2, rng)], anchors[:2]])
    starts = np.clip(starts, lower, upper)
    refined = _local_search(acquisition, encoding, starts, rounds, lower, upper)
    refined_feats = encoding.features(refined)
    refined_values = _masked(acquisition(refined_feats), refined_feats, exclude)
    pool_feats = np.vstack([feats, refined_feats])
    pool_values = np.concatenate([values, refined_values])
    i = int(np.argmax(pool_values))
    if not np.isfinite(pool_values[i]):
        # Every candidate was excluded: the space is (nearly) used up; return the best anyway.
        j = int(np.argmax(raw))
        return feats[j], float(raw[j])
    return pool_feats[i], float(pool_values[i])


def _start_indices(values: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """The best candidate, and up to ``count - 1`` others drawn with probability proportional
    to their expected improvement (spread over several promising regions, not the top few
    neighbours of one)."""
    best = int(np.argmax(values))
    if not np.isfinite(values[best]):
        return np.array([best])
    weights = np.exp(values - values[best])
    weights[best] = 0.0
    others = min(count - 1, int(np.count_nonzero(weights > 0)))
    if others <= 0:
        return np.array([best])
    drawn = rng.choice(len(values), size=others, replace=False, p=weights / weights.sum())
    return np.concatenate([[best], drawn])


def _local_search(
    acquisition: LogExpectedImprovement,
    encoding: Encoding,
    starts: np.ndarray,
    rounds: int,
    lower: np.ndarray,
    upper: np.ndarray,
) -> np.ndarray:
    """Coordinate ascent from each start (parameter coordinates in, improved ones out)."""
    x = np.array(starts, dtype=float)
    value = acquisition(encoding.features(x))
    discrete = np.flatnonzero(~encoding.continuous)
    for _ in range(rounds):
        if encoding.continuous.any():
            for s in range(len(x)):
                x[s], value[s] = _ascend(acquisition, encoding, x[s], value[s], lower, upper)
        changed = False
        for j in discrete:
            options = encoding.choices(int(j), x[:, j])
            trial = np.repeat(x, options.shape[1], axis=0)
            trial[:, j] = options.ravel()
            scores = acquisition(encoding.features(trial)).reshape(options.shape)
            outside = (options < lower[j] - 1e-9) | (options > upper[j] + 1e-9)
            scores = np.where(outside, -np.inf, scores)
            pick = np.argmax(scores, axis=1)
            top = scores[np.arange(len(x)), pick]
            better = top > value + 1e-12 * np.abs(value)
            x[better, j] = options[better, pick[better]]
            value[better] = top[better]
            changed = changed or bool(better.any())
        if not changed:
            break
    return x


def _ascend(
    acquisition: LogExpectedImprovement,
    encoding: Encoding,
    start: np.ndarray,
    value: float,
    lower: np.ndarray,
    upper: np.ndarray,
) -> tuple[np.ndarray, float]:
    """L-BFGS-B over the continuous coordinates of one point, the others held."""
    mask, columns = encoding.continuous, encoding.continuous_columns

    def negative(u: np.ndarray) -> tuple[float, np.ndarray]:
        point = start.copy()
        point[mask] = u
        v, grad = acquisition.with_gradient(encoding.features(point))
        return -float(v[0]), -grad[0, columns]

    result = optimize.minimize(
        negative,
        start[mask],
        jac=True,
        method="L-BFGS-B",
        bounds=list(zip(lower[mask], upper[mask], strict=True)),
        options={"maxiter": 200},
    )
    if not np.isfinite(result.fun) or -result.fun <= value:
        return start, value
    point = start.copy()
    point[mask] = np.clip(result.x, lower[mask], upper[mask])
    return point, float(-result.fun)


def _masked(values: np.ndarray, feats: np.ndarray, exclude: set[bytes]) -> np.ndarray:
    if not exclude:
        return values
    rows = _row_keys(feats)
    hit = np.isin(rows, np.array(list(exclude), dtype=rows.dtype))
    return np.where(hit, -np.inf, values)


def _row_keys(features: np.ndarray) -> np.ndarray:
    rounded = np.ascontiguousarray(np.round(np.atleast_2d(features), 9))
    return rounded.view(np.dtype((np.void, rounded.shape[1] * rounded.itemsize))).ravel()


def key(features: np.ndarray) -> bytes:
    """A hashable identity of snapped features (equal configurations, equal keys)."""
    return _row_keys(features)[0].tobytes()


def _perturb(
    coords: np.ndarray, step: float, encoding: Encoding, rng: np.random.Generator
) -> np.ndarray:
    # Integers move by at least about one cell, or a small step would never change them.
    scale = np.maximum(step, 0.75 * encoding.cell_width)
    out = coords + rng.normal(size=coords.shape) * scale
    out = np.where(out < 0, -out, out)
    out = np.where(out > 1, 2 - out, out)
    if encoding.categorical.any():
        swap = (rng.random(coords.shape) < min(0.5, 2 * step)) & encoding.categorical
        out = np.where(swap, rng.random(coords.shape), out)
        out = np.where(encoding.categorical & ~swap, coords, out)
    return np.clip(out, 0.0, 1.0)
