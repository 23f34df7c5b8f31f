import math

import numpy as np
import pytest
from scipy.stats import norm

from tunesmith.strategies.bayesian.acquisition import log_expected_improvement, log_h
from tunesmith.strategies.bayesian.gp import GaussianProcess, fit_hyperparameters


def bowl(x: np.ndarray) -> np.ndarray:
    return (x[:, 0] - 0.3) ** 2 + 2 * (x[:, 1] - 0.7) ** 2


def test_gp_recovers_the_minimum_region_of_a_known_function() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((40, 2))
    y = bowl(x)
    y = (y - y.mean()) / y.std()
    gp = GaussianProcess(x, y, fit_hyperparameters(x, y, rng))
    grid = np.stack(np.meshgrid(np.linspace(0, 1, 41), np.linspace(0, 1, 41)), -1).reshape(-1, 2)
    mean, _ = gp.predict(grid)
    assert np.linalg.norm(grid[np.argmin(mean)] - [0.3, 0.7]) < 0.1
    # Interpolates what it saw, and is less sure away from it.
    seen_mean, seen_std = gp.predict(x)
    assert np.max(np.abs(seen_mean - y)) < 0.1
    _, far_std = gp.predict(np.array([[1.6, -0.6]]))
    assert far_std[0] > 5 * seen_std.max()


def test_noise_is_learned_on_a_noisy_objective() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((60, 1))
    y = np.sin(6 * x[:, 0]) + rng.normal(0, 0.3, 60)
    y = (y - y.mean()) / y.std()
    hyper = fit_hyperparameters(x, y, rng)
    noiseless = fit_hyperparameters(x, np.sin(6 * x[:, 0]) / np.sin(6 * x[:, 0]).std(), rng)
    assert math.exp(hyper.log_noise) > 0.05
    assert math.exp(noiseless.log_noise) < 0.01


def test_fantasy_observation_shrinks_uncertainty_there() -> None:
    rng = np.random.default_rng(2)
    x = rng.random((10, 2))
    y = bowl(x)
    gp = GaussianProcess(x, (y - y.mean()) / y.std(), fit_hyperparameters(x, y / y.std(), rng))
    point = np.array([[0.95, 0.05]])
    mean, before = gp.predict(point)
    _, after = gp.with_fantasies(point, mean).predict(point)
    assert after[0] < 0.5 * before[0]


@pytest.mark.parametrize("z", [-30.0, -5.0, -1.5, -0.5, 0.0, 0.7, 3.0])
def test_log_h_matches_the_direct_formula_where_that_is_accurate(z: float) -> None:
    direct = math.log(norm.pdf(z) + z * norm.cdf(z))
    assert log_h(np.array([z]))[0] == pytest.approx(direct, rel=1e-6)


def test_log_ei_stays_finite_and_ordered_far_from_the_incumbent() -> None:
    mean = np.array([5.0, 50.0, 500.0, 5e4, 5e6])
    values = log_expected_improvement(mean, np.ones(5), best=0.0)
    assert np.all(np.isfinite(values))
    assert np.all(np.diff(values) < 0)
