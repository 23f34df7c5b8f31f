"""A Gaussian-process model of the loss, fitted to a tuning job's finished trials.

Shared by the Bayesian strategy (to propose) and the convergence detector (to judge whether more
improvement is likely). Which trials count: those inside the current ranges with a loss; trials
outside the ranges (a warm-start parent with other ranges) are skipped. Failed trials (no loss)
are given the worst loss seen, so the model steers away from where training fails instead of
proposing the same configuration again.

Cost with many observations: hyperparameters are fitted on at most ``FIT_CAP`` observations (a
seeded random subset), and with more than ``FIT_CAP`` observations they are refitted, warm-started
from the previous optimum without restarts, only when the number of observations has grown by
10% since the last fit. The posterior conditions on every observation up to ``ACTIVE_CAP`` and on
a subset of that size beyond (see :func:`active_set`), which bounds the cost of a proposal. (So a
strategy rebuilt after a restart proposes exactly what the original would have up to
``FIT_CAP`` observations, and nearly the same beyond.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
from threadpoolctl import ThreadpoolController

from tunesmith.strategies.base import Trial
from tunesmith.strategies.bayesian.encoding import Encoding
from tunesmith.strategies.bayesian.gp import GaussianProcess, Hyperparameters, fit_hyperparameters

FIT_CAP = 200
ACTIVE_CAP = 600
_RESTARTS = 4
_REFIT_GROWTH = 1.1


MIN_OWN_FOR_OFFSET = 3


def shift_prior(
    encoding: Encoding, trials: Sequence[Trial], prior_sources: frozenset[str]
) -> list[Trial]:
    """Trials with the losses of a TransferLearning prior (``prior_sources``' trials) moved by
    one output offset learnt from the job's own results: the median, over the own trials, of
    own loss minus the loss of the nearest prior trial. The own results thereby override the
    prior's level wherever the data or the algorithm changed it; before 3 own results the
    prior is taken as it is."""
    prior = [t for t in trials if t.source in prior_sources and t.loss is not None]
    own = [
        t
        for t in trials
        if t.source not in prior_sources
        and t.loss is not None
        and encoding.space.contains(t.config)
    ]
    prior_inside = [t for t in prior if encoding.space.contains(t.config)]
    if len(own) < MIN_OWN_FOR_OFFSET or not prior_inside:
        return list(trials)
    prior_x = np.array([encoding.encode(t.config) for t in prior_inside])
    prior_y = np.array([float(t.loss) for t in prior_inside])  # type: ignore[arg-type]
    gaps = []
    for trial in own:
        nearest = np.argmin(((prior_x - encoding.encode(trial.config)) ** 2).sum(axis=1))
        gaps.append(float(trial.loss) - prior_y[nearest])  # type: ignore[arg-type]
    offset = float(np.median(gaps))
    shifted = {id(t) for t in prior}
    return [
        replace(t, loss=t.loss + offset) if id(t) in shifted else t  # type: ignore[operator]
        for t in trials
    ]


@dataclass(frozen=True)
class Observations:
    """Features and losses of the trials the model learns from (failed ones imputed)."""

    features: np.ndarray
    losses: np.ndarray
    n_succeeded: int

    @classmethod
    def from_trials(cls, encoding: Encoding, trials: Sequence[Trial]) -> Observations:
        usable = [t for t in trials if encoding.space.contains(t.config)]
        ok = [t for t in usable if t.loss is not None and np.isfinite(t.loss)]
        failed = [t for t in usable if t.loss is None or not np.isfinite(t.loss)]
        if not ok:
            return cls(np.zeros((0, encoding.dimension)), np.zeros(0), 0)
        losses = [float(t.loss) for t in ok] + [max(float(t.loss) for t in ok)] * len(failed)
        features = np.array([encoding.encode(t.config) for t in ok + failed])
        return cls(features, np.array(losses), len(ok))


def standardise(losses: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance (all zeros when every loss is the same)."""
    spread = losses.std()
    if len(losses) < 2 or spread <= 1e-12 * max(1.0, abs(losses.mean())):
        return np.zeros_like(losses)
    return (losses - losses.mean()) / spread


class HyperparameterCache:
    """Remembers the last fitted hyperparameters so that large histories refit rarely."""

    def __init__(self) -> None:
        self.hyper: Hyperparameters | None = None
        self.fitted_on = 0

    def get(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Hyperparameters:
        n = len(x)
        if self.hyper is not None and n > FIT_CAP and n < self.fitted_on * _REFIT_GROWTH:
            return self.hyper
        if n > FIT_CAP:
            subset = rng.choice(n, FIT_CAP, replace=False)
            x, y = x[subset], y[subset]
        if n <= FIT_CAP:
            # A fit from the data and the seeded generator alone: a strategy rebuilt after a
            # restart proposes exactly what the original would have.
            self.hyper = fit_hyperparameters(x, y, rng, restarts=_RESTARTS)
        else:
            starts = [self.hyper] if self.hyper is not None else []
            self.hyper = fit_hyperparameters(x, y, rng, starts=starts, restarts=0, optimised=1)
        self.fitted_on = n
        return self.hyper


def fit(
    encoding: Encoding,
    observations: Observations,
    cache: HyperparameterCache,
    rng: np.random.Generator,
) -> GaussianProcess:
    """The posterior of the standardised loss given the observations."""
    y = standardise(observations.losses)
    hyper = cache.get(observations.features, y, rng)
    active = active_set(y)
    return GaussianProcess(observations.features[active], y[active], hyper)


def active_set(y: np.ndarray) -> np.ndarray:
    """Indices of the observations the posterior conditions on: all of them up to
    ``ACTIVE_CAP``; beyond, the best half of the cap (where the next improvement will be
    found) and an even spread of the others in the order they were observed (enough to keep
    the model from believing that explored regions are unknown)."""
    if len(y) <= ACTIVE_CAP:
        return np.arange(len(y))
    order = np.argsort(y, kind="stable")
    best, rest = order[: ACTIVE_CAP // 2], np.sort(order[ACTIVE_CAP // 2 :])
    spread = rest[np.linspace(0, len(rest) - 1, ACTIVE_CAP - len(best)).astype(int)]
    return np.sort(np.concatenate([best, spread]))


_controller = None


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Linear algebra on one thread for the duration.

    The model's matrices are small (at most ``ACTIVE_CAP`` rows): several BLAS threads gain
    nothing on them, and on a busy machine their busy-waiting multiplies the CPU time of a
    proposal several times over, taken from the training jobs running beside it."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    with _controller.limit(limits=1, user_api="blas"):
        yield
