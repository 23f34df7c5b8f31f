import numpy as np
import pytest

from tunesmith.space import SearchSpace
from tunesmith.strategies.bayesian import acquisition
from tunesmith.strategies.bayesian.encoding import Encoding
from tunesmith.strategies.bayesian.gp import GaussianProcess, fit_hyperparameters


def fitted(x: np.ndarray, y: np.ndarray, seed: int = 0) -> GaussianProcess:
    y = (y - y.mean()) / y.std()
    return GaussianProcess(x, y, fit_hyperparameters(x, y, np.random.default_rng(seed)))


def wavy(x: np.ndarray) -> np.ndarray:
    return np.sin(5 * x).sum(1) + (x[:, 0] - 0.4) ** 2


def test_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(0)
    gp = fitted(x := rng.random((25, 3)), wavy(x))
    points = rng.random((5, 3))
    mean, std, grad_mean, grad_std = gp.predict_with_gradient(points)
    ei = acquisition.LogExpectedImprovement(gp, best=float(gp.y.min()))
    value, grad_ei = ei.with_gradient(points)
    assert np.allclose((mean, std), gp.predict(points))
    assert np.allclose(value, ei(points))
    step = 1e-6
    for j in range(3):
        moved = points.copy()
        moved[:, j] += step
        moved_mean, moved_std = gp.predict(moved)
        assert np.allclose((moved_mean - mean) / step, grad_mean[:, j], atol=1e-4)
        assert np.allclose((moved_std - std) / step, grad_std[:, j], atol=1e-4)
        assert np.allclose((ei(moved) - value) / step, grad_ei[:, j], rtol=1e-3, atol=1e-3)


def test_fantasies_give_the_model_refitted_with_them() -> None:
    rng = np.random.default_rng(1)
    gp = fitted(x := rng.random((15, 2)), wavy(x))
    points = rng.random((3, 2))
    believed = gp.mean(points)
    fast = gp.with_fantasies(points, believed)
    noise = np.concatenate([gp.noise, np.full(3, 1e-6 * np.exp(gp.hyper.log_signal))])
    slow = GaussianProcess(np.vstack([x, points]), np.concatenate([gp.y, believed]), gp.hyper,
                           noise)
    probe = rng.random((50, 2))
    assert np.allclose(fast.predict(probe), slow.predict(probe), atol=1e-8)


def test_the_maximiser_lands_on_the_acquisitions_peak_precisely() -> None:
    space = SearchSpace.from_parameter_ranges(
        {"ContinuousParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "1"},
                                       {"Name": "b", "MinValue": "0", "MaxValue": "1"}]}
    )
    encoding = Encoding(space)
    rng = np.random.default_rng(2)
    gp = fitted(x := rng.random((20, 2)), wavy(x))
    ei = acquisition.LogExpectedImprovement(gp, best=float(gp.y.min()))
    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, 401)] * 2), -1).reshape(-1, 2)
    peak = float(ei(grid).max())
    _, found = acquisition.maximize(ei, encoding, rng, anchors=x[:1], exclude=set(),
                                    n_candidates=64)
    # A coarse search lands near the peak; the gradient refinement reaches it.
    assert found >= peak - 1e-6


def test_discrete_parameters_are_set_to_their_best_value() -> None:
    space = SearchSpace.from_parameter_ranges(
        {"IntegerParameterRanges": [{"Name": "k", "MinValue": "1", "MaxValue": "500"}],
         "CategoricalParameterRanges": [{"Name": "c", "Values": ["u", "v", "w"]}]}
    )
    encoding = Encoding(space)
    rng = np.random.default_rng(3)
    coords = rng.random((30, 2))
    feats = encoding.features(coords)
    configs = [encoding.decode(f) for f in feats]
    losses = np.array([abs(c["k"] - 137) / 100 + (c["c"] != "v") for c in configs])
    gp = fitted(feats, losses)
    ei = acquisition.LogExpectedImprovement(gp, best=float(gp.y.min()))
    every = [{"k": k, "c": c} for k in range(1, 501) for c in "uvw"]
    scores = ei(np.array([encoding.encode(c) for c in every]))
    best, found = acquisition.maximize(ei, encoding, rng, anchors=coords[np.argsort(losses)[:2]],
                                       exclude=set(), n_candidates=32)
    assert found == pytest.approx(scores.max(), abs=1e-6)
    assert encoding.decode(best) == every[int(np.argmax(scores))]


def test_wide_integer_ranges_offer_the_neighbours_of_the_current_value() -> None:
    space = SearchSpace.from_parameter_ranges(
        {"IntegerParameterRanges": [{"Name": "k", "MinValue": "1", "MaxValue": "5000",
                                     "ScalingType": "Logarithmic"}]}
    )
    encoding = Encoding(space)
    current = encoding.coordinates(encoding.encode({"k": 1234}))[:, 0]
    options = {encoding.decode([u])["k"] for u in encoding.choices(0, current)[0]}
    assert {1, 5000, 1233, 1235, 1230, 1238} <= options


def test_a_box_confines_the_search_and_its_own_peak_is_found() -> None:
    space = SearchSpace.from_parameter_ranges(
        {"ContinuousParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "1"}],
         "IntegerParameterRanges": [{"Name": "k", "MinValue": "0", "MaxValue": "99"}]}
    )
    encoding = Encoding(space)
    rng = np.random.default_rng(4)
    gp = fitted(x := rng.random((20, 2)), wavy(x))
    ei = acquisition.LogExpectedImprovement(gp, best=float(gp.y.min()))
    order = [p.name for p in encoding.parameters]
    lower = np.array([{"a": 0.55, "k": 0.2}[name] for name in order])
    upper = np.array([{"a": 0.75, "k": 0.4}[name] for name in order])
    # The box's edge at k = 39.5 is snapped to the middle of k = 40's cell.
    inside = [{"a": a, "k": k} for a in np.linspace(0.55, 0.75, 201) for k in range(20, 41)]
    scores = ei(np.array([encoding.encode(c) for c in inside]))
    # The whole space's peak lies outside the box, so an unconfined search would leave it.
    everywhere, _ = acquisition.maximize(ei, encoding, rng, anchors=x[:1], exclude=set())
    assert not 0.55 <= encoding.decode(everywhere)["a"] <= 0.75
    best, found = acquisition.maximize(ei, encoding, rng, anchors=x[:2], exclude=set(),
                                       n_candidates=64, box=(lower, upper))
    config = encoding.decode(best)
    assert 0.55 <= config["a"] <= 0.75 and 20 <= config["k"] <= 40
    assert found >= scores.max() - 1e-6
