"""Hyperband: random configurations, cut short by asynchronous successive halving.

Resources are the objective values a training job prints (one per epoch, say): a job at step
``r`` has used ``r`` units. Each training job joins one *bracket*. Bracket ``b`` has *rungs* at
``min_resource * eta**k`` for ``k >= b`` below ``max_resource``: bracket 0 judges jobs early and
often, the last bracket lets every job run to ``max_resource``, so a problem whose early values
mislead still gets some jobs trained fully. When a job reaches a rung, its loss there is compared
with the losses of every job of its bracket that reached the same rung, itself included: of ``n``
such jobs the best ``floor(n / eta)`` go on, as in ASHA's promotion rule, and while ``n < eta``
only a job better than all before it. Nothing waits for a rung to fill (the rule is the
asynchronous one of ASHA): a slot freed by a stop is filled at once with a new configuration, and
the first jobs at a rung pass it more easily, the later ones against more competition. Rounding
the kept share down rather than up (which would pass two jobs in four or five) spends less
compute on configurations that go on to lose. A job that prints more than ``max_resource``
values is stopped.

Brackets are assigned in proportion to how many configurations each one starts in synchronous
Hyperband, along a low-discrepancy sequence over the training job's sequence number, so the
proportions hold even for a few jobs, and a strategy rebuilt from the store (which replays every
stored learning curve through :meth:`HyperbandStrategy.report`) assigns the same brackets and
records the same rung values, whatever order the curves come back in.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from tunesmith.space import SearchSpace
from tunesmith.strategies.random import RandomStrategy

_GOLDEN = (math.sqrt(5) - 1) / 2
# Training jobs are named <tuning-job>-<NNN>-<suffix>; NNN counts from 001.
_SEQUENCE = re.compile(r"-(\d+)-[^-]*$")


@dataclass(frozen=True)
class Bracket:
    """The rungs (resources at which jobs are judged) of one bracket, and its share of jobs."""

    index: int
    rungs: tuple[int, ...]
    weight: float


def brackets(min_resource: int, max_resource: int, eta: int) -> tuple[Bracket, ...]:
    """Hyperband's brackets from ``min_resource`` to ``max_resource``.

    The rungs are ``min_resource * eta**k`` below ``max_resource``; with ``s_max`` of them there
    are ``s_max + 1`` brackets, the last one without rungs. Bracket ``b``
    starts ``ceil((s_max + 1) / (s_max - b + 1) * eta**(s_max - b))`` configurations in
    synchronous Hyperband, which is its weight here.
    """
    levels = []
    resource = min_resource
    while resource < max_resource:
        levels.append(resource)
        resource *= eta
    s_max = len(levels)
    out = []
    for b in range(s_max + 1):
        s = s_max - b
        weight = math.ceil((s_max + 1) / (s + 1) * eta**s)
        out.append(Bracket(index=b, rungs=tuple(levels[b:]), weight=float(weight)))
    return tuple(out)


class HyperbandStrategy(RandomStrategy):
    """Random search whose training jobs are stopped at rungs by successive halving.

    ``min_resource`` and ``max_resource`` are the ``HyperbandStrategyConfig`` values (the model
    layer validates them and infers ``max_resource`` from the ``epochs`` hyperparameter); ``eta``
    is the reduction factor: one job in ``eta`` goes on at each rung.
    """

    name = "Hyperband"

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int | None = None,
        min_resource: int,
        max_resource: int,
        eta: int = 3,
    ) -> None:
        if not 1 <= min_resource < max_resource:
            raise ValueError(
                f"Hyperband needs 1 <= min_resource < max_resource, got {min_resource} and "
                f"{max_resource}"
            )
        if eta < 2:
            raise ValueError(f"Hyperband needs eta >= 2, got {eta}")
        super().__init__(space, seed=seed)
        self.min_resource = min_resource
        self.max_resource = max_resource
        self.eta = eta
        self.brackets = brackets(min_resource, max_resource, eta)
        total = sum(b.weight for b in self.brackets)
        self._cumulative = [
            sum(b.weight for b in self.brackets[: i + 1]) / total for i in range(len(self.brackets))
        ]
        # bracket -> rung resource -> training job -> loss at that rung
        self._records: dict[int, dict[int, dict[str, float]]] = {
            b.index: {r: {} for r in b.rungs} for b in self.brackets
        }

    def bracket_of(self, trial_id: str) -> Bracket:
        """The bracket of a training job, from the sequence number in its name."""
        match = _SEQUENCE.search(trial_id)
        if match is None:
            raise ValueError(
                f"training job name {trial_id!r} does not end with -<sequence number>-<suffix>"
            )
        position = (int(match.group(1)) * _GOLDEN) % 1.0
        for bracket, edge in zip(self.brackets, self._cumulative, strict=True):
            if position < edge:
                return bracket
        return self.brackets[-1]

    def report(self, trial_id: str, step: int, loss: float) -> str | None:
        bracket = self.bracket_of(trial_id)
        if step in self._records[bracket.index]:
            reason = self._judge(bracket, step, trial_id, loss)
            if reason is not None:
                return reason
        if step > self.max_resource:
            # Only a script that keeps going is stopped: one that ends at MaxResource by itself
            # completes, and saves its model, rather than being killed at its last value.
            return f"Hyperband: went past MaxResource {self.max_resource}"
        return None

    def _judge(self, bracket: Bracket, resource: int, trial_id: str, loss: float) -> str | None:
        """Record the loss at a rung; a reason to stop unless it is in the top 1/eta there."""
        rung = self._records[bracket.index][resource]
        rung[trial_id] = loss
        losses = sorted(rung.values())
        kept = max(1, len(losses) // self.eta)
        cutoff = losses[kept - 1]
        if loss <= cutoff:
            return None
        return (
            f"Hyperband: rung {bracket.rungs.index(resource) + 1} (resource {resource}) of "
            f"bracket {bracket.index + 1}: {self.objective_name} "
            f"{self.objective_sign * loss:.6g} not in the top 1/{self.eta} of {len(losses)} "
            f"training jobs (cut-off {self.objective_sign * cutoff:.6g})"
        )
