import numpy as np
import pytest

from tunesmith.convergence import CONSECUTIVE, ConvergenceDetector
from tunesmith.space import SearchSpace
from tunesmith.strategies.base import Trial
from tunesmith.strategies.bayesian import BayesianStrategy
from tunesmith.strategies.random import RandomStrategy

SPACE = SearchSpace.from_parameter_ranges(
    {
        "ContinuousParameterRanges": [
            {"Name": "a", "MinValue": "0", "MaxValue": "1"},
            {"Name": "b", "MinValue": "0", "MaxValue": "1"},
        ],
        "CategoricalParameterRanges": [{"Name": "c", "Values": ["x", "y"]}],
    }
)


def flat(config) -> float:
    return 0.95 + 0.0005 * config["a"]


def steep(config) -> float:
    return 0.05 + 40 * ((config["a"] - 0.62) ** 2 + (config["b"] - 0.21) ** 2) + (
        config["c"] == "x")


def reasons(objective, trials: int, strategy_cls=RandomStrategy):
    strategy = strategy_cls(SPACE, seed=0)
    detector = ConvergenceDetector(SPACE, seed=0)
    out = []
    for i in range(trials):
        config = strategy.ask(1)[0]
        strategy.tell([Trial(str(i), config, objective(config))])
        out.append(detector.check(strategy.trials))
    return detector, out


def test_fires_on_a_flat_objective_but_not_before_enough_trials() -> None:
    detector, out = reasons(flat, 25)
    fired = [i for i, reason in enumerate(out) if reason]
    assert fired, "a flat objective must be judged converged"
    assert fired[0] + 1 >= detector.min_trials + CONSECUTIVE - 1
    assert "expected improvement" in out[fired[0]] and "< 1%" in out[fired[0]]


def test_does_not_fire_on_a_steep_objective_under_random_search() -> None:
    _, out = reasons(steep, 25)
    assert not any(out)


@pytest.mark.slow
def test_fires_once_bayesian_search_has_pinned_down_a_simple_minimum() -> None:
    _, out = reasons(lambda c: 1.0 + (c["a"] - 0.3) ** 2 + (c["c"] == "x"), 40, BayesianStrategy)
    assert any(out)


def test_ignores_failed_trials_and_foreign_configurations() -> None:
    detector = ConvergenceDetector(SPACE, seed=1)
    trials = [Trial(str(i), {"a": 0.1, "b": 0.2, "c": "x"}, None) for i in range(20)]
    trials += [Trial("p", {"zzz": 1}, 1.0, source="parent")]
    assert detector.check(trials) is None
    assert np.isfinite(detector.min_trials)
