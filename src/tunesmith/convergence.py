"""Convergence detection for ``CompleteOnConvergence``: stop when more improvement is unlikely.

After each finished trial a Gaussian process is fitted to the results (whichever strategy
proposed them: it judges, it does not propose) and the largest expected improvement over the
search space is found, in the objective's own units. When it stays below 1% of the best
objective's magnitude for ``CONSECUTIVE`` checks in a row, the tuning job has converged.

Numbers and why:

- ``MIN_TRIALS`` = max(10, 2 x parameters + 2) finished trials with an objective before any
  verdict: with fewer the model's confidence comes from its prior, not from the data.
- ``CONSECUTIVE`` = 5 checks: one small value can be luck of the acquisition search or of a
  model fit; five in a row across fresh results is a stable judgement.
- The incumbent is the lowest *predicted* loss at an observed point, not the lowest observed one,
  so that one lucky draw of a noisy objective does not make every other point look hopeless.
- When the best objective is 0, 1% of the spread of observed objectives stands in for 1% of the
  best's magnitude.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunesmith.space import SearchSpace
from tunesmith.strategies.base import Trial
from tunesmith.strategies.bayesian import acquisition, surrogate
from tunesmith.strategies.bayesian.encoding import Encoding

THRESHOLD = 0.01
CONSECUTIVE = 5


class ConvergenceDetector:
    """Judges, trial after trial, whether the tuning job has converged."""

    def __init__(self, space: SearchSpace, *, seed: int | None = None) -> None:
        self.encoding = Encoding(space)
        self.seed = 0 if seed is None else seed
        self.min_trials = max(10, 2 * len(space) + 2)
        self.streak = 0
        self._cache = surrogate.HyperparameterCache()
        self._checked = 0

    def check(self, trials: Sequence[Trial]) -> str | None:
        """A one-line reason when converged, else ``None``."""
        observations = surrogate.Observations.from_trials(self.encoding, trials)
        if observations.n_succeeded < self.min_trials:
            return None
        self._checked += 1
        with surrogate.single_threaded_blas():
            ratio = self.improvement_ratio(observations)
        self.streak = self.streak + 1 if ratio < THRESHOLD else 0
        if self.streak >= CONSECUTIVE:
            return (
                f"largest expected improvement {100 * ratio:.2g}% of best "
                f"(< {100 * THRESHOLD:g}%) for {self.streak} consecutive checks"
            )
        return None

    def improvement_ratio(self, observations: surrogate.Observations) -> float:
        """The largest expected improvement over the space, relative to the best's size."""
        losses = observations.losses
        rng = np.random.default_rng([self.seed, self._checked])
        spread = float(losses.std())
        if spread <= 1e-12 * max(1.0, float(np.abs(losses).max())):
            return 0.0
        gp = surrogate.fit(self.encoding, observations, self._cache, rng)
        best = float(np.min(gp.mean(gp.x)))

        top = np.argsort(gp.y)[:5]
        _, log_ei = acquisition.maximize(
            acquisition.LogExpectedImprovement(gp, best),
            self.encoding,
            rng,
            anchors=self.encoding.coordinates(gp.x[top]),
            exclude=set(),
            n_candidates=512,
        )
        # Back to the objective's units: the model saw (loss - mean) / spread.
        improvement = float(np.exp(log_ei)) * spread
        best_loss = float(losses[: observations.n_succeeded].min())
        scale = abs(best_loss) if best_loss != 0 else spread
        return improvement / scale
