import numpy as np
import pytest

from tunesmith.space import SearchSpace
from tunesmith.strategies.base import Trial
from tunesmith.strategies.bayesian import BayesianStrategy
from tunesmith.strategies.bayesian.encoding import Encoding
from tunesmith.strategies.bayesian.surrogate import shift_prior

SPACE = SearchSpace.from_parameter_ranges(
    {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}
)


def f(x: float) -> float:
    return (x - 0.3) ** 2


def test_own_results_move_the_prior_by_their_offset() -> None:
    xs = np.linspace(0, 1, 21)
    prior = [Trial(f"p-{i}", {"x": float(x)}, f(x), source="parent") for i, x in enumerate(xs)]
    own = [
        Trial(f"c-{i}", {"x": x}, f(x) + 5.0, source="child") for i, x in enumerate((0.1, 0.5, 0.9))
    ]
    shifted = shift_prior(Encoding(SPACE), prior + own, frozenset({"parent"}))
    for before, after in zip(prior, shifted[: len(prior)], strict=True):
        assert after.loss == pytest.approx(before.loss + 5.0)
    assert shifted[len(prior) :] == own


def test_prior_is_kept_as_it_is_before_three_own_results() -> None:
    prior = [Trial("p-1", {"x": 0.2}, 1.0, source="parent")]
    own = [Trial("c-1", {"x": 0.4}, 9.0, source="child")]
    assert shift_prior(Encoding(SPACE), prior + own, frozenset({"parent"})) == prior + own


def test_transfer_learning_strategy_still_proposes_inside_the_space() -> None:
    strategy = BayesianStrategy(SPACE, seed=1)
    strategy.prior_sources = frozenset({"parent"})
    strategy.tell(
        [
            Trial(f"p-{i}", {"x": x}, f(x), source="parent")
            for i, x in enumerate(np.linspace(0, 1, 9))
        ]
    )
    strategy.tell(
        [
            Trial(f"c-{i}", {"x": x}, f(x) + 1, source="child")
            for i, x in enumerate((0.05, 0.6, 0.95))
        ]
    )
    proposal = strategy.ask(1)[0]
    assert SPACE.contains(proposal)
    assert abs(proposal["x"] - 0.3) < 0.25
