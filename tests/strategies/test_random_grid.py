import pytest

from tunesmith.space import SearchSpace
from tunesmith.strategies import Trial, create_strategy
from tunesmith.strategies.grid import GridStrategy
from tunesmith.strategies.random import RandomStrategy

SPACE = SearchSpace.from_parameter_ranges(
    {
        "IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "200"}],
        "ContinuousParameterRanges": [
            {"Name": "lr", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"}
        ],
        "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b", "c"]}],
    }
)
GRID = SearchSpace.from_parameter_ranges(
    {
        "CategoricalParameterRanges": [
            {"Name": "a", "Values": ["1", "2", "3"]},
            {"Name": "b", "Values": ["x", "y"]},
        ]
    }
)


def test_same_seed_same_sequence_different_seed_different() -> None:
    first = RandomStrategy(SPACE, seed=11).ask(10)
    assert first == RandomStrategy(SPACE, seed=11).ask(10)
    assert first != RandomStrategy(SPACE, seed=12).ask(10)


def test_sequence_does_not_depend_on_batching() -> None:
    one_by_one = RandomStrategy(SPACE, seed=5)
    singles = [one_by_one.ask(1)[0] for _ in range(6)]
    assert singles == RandomStrategy(SPACE, seed=5).ask(6)


def test_rebuilt_strategy_continues_the_sequence() -> None:
    original = RandomStrategy(SPACE, seed=3)
    original.ask(4)
    rebuilt = RandomStrategy(SPACE, seed=3)
    rebuilt.n_asked = 4
    assert rebuilt.ask(3) == original.ask(3)


def test_random_proposals_stay_in_range() -> None:
    for config in RandomStrategy(SPACE, seed=1).ask(500):
        assert SPACE.contains(config)


def test_random_avoids_configurations_already_evaluated() -> None:
    small = SearchSpace.from_parameter_ranges(
        {"CategoricalParameterRanges": [{"Name": "k", "Values": ["a", "b", "c"]}]}
    )
    strategy = RandomStrategy(small, seed=0)
    strategy.tell([Trial("p-1", {"k": "a"}, 1.0, source="parent")])
    proposals = strategy.ask(2)
    assert {c["k"] for c in proposals} == {"b", "c"}


def test_grid_enumerates_each_combination_once() -> None:
    strategy = GridStrategy(GRID)
    assert strategy.capacity == 6
    first = strategy.ask(4)
    second = strategy.ask(4, pending=first)
    everything = first + second
    assert len(everything) == 6
    assert len({tuple(sorted(c.items())) for c in everything}) == 6
    assert strategy.ask(1, pending=everything) == []


def test_grid_skips_parent_combinations() -> None:
    strategy = GridStrategy(GRID)
    strategy.tell([Trial("parent-001", {"a": "1", "b": "x"}, 0.5, source="parent")])
    proposals = strategy.ask(10)
    assert {"a": "1", "b": "x"} not in proposals
    assert len(proposals) == 5


def test_unknown_strategy_is_a_validation_error() -> None:
    from tunesmith.model.errors import ValidationException

    with pytest.raises(ValidationException, match="Strategy"):
        create_strategy("Simulated", SPACE)
