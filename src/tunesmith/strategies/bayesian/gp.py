"""Gaussian-process regression with a Matérn-5/2 ARD kernel, fitted by maximum a posteriori.

Inputs live in the unit cube; outputs are standardised by the caller. The hyperparameters are
one length scale per input coordinate, a signal variance and a noise variance, all optimised on a
log scale. Priors keep the fit sensible with few observations.

Length scales: a prior proportional to ``exp(-c (l^2 + 1/l^2))``, with its mode at the whole range
(one unit of the cube) and both tails falling fast. The long tail matters most: once the search
has pinned a parameter to one face of the box, every observation agrees on it, and a model free to
give that parameter a length scale of several ranges declares it irrelevant and never moves it
again (seen on Hartmann-6, which then ended its 50 trials far from any of its minima). The earlier
log-normal prior with a median of one range cost little for a length scale of 5 or 10 ranges.

Noise: the noise variance follows a gamma prior (shape 1.1, rate 30), nearly flat on a log scale
below 1% of the output variance and falling off steeply above a few percent: interpolating a
deterministic objective closely costs little, and calling a rough objective noisy takes evidence,
while a noisy objective can still show its noise.

Mean: a constant, estimated by generalised least squares under the kernel (ordinary kriging) and
profiled out of the likelihood. A search concentrates its observations near the best ones, and
their plain average is what standardisation makes zero: the model's mean then sits below the
level of the untried regions, and every far corner of the box looks promising. The generalised
least squares estimate weighs a cluster of correlated observations about as one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize

_SQRT5 = math.sqrt(5.0)
# Bounds of the log hyperparameters: length scales, signal variance, noise variance.
_LOG_LENGTH_BOUNDS = (math.log(5e-3), math.log(1e3))
_LOG_SIGNAL_BOUNDS = (math.log(5e-2), math.log(20.0))
_LOG_NOISE_BOUNDS = (math.log(1e-6), math.log(2.0))
# Gamma prior of the noise variance: shape, rate.
_NOISE_PRIOR = (1.1, 30.0)
# Where the fit starts looking for the log noise variance: the mode and spread of its restarts.
_NOISE_START = (math.log(1e-3), 2.0)
_SIGNAL_PRIOR = (0.0, 1.0)
# Strength c of the length scales' prior; restarts draw log length scales from N(0, 1) (about
# the prior's spread).
_LENGTH_PRIOR = 0.2
_LENGTH_START = (0.0, 1.0)
_JITTER = 1e-8


@dataclass(frozen=True)
class Hyperparameters:
    """Log length scales (one per input), log signal variance, log noise variance."""

    log_lengths: np.ndarray
    log_signal: float
    log_noise: float

    def vector(self) -> np.ndarray:
        return np.concatenate([self.log_lengths, [self.log_signal, self.log_noise]])

    @classmethod
    def from_vector(cls, theta: np.ndarray) -> Hyperparameters:
        return cls(np.array(theta[:-2]), float(theta[-2]), float(theta[-1]))

    @classmethod
    def prior_mode(cls, dimension: int) -> Hyperparameters:
        return cls(np.zeros(dimension), _SIGNAL_PRIOR[0], _NOISE_START[0])


def matern52(a: np.ndarray, b: np.ndarray, lengths: np.ndarray, signal: float) -> np.ndarray:
    """The kernel matrix between the rows of ``a`` and ``b``."""
    r = _scaled_distance(a / lengths, b / lengths)
    return signal * (1.0 + _SQRT5 * r + (5.0 / 3.0) * r * r) * np.exp(-_SQRT5 * r)


def _scaled_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.maximum(sq, 0.0))


def _neg_log_posterior(theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Negative log marginal likelihood plus negative log prior, and its gradient."""
    n, d = x.shape
    lengths = np.exp(theta[:d])
    signal, noise = math.exp(theta[d]), math.exp(theta[d + 1])
    scaled = x / lengths
    r = _scaled_distance(scaled, scaled)
    e = np.exp(-_SQRT5 * r)
    k = signal * (1.0 + _SQRT5 * r + (5.0 / 3.0) * r * r) * e
    k[np.diag_indices(n)] += noise + _JITTER
    try:
        chol = linalg.cholesky(k, lower=True, check_finite=False)
    except linalg.LinAlgError:
        return 1e25, np.zeros_like(theta)
    # The constant mean's estimate is optimal for these hyperparameters, so the gradient below
    # (taken with the mean held) is the profiled likelihood's gradient as well.
    y = y - constant_mean(linalg.cho_solve((chol, True), np.ones(n), check_finite=False), y)
    alpha = linalg.cho_solve((chol, True), y, check_finite=False)
    nll = 0.5 * y @ alpha + np.log(np.diag(chol)).sum() + 0.5 * n * math.log(2 * math.pi)
    inv = linalg.cho_solve((chol, True), np.eye(n), check_finite=False)
    w = np.outer(alpha, alpha) - inv  # d(log p)/dK = w / 2
    grad = np.empty_like(theta)
    # dK/dlog(l_j) = signal * 5/3 * (1 + sqrt5 r) exp(-sqrt5 r) * (dx_j / l_j)^2
    common = w * (signal * (5.0 / 3.0) * (1.0 + _SQRT5 * r) * e)
    for j in range(d):
        diff = scaled[:, j][:, None] - scaled[:, j][None, :]
        grad[j] = -0.5 * (common * diff * diff).sum()
    grad[d] = -0.5 * (w * (k - np.diag(np.full(n, noise + _JITTER)))).sum()
    grad[d + 1] = -0.5 * noise * np.trace(w)
    prior_value, prior_grad = _neg_log_prior(theta, d)
    return nll + prior_value, grad + prior_grad


def _neg_log_prior(theta: np.ndarray, d: int) -> tuple[float, np.ndarray]:
    """The priors of the length scales, the signal variance (log-normal) and the noise variance
    (gamma), as a function of the log hyperparameters the fit moves."""
    log_lengths = theta[:d]
    longer, shorter = np.exp(2.0 * log_lengths), np.exp(-2.0 * log_lengths)
    signal_mean, signal_sd = _SIGNAL_PRIOR
    z = (float(theta[d]) - signal_mean) / signal_sd
    shape, rate = _NOISE_PRIOR
    log_noise = float(theta[-1])
    noise = math.exp(log_noise)
    value = (
        _LENGTH_PRIOR * float((longer + shorter).sum())
        + 0.5 * z * z
        - (shape - 1.0) * log_noise
        + rate * noise
    )
    grad = np.concatenate(
        [2.0 * _LENGTH_PRIOR * (longer - shorter), [z / signal_sd, rate * noise - (shape - 1.0)]]
    )
    return value, grad


def constant_mean(inverse_ones: np.ndarray, y: np.ndarray) -> float:
    """The generalised least squares estimate of a constant mean, given ``K^-1 1``."""
    return float(inverse_ones @ y) / float(inverse_ones.sum())


def fit_hyperparameters(
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    *,
    starts: list[Hyperparameters] | None = None,
    restarts: int = 4,
    optimised: int = 2,
) -> Hyperparameters:
    """Maximum a posteriori hyperparameters.

    Candidate starting points are the prior mode, ``starts`` (e.g. the previous optimum) and
    ``restarts`` draws from the prior; the ``optimised`` most probable of them are refined by
    L-BFGS-B and the best optimum wins. Screening the starts first buys the protection of
    restarts against poor local optima for the price of a few likelihood evaluations.
    """
    d = x.shape[1]
    bounds = [_LOG_LENGTH_BOUNDS] * d + [_LOG_SIGNAL_BOUNDS, _LOG_NOISE_BOUNDS]
    lower, upper = np.array(bounds).T
    initial = [Hyperparameters.prior_mode(d).vector()] + [s.vector() for s in starts or []]
    for _ in range(restarts):
        initial.append(
            np.concatenate(
                [
                    rng.normal(*_LENGTH_START, d),
                    [rng.normal(*_SIGNAL_PRIOR), rng.normal(*_NOISE_START)],
                ]
            )
        )
    initial = [np.clip(theta, lower, upper) for theta in initial]
    screened = sorted(initial, key=lambda theta: _neg_log_posterior(theta, x, y)[0])
    best_theta, best_value = screened[0], math.inf
    for theta0 in screened[:optimised]:
        result = optimize.minimize(
            _neg_log_posterior,
            theta0,
            args=(x, y),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 100},
        )
        if np.isfinite(result.fun) and result.fun < best_value:
            best_theta, best_value = result.x, float(result.fun)
    return Hyperparameters.from_vector(best_theta)


class GaussianProcess:
    """A posterior conditioned on ``(x, y)`` with fixed hyperparameters."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        hyper: Hyperparameters,
        noise: np.ndarray | None = None,
        *,
        inverse: np.ndarray | None = None,
    ) -> None:
        """``noise`` overrides the fitted noise variance per observation (fantasies are exact);
        ``inverse`` is the inverse kernel matrix when the caller already has it."""
        self.x = np.asarray(x, dtype=float)
        self.y = np.asarray(y, dtype=float)
        self.hyper = hyper
        self._lengths = np.exp(hyper.log_lengths)
        self._signal = math.exp(hyper.log_signal)
        self.noise = np.full(len(self.x), math.exp(hyper.log_noise)) if noise is None else noise
        if inverse is None:
            k = matern52(self.x, self.x, self._lengths, self._signal)
            k[np.diag_indices_from(k)] += self.noise + _JITTER
            chol = _robust_cholesky(k)
            # An explicit inverse turns each prediction into matrix products, which is what
            # makes scoring thousands of candidates cheap once the (n x n) factorisation is paid.
            inverse = linalg.cho_solve((chol, True), np.eye(len(self.x)), check_finite=False)
        self._inverse = inverse
        # The estimate is plugged in as if known: its own uncertainty is not added to the variance.
        self._offset = constant_mean(inverse.sum(axis=1), self.y)
        self._alpha = inverse @ (self.y - self._offset)

    @property
    def lengths(self) -> np.ndarray:
        return self._lengths

    def mean(self, points: np.ndarray) -> np.ndarray:
        """Posterior mean only: a fraction of the cost of :meth:`predict` with many observations."""
        ks = matern52(np.atleast_2d(points), self.x, self._lengths, self._signal)
        return ks @ self._alpha + self._offset

    def predict(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the latent function at ``points``."""
        ks = matern52(np.atleast_2d(points), self.x, self._lengths, self._signal)
        mean = ks @ self._alpha + self._offset
        var = self._signal - np.einsum("ij,ij->i", ks @ self._inverse, ks)
        return mean, np.sqrt(np.maximum(var, 1e-12 * self._signal))

    def predict_with_gradient(
        self, points: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mean, standard deviation and their gradients (rows of ``points`` x inputs)."""
        points = np.atleast_2d(points)
        r = _scaled_distance(points / self._lengths, self.x / self._lengths)
        e = np.exp(-_SQRT5 * r)
        ks = self._signal * (1.0 + _SQRT5 * r + (5.0 / 3.0) * r * r) * e
        # dk/dp = -slope * (p - x) / l^2 for the Matern-5/2 kernel.
        slope = self._signal * (5.0 / 3.0) * (1.0 + _SQRT5 * r) * e
        weighted = ks @ self._inverse
        mean = ks @ self._alpha + self._offset
        floor = 1e-12 * self._signal
        var = self._signal - np.einsum("ij,ij->i", weighted, ks)
        std = np.sqrt(np.maximum(var, floor))
        scale = self._lengths**2

        def along(w: np.ndarray) -> np.ndarray:
            return (w.sum(1)[:, None] * points - w @ self.x) / scale

        grad_mean = -along(slope * self._alpha)
        grad_var = 2.0 * along(slope * weighted)
        grad_std = np.where((var > floor)[:, None], grad_var / (2.0 * std[:, None]), 0.0)
        return mean, std, grad_mean, grad_std

    def with_fantasies(self, points: np.ndarray, values: np.ndarray) -> GaussianProcess:
        """The same model conditioned on extra noise-free observations (the believed outcomes
        of pending trials): the uncertainty at those points collapses, so a batch spreads out.

        The inverse kernel matrix is extended blockwise (through the Schur complement of the
        new points), at O(n^2) per fantasy instead of a new O(n^3) factorisation."""
        points = np.atleast_2d(points)
        noise = np.full(len(points), 1e-6 * self._signal)
        cross = matern52(self.x, points, self._lengths, self._signal)
        own = matern52(points, points, self._lengths, self._signal)
        own[np.diag_indices_from(own)] += noise + _JITTER
        projected = self._inverse @ cross
        schur = own - cross.T @ projected
        schur_inverse = linalg.cho_solve(
            (_robust_cholesky(schur), True), np.eye(len(points)), check_finite=False
        )
        top_right = -projected @ schur_inverse
        inverse = np.block(
            [[self._inverse - top_right @ projected.T, top_right], [top_right.T, schur_inverse]]
        )
        return GaussianProcess(
            np.vstack([self.x, points]),
            np.concatenate([self.y, values]),
            self.hyper,
            np.concatenate([self.noise, noise]),
            inverse=inverse,
        )


def _robust_cholesky(k: np.ndarray) -> np.ndarray:
    jitter = 0.0
    scale = float(np.mean(np.diag(k)))
    for _ in range(6):
        try:
            return linalg.cholesky(k + jitter * np.eye(len(k)), lower=True, check_finite=False)
        except linalg.LinAlgError:
            jitter = scale * 1e-8 if jitter == 0.0 else jitter * 10.0
    raise linalg.LinAlgError("kernel matrix is not positive definite")
