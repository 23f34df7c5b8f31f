import math

import numpy as np
import pytest

from tunesmith.space import Parameter, SearchSpace

RANGES = {
    "IntegerParameterRanges": [
        {"Name": "trees", "MinValue": "1", "MaxValue": "200"},
        {"Name": "depth", "MinValue": "1", "MaxValue": "1000", "ScalingType": "Logarithmic"},
    ],
    "ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Logarithmic"},
        {
            "Name": "momentum",
            "MinValue": "0.9",
            "MaxValue": "0.999",
            "ScalingType": "ReverseLogarithmic",
        },
        {"Name": "frac", "MinValue": "0.0", "MaxValue": "0.5"},
    ],
    "CategoricalParameterRanges": [{"Name": "kind", "Values": ["auto", "sqrt", "log2"]}],
}


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace.from_parameter_ranges(RANGES)


def test_encode_decode_round_trip(space: SearchSpace) -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        config = space.sample(rng)
        assert space.contains(config)
        assert space.decode(space.encode(config)) == pytest.approx(config)
        assert space.from_hyperparameters(space.to_hyperparameters(config)) == config


def test_dimension_counts_one_hot(space: SearchSpace) -> None:
    assert space.dimension == 5 + 3
    vector = space.encode({**space.sample(np.random.default_rng(1)), "kind": "sqrt"})
    assert list(vector[5:]) == [0.0, 1.0, 0.0]


def test_integer_values_are_equally_likely() -> None:
    p = Parameter("n", "Integer", low=1, high=4)
    draws = [p.from_unit(u) for u in np.random.default_rng(2).random(40_000)]
    counts = np.bincount(draws, minlength=5)[1:]
    assert set(draws) == {1, 2, 3, 4}
    assert counts.min() / counts.max() > 0.93


def test_logarithmic_sampling_is_uniform_in_log_space() -> None:
    p = Parameter("lr", "Continuous", low=1e-4, high=1.0, scaling="Logarithmic")
    draws = np.array([p.from_unit(u) for u in np.random.default_rng(3).random(20_000)])
    below = np.mean(draws < 1e-2)  # half of the log range
    assert 0.47 < below < 0.53
    assert draws.min() >= 1e-4 and draws.max() <= 1.0


def test_reverse_logarithmic_concentrates_near_one() -> None:
    p = Parameter("m", "Continuous", low=0.9, high=0.999, scaling="ReverseLogarithmic")
    draws = np.array([p.from_unit(u) for u in np.random.default_rng(4).random(20_000)])
    # -log(1 - x) is uniform: half the draws lie above the point halfway in that scale.
    mid = 1 - math.sqrt((1 - 0.9) * (1 - 0.999))
    assert 0.47 < np.mean(draws > mid) < 0.53
    assert p.from_unit(p.to_unit(0.95)) == pytest.approx(0.95)


def test_parse_rejects_values_outside_the_parameter() -> None:
    kind = Parameter("kind", "Categorical", values=("a", "b"))
    with pytest.raises(ValueError, match="not one of"):
        kind.parse("c")
    with pytest.raises(ValueError, match="not an integer"):
        Parameter("n", "Integer", low=1, high=3).parse("1.5")
    assert not Parameter("n", "Integer", low=1, high=3).contains(7)


def test_grid_enumerates_every_combination() -> None:
    space = SearchSpace.from_parameter_ranges(
        {
            "CategoricalParameterRanges": [
                {"Name": "a", "Values": ["1", "2", "3"]},
                {"Name": "b", "Values": ["x", "y"]},
            ]
        }
    )
    grid = list(space.grid())
    assert space.grid_size() == len(grid) == 6
    assert len({tuple(c.items()) for c in grid}) == 6
