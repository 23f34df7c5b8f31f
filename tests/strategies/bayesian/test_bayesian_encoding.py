import numpy as np
import pytest

from tunesmith.model.errors import ValidationException
from tunesmith.space import SearchSpace
from tunesmith.strategies.bayesian import BayesianStrategy
from tunesmith.strategies.bayesian.encoding import Encoding

MIXED = SearchSpace.from_parameter_ranges(
    {
        "IntegerParameterRanges": [
            {"Name": "trees", "MinValue": "10", "MaxValue": "1000", "ScalingType": "Auto"},
            {"Name": "depth", "MinValue": "1", "MaxValue": "8"},
        ],
        "ContinuousParameterRanges": [
            {"Name": "lr", "MinValue": "1e-4", "MaxValue": "1", "ScalingType": "Logarithmic"},
            {"Name": "momentum", "MinValue": "0.5", "MaxValue": "0.999",
             "ScalingType": "ReverseLogarithmic"},
            {"Name": "frac", "MinValue": "0.1", "MaxValue": "0.9"},
        ],
        "CategoricalParameterRanges": [{"Name": "kind", "Values": ["gini", "entropy", "log"]}],
    }
)


def test_configurations_round_trip_through_the_encoding() -> None:
    encoding = Encoding(MIXED)
    rng = np.random.default_rng(0)
    for _ in range(200):
        config = MIXED.sample(rng)
        again = encoding.decode(encoding.encode(config))
        assert again["trees"] == config["trees"] and again["kind"] == config["kind"]
        assert again["lr"] == pytest.approx(config["lr"])


def test_features_are_snapped_to_trainable_configurations() -> None:
    encoding = Encoding(MIXED)
    feats = encoding.features(np.random.default_rng(1).random((300, encoding.n_parameters)))
    for row in feats:
        config = encoding.decode(row)
        assert MIXED.contains(config)
        assert np.allclose(encoding.encode(config), row)
    # Categoricals are one-hot: exactly one coordinate set per categorical parameter.
    assert np.all(feats[:, -3:].sum(1) == 1)


def test_auto_scaling_chooses_log_for_wide_positive_ranges_only() -> None:
    encoding = Encoding(MIXED)
    assert encoding.space["trees"].warping == "Logarithmic"
    assert encoding.space["depth"].warping == "Linear"
    assert encoding.space["frac"].warping == "Linear"
    # Log-warped: the middle of the cube is the geometric middle of the relaxed range
    # [9.5, 1000.5], about 97.5.
    assert encoding.decode(np.array([0.5, 0.5, 0.5, 0.5, 0.5, 1, 0, 0]))["trees"] in (97, 98)


def test_integer_cells_have_equal_share_on_a_linear_range() -> None:
    encoding = Encoding(MIXED)
    u = np.linspace(0, 1, 8001)[:, None] * np.ones((1, encoding.n_parameters))
    depths = [encoding.decode(row)["depth"] for row in encoding.features(u)]
    counts = np.bincount(depths)[1:]
    assert len(counts) == 8 and counts.max() - counts.min() <= 2


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ({"ContinuousParameterRanges": [
            {"Name": "lr", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}]},
         "'lr'.*Logarithmic needs MinValue > 0"),
        ({"IntegerParameterRanges": [
            {"Name": "k", "MinValue": "0", "MaxValue": "9", "ScalingType": "Logarithmic"}]},
         "'k'.*Logarithmic"),
        ({"ContinuousParameterRanges": [
            {"Name": "m", "MinValue": "0.5", "MaxValue": "1",
             "ScalingType": "ReverseLogarithmic"}]},
         "'m'.*ReverseLogarithmic needs 0 <= MinValue and MaxValue < 1"),
        ({"ContinuousParameterRanges": [{"Name": "z", "MinValue": "1", "MaxValue": "1"}]},
         "'z'.*MaxValue must be > MinValue"),
        ({"IntegerParameterRanges": [{"Name": "i", "MinValue": "3", "MaxValue": "2"}]},
         "'i'.*MaxValue must be >= MinValue"),
        ({}, "at least one tuned hyperparameter"),
    ],
)
def test_invalid_ranges_give_a_clear_error(ranges: dict, message: str) -> None:
    with pytest.raises(ValidationException, match=message):
        BayesianStrategy(SearchSpace.from_parameter_ranges(ranges), seed=0)
