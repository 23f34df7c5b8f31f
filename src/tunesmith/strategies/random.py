"""Random search: every configuration drawn independently and uniformly in the warped cube."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunesmith.space import Config
from tunesmith.strategies.base import Strategy


class RandomStrategy(Strategy):
    """Draws each configuration from its own generator keyed by ``(seed, proposal index)``, so the
    same seed gives the same sequence, and a restarted job continues it.

    Configurations already evaluated (by this job or a warm-start parent) are skipped while a
    fresh one can be found: random search on a small categorical space would otherwise repeat
    itself.
    """

    name = "Random"
    _redraws = 32

    def _propose(self, n: int, pending: Sequence[Config]) -> list[Config]:
        evaluated = self._evaluated()
        seen = {self._key(c) for c in pending}
        out: list[Config] = []
        for i in range(n):
            config = self._draw(i, evaluated, seen)
            seen.add(self._key(config))
            out.append(config)
        return out

    def _evaluated(self) -> set[tuple]:
        """Keys of the trials told so far, extended by the new ones only: asking must not cost
        more as the job grows."""
        keys: set[tuple] = self.__dict__.setdefault("_evaluated_keys", set())
        told = self.__dict__.get("_evaluated_count", 0)
        keys.update(self._key(t.config) for t in self.trials[told:])
        self.__dict__["_evaluated_count"] = len(self.trials)
        return keys

    def _draw(self, i: int, evaluated: set[tuple], seen: set[tuple]) -> Config:
        # Keyed by the proposal's index alone, so batching does not change the sequence.
        index = self.n_asked + i
        config = self.space.sample(np.random.default_rng([self.seed, index]))
        for attempt in range(1, self._redraws):
            key = self._key(config)
            if key not in evaluated and key not in seen:
                break
            config = self.space.sample(np.random.default_rng([self.seed, index, attempt]))
        return config

    @staticmethod
    def _key(config: Config) -> tuple:
        return tuple(sorted(config.items()))
