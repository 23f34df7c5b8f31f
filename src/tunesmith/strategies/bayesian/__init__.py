"""Bayesian optimisation with a Gaussian process (the default strategy)."""

from tunesmith.strategies.bayesian.strategy import BayesianStrategy

__all__ = ["BayesianStrategy"]
