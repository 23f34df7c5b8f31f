"""Strategies: how a tuning job chooses the hyperparameters of its next training jobs."""

from __future__ import annotations

from typing import Any

from tunesmith.model.errors import ValidationException
from tunesmith.space import SearchSpace
from tunesmith.strategies.base import Strategy, Trial


def create_strategy(
    name: str, space: SearchSpace, *, seed: int | None = None, **options: Any
) -> Strategy:
    """The strategy a tuning job document names (``Bayesian`` when it names none); ``options``
    are strategy-specific (Hyperband's ``min_resource`` and ``max_resource``)."""
    match name:
        case "Random":
            from tunesmith.strategies.random import RandomStrategy

            return RandomStrategy(space, seed=seed)
        case "Grid":
            from tunesmith.strategies.grid import GridStrategy

            return GridStrategy(space, seed=seed)
        case "Bayesian":
            from tunesmith.strategies.bayesian import BayesianStrategy

            return BayesianStrategy(space, seed=seed)
        case "Hyperband":
            from tunesmith.strategies.hyperband import HyperbandStrategy

            return HyperbandStrategy(space, seed=seed, **options)
    raise ValidationException(
        f"Value '{name}' at 'HyperParameterTuningJobConfig.Strategy' failed to satisfy "
        "constraint: Member must satisfy enum value set: [Bayesian, Random, Grid, Hyperband]"
    )


__all__ = ["Strategy", "Trial", "create_strategy"]
