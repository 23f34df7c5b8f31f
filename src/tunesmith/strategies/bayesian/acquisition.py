"""Expected improvement in log form, and its maximisation over a mixed search space.

``log EI`` stays finite and ordered far from the incumbent, where plain EI underflows to zero
and every candidate looks alike. The maximiser scores quasi-random candidates plus
perturbations of the best observations, then refines the most promising ones by a batched local
search that perturbs continuous and integer coordinates with a shrinking step and swaps
categorical values; every candidate is snapped to a trainable configuration before it is scored.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import erfcx, log_ndtr

from tunesmith.strategies.bayesian.encoding import Encoding

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_LOG_SQRT_PI_2 = 0.5 * math.log(math.pi / 2)


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


def maximize(
    score: Callable[[np.ndarray], np.ndarray],
    encoding: Encoding,
    rng: np.random.Generator,
    *,
    anchors: np.ndarray,
    exclude: set[bytes],
    n_candidates: int = 1024,
    n_starts: int = 4,
    n_steps: int = 12,
    n_children: int = 32,
) -> tuple[np.ndarray, float]:
    """The features of the best-scoring candidate found (and its score).

    ``score`` maps feature rows to values to maximise. ``anchors`` are parameter coordinates
    of good observations, around which part of the candidates are drawn. Candidates whose
    features are in ``exclude`` (already evaluated or pending) are never returned, unless nothing
    else can be found.
    """
    coords = encoding.sobol(n_candidates, int(rng.integers(2**31)))
    if len(anchors):
        picks = anchors[rng.integers(len(anchors), size=n_candidates // 4)]
        coords = np.vstack([coords, _perturb(picks, 0.1, encoding, rng)])
    feats = encoding.features(coords)
    values = _masked(score(feats), feats, exclude)
    order = np.argsort(-values)[:n_starts]
    starts, best_values = coords[order], values[order]
    step = 0.15
    for _ in range(n_steps):
        children = _perturb(np.repeat(starts, n_children, axis=0), step, encoding, rng)
        child_feats = encoding.features(children)
        child_values = _masked(score(child_feats), child_feats, exclude)
        child_values = child_values.reshape(len(starts), n_children)
        winner = np.argmax(child_values, axis=1)
        improved = child_values[np.arange(len(starts)), winner] > best_values
        rows = np.arange(len(starts))[improved] * n_children + winner[improved]
        starts[improved] = children[rows]
        best_values[improved] = child_values[improved, winner[improved]]
        step = max(step * 0.7, 1e-3)
    i = int(np.argmax(best_values))
    if not np.isfinite(best_values[i]):
        # Every candidate was excluded: the space is (nearly) used up; return the best anyway.
        raw = score(feats)
        j = int(np.argmax(raw))
        return feats[j], float(raw[j])
    return encoding.features(starts[i : i + 1])[0], float(best_values[i])


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
