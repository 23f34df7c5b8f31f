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


def test_mean_far_from_the_data_is_the_level_of_the_untried_regions() -> None:
    # A search's observations cluster where the loss is low; a few lie elsewhere at the level
    # the rest of the box has. Far from all of them the model must expect that level, not the
    # clustered observations' average (which would make every far corner look promising).
    rng = np.random.default_rng(3)
    cluster = 0.3 + 0.02 * rng.standard_normal((30, 2))
    spread = np.array([[0.9, 0.1], [0.1, 0.9], [0.9, 0.9], [0.6, 0.05], [0.05, 0.6]])
    x = np.vstack([cluster, spread])
    y = np.concatenate([np.full(30, -2.0) + 0.05 * rng.standard_normal(30), np.zeros(5)])
    y = (y - y.mean()) / y.std()
    gp = GaussianProcess(x, y, fit_hyperparameters(x, y, rng))
    level = y[30:].mean()
    mean, _ = gp.predict(np.array([[3.0, 3.0]]))
    assert abs(mean[0] - level) < 0.25 * abs(level - y.mean())


def test_a_coordinate_the_loss_ignores_keeps_a_length_scale_of_a_few_ranges() -> None:
    # If the model could stretch the length scale of a coordinate without limit once the loss
    # shows no trend along it, the search would never try that coordinate again.
    rng = np.random.default_rng(4)
    x = rng.random((40, 3))
    y = np.sin(5 * x[:, 0]) + np.cos(4 * x[:, 1])
    y = (y - y.mean()) / y.std()
    hyper = fit_hyperparameters(x, y, rng)
    assert math.exp(hyper.log_lengths[2]) < 10.0


def test_gradient_of_the_fit_objective_matches_finite_differences() -> None:
    # The constant mean is profiled out; the analytic gradient must stay that of the whole
    # objective, or the fit stops short of its optimum.
    from scipy.optimize import check_grad

    from tunesmith.strategies.bayesian.gp import _neg_log_posterior

    rng = np.random.default_rng(5)
    x = rng.random((25, 3))
    y = bowl(x[:, :2]) + 0.3 * x[:, 2]
    y = (y - y.mean()) / y.std() + 0.4  # off-centre, so the mean's estimate is not zero
    theta = np.array([-0.5, 0.2, 0.8, 0.1, math.log(1e-3)])
    error = check_grad(
        lambda t: _neg_log_posterior(t, x, y)[0], lambda t: _neg_log_posterior(t, x, y)[1], theta
    )
    assert error < 1e-4 * np.linalg.norm(_neg_log_posterior(theta, x, y)[1])
