"""The ask/tell interface every strategy implements.

A strategy proposes configurations (:meth:`Strategy.ask`) and learns from finished training
jobs (:meth:`Strategy.tell`). It always *minimises* a loss: the engine negates the objective of
a ``Maximize`` tuning job before telling it. The engine owns all state that must survive a
restart; a strategy is rebuilt from the store by creating it again with the same seed, telling it
every finished trial and setting :attr:`Strategy.n_asked` to the number of configurations it had
proposed, so a strategy must derive its randomness from ``(seed, n_asked)``, not from a stream
whose position would be lost.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from tunesmith.space import Config, SearchSpace


@dataclass(frozen=True)
class Trial:
    """A finished training job as a strategy sees it.

    ``loss`` is the final objective as a minimisation (``None`` when the job produced no
    objective: failed, or stopped before printing it). ``source`` names the tuning job the
    trial belongs to (a warm-start parent's trials carry the parent's name).
    """

    trial_id: str
    config: Config
    loss: float | None
    source: str = ""


class Strategy(ABC):
    """Base class of Grid, Random, Bayesian and Hyperband."""

    name: ClassVar[str]

    def __init__(self, space: SearchSpace, *, seed: int | None = None) -> None:
        self.space = space
        self.seed = seed if seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        self.n_asked = 0
        self.trials: list[Trial] = []
        self.prior_sources: frozenset[str] = frozenset()
        # How a loss reads in a stop reason: the engine names the objective and its sign
        # (a Maximize objective is a negated loss).
        self.objective_name = "loss"
        self.objective_sign = 1.0
        """Sources of trials to treat as a prior that the job's own results may override
        (TransferLearning warm start); model-based strategies use it."""

    def rng(self, *key: int) -> np.random.Generator:
        """A generator determined by the seed, the number of proposals so far and ``key``."""
        return np.random.default_rng([self.seed, self.n_asked, *key])

    @abstractmethod
    def _propose(self, n: int, pending: Sequence[Config]) -> list[Config]:
        """Up to ``n`` new configurations, aware of the ``pending`` ones still running."""

    def ask(self, n: int, pending: Sequence[Config] = ()) -> list[Config]:
        """Up to ``n`` configurations to train next; fewer, or none, once the space is used up."""
        if n <= 0:
            return []
        configs = self._propose(n, pending)
        self.n_asked += len(configs)
        return configs

    def report(self, trial_id: str, step: int, loss: float) -> str | None:
        """An intermediate objective value of a running trial, as a loss. ``step`` counts the
        values the script printed (1 for the first): one resource step each. Returns a reason to
        stop the trial now, or ``None`` to let it run. Multi-fidelity strategies override this."""
        return None

    def tell(self, trials: Sequence[Trial]) -> None:
        """Record finished trials (the engine tells each trial exactly once)."""
        self.trials.extend(trials)

    @property
    def capacity(self) -> int | None:
        """How many configurations this strategy can propose in all (``None``: unbounded)."""
        return None
