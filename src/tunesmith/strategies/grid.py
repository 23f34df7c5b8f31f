"""Grid search: every combination of the categorical values, each exactly once."""

from __future__ import annotations

from collections.abc import Sequence

from tunesmith.space import Config
from tunesmith.strategies.base import Strategy


class GridStrategy(Strategy):
    """Enumerates the grid in declaration order; combinations already evaluated (by a warm-start
    parent, say) or still running are never proposed again."""

    name = "Grid"

    def _propose(self, n: int, pending: Sequence[Config]) -> list[Config]:
        taken = {_key(t.config) for t in self.trials} | {_key(c) for c in pending}
        out: list[Config] = []
        for config in self.space.grid():
            if len(out) == n:
                break
            if _key(config) not in taken:
                out.append(config)
                taken.add(_key(config))
        return out

    @property
    def capacity(self) -> int:
        return self.space.grid_size()


def _key(config: Config) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in config.items()))
