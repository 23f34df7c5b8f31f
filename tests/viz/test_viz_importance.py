from __future__ import annotations

import numpy as np
import pandas as pd

from tunesmith.space import Parameter, SearchSpace
from tunesmith.viz.importance import MIN_TRIALS, importance, unit_positions

SPACE = SearchSpace(
    (
        Parameter("lr", "Continuous", 1e-5, 1e-1, scaling="Logarithmic"),
        Parameter("depth", "Integer", 1, 20),
        Parameter("kind", "Categorical", values=("a", "b")),
    )
)


def _trials(objective, n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    configs = pd.DataFrame([SPACE.sample(rng) for _ in range(n)])
    configs["objective"] = objective(configs, rng)
    return configs


def _shares(frame: pd.DataFrame) -> dict[str, float]:
    result = importance(SPACE, frame, "objective")
    return dict(zip(result["parameter"], result["share"], strict=True))


def test_the_parameter_that_drives_the_objective_dominates() -> None:
    frame = _trials(lambda c, rng: np.log10(c["lr"]) + rng.normal(0, 0.3, len(c)))
    shares = _shares(frame)
    assert shares["lr"] > 0.7
    assert shares["depth"] < 0.05
    assert shares["kind"] < 0.05


def test_a_pure_interaction_shows_as_a_pair_not_as_main_effects() -> None:
    def xor(c: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        high_depth = c["depth"].to_numpy() > 10
        is_a = (c["kind"] == "a").to_numpy()
        return np.where(high_depth == is_a, 1.0, 0.0) + rng.normal(0, 0.05, len(c))

    shares = _shares(_trials(xor))
    assert shares["depth × kind"] > 0.5
    assert shares["depth"] < 0.05 and shares["kind"] < 0.05


def test_noise_scores_near_zero_as_shares_are_of_the_objective_variance() -> None:
    frame = _trials(lambda c, rng: rng.normal(0, 1, len(c)), n=60)
    shares = _shares(frame)
    assert all(shares[name] < 0.1 for name in SPACE.names)


def test_too_few_scored_trials_give_no_estimate() -> None:
    frame = _trials(lambda c, rng: rng.normal(0, 1, len(c)), n=MIN_TRIALS + 5)
    frame.loc[frame.index[:6], "objective"] = np.nan
    assert importance(SPACE, frame, "objective").empty


def test_unit_positions_follow_the_scaling() -> None:
    values = pd.Series([1e-5, 1e-3, 1e-1])
    assert np.allclose(unit_positions(SPACE["lr"], values), [0.0, 0.5, 1.0])
    # Integer ranges are widened by half a step, as in the search space's encoding.
    assert np.allclose(unit_positions(SPACE["depth"], pd.Series([1, 20])), [0.5 / 20, 19.5 / 20])
    assert list(unit_positions(SPACE["kind"], pd.Series(["b", "a"]))) == [1.0, 0.0]


def test_unit_positions_agree_with_the_search_space() -> None:
    params = [
        *SPACE.parameters,
        Parameter("keep", "Continuous", 0.5, 0.999, scaling="ReverseLogarithmic"),
        Parameter("leaf", "Integer", 1, 64, scaling="Logarithmic"),
    ]
    rng = np.random.default_rng(3)
    for p in params:
        if p.kind == "Categorical":
            continue
        values = pd.Series([p.from_unit(u) for u in rng.random(25)])
        assert np.allclose(unit_positions(p, values), [p.to_unit(v) for v in values])
