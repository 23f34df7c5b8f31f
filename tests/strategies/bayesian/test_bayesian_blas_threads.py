import numpy as np
from threadpoolctl import threadpool_info

from tunesmith.space import SearchSpace
from tunesmith.strategies.base import Trial
from tunesmith.strategies.bayesian import BayesianStrategy, surrogate

SPACE = SearchSpace.from_parameter_ranges(
    {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}
)


def blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_the_model_runs_on_one_blas_thread_and_leaves_the_setting_as_it_was() -> None:
    before = blas_threads()
    with surrogate.single_threaded_blas():
        assert blas_threads() and set(blas_threads()) == {1}
    assert blas_threads() == before
    strategy = BayesianStrategy(SPACE, seed=0)
    for i, x in enumerate(np.linspace(0.05, 0.95, 6)):
        strategy.tell([Trial(str(i), {"x": float(x)}, float((x - 0.3) ** 2))])
    assert len(strategy.ask(2)) == 2
    assert blas_threads() == before
