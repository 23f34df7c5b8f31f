"""Early stopping ``Auto``: the median stopping rule.

A running training job is stopped at step ``t`` when the best loss it has reached so far is
worse than the median, over the training jobs already finished, of their *running averages* up
to step ``t`` (the mean of their values at steps ``1..t``; a job that ended before ``t`` counts
with the average of all its values). Averages rather than single values make the yardstick
robust to noisy curves; comparing a job's *best* value against them makes the rule slow to stop
a job that is still improving.

The engine calls :meth:`MedianStoppingRule.report` with every objective value a running job
prints and :meth:`MedianStoppingRule.tell` when jobs finish; a rebuilt engine replays the stored
curves the same way, and the rule's state does not depend on the order they come back in.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from tunesmith.strategies.base import Trial


class MedianStoppingRule:
    """Stops training jobs whose curves fall behind the median of the finished ones.

    ``min_steps``: no job is judged before it has printed this many values. The default, 1,
    judges from the first value on: the finished jobs' running averages lag behind their curves,
    so the rule is lenient from the start, and a job whose first value is already worse than
    most finished jobs' first values seldom ends among the best (on the benchmark's tasks a
    grace period of 2 steps gave up a third of the savings and no final quality).
    ``min_finished``: no job is judged until this many jobs have finished with a curve, so that
    the median is not one lucky or unlucky job; five keeps the first comparisons meaningful
    while leaving most of a typical tuning job's budget to be saved.
    """

    def __init__(self, *, min_steps: int = 1, min_finished: int = 5) -> None:
        if min_steps < 1 or min_finished < 1:
            raise ValueError("min_steps and min_finished must be at least 1")
        self.min_steps = min_steps
        self.min_finished = min_finished
        # How a loss reads in a stop reason: the engine names the objective and its sign
        # (a Maximize objective is a negated loss).
        self.objective_name = "loss"
        self.objective_sign = 1.0
        self._curves: dict[str, dict[int, float]] = {}
        # Running averages of finished jobs: finished[j][t - 1] is the mean of steps 1..t.
        self._finished: dict[str, list[float]] = {}

    def report(self, trial_id: str, step: int, loss: float) -> str | None:
        """Record a value; a reason to stop the job now, or ``None``."""
        if trial_id in self._finished:
            return None
        self._curves.setdefault(trial_id, {})[step] = loss
        if step < self.min_steps or len(self._finished) < self.min_finished:
            return None
        averages = [a[min(step, len(a)) - 1] for a in self._finished.values()]
        median = statistics.median(averages)
        best = min(v for s, v in self._curves[trial_id].items() if s <= step)
        if best <= median:
            return None
        sign = self.objective_sign
        return (
            f"Median stopping rule: best {self.objective_name} {sign * best:.6g} by step {step} "
            f"is worse than the median {sign * median:.6g} of the running averages of "
            f"{len(averages)} finished training jobs"
        )

    def tell(self, trials: Sequence[Trial]) -> None:
        """Finished jobs join the median; failed jobs and jobs without a curve do not."""
        for trial in trials:
            curve = self._curves.pop(trial.trial_id, None)
            if trial.loss is None or not curve:
                continue
            values = [curve[s] for s in sorted(curve)]
            total = 0.0
            averages = []
            for t, value in enumerate(values, start=1):
                total += value
                averages.append(total / t)
            self._finished[trial.trial_id] = averages
