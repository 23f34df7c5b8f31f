from collections import Counter

import pytest

from tunesmith.space import SearchSpace
from tunesmith.strategies import Trial, create_strategy
from tunesmith.strategies.hyperband import HyperbandStrategy, brackets
from tunesmith.strategies.random import RandomStrategy

SPACE = SearchSpace.from_parameter_ranges(
    {
        "ContinuousParameterRanges": [
            {"Name": "lr", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"}
        ],
        "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b", "c"]}],
    }
)


def hyperband(seed: int = 1) -> HyperbandStrategy:
    return HyperbandStrategy(SPACE, seed=seed, min_resource=1, max_resource=27)


def names_in_bracket(strategy: HyperbandStrategy, index: int, count: int) -> list[str]:
    """Training job names, as the engine makes them, whose bracket is ``index``."""
    out = []
    seq = 1
    while len(out) < count:
        name = f"tune-{seq:03d}-0badcafe"
        if strategy.bracket_of(name).index == index:
            out.append(name)
        seq += 1
    return out


def test_brackets_follow_hyperband_from_min_to_max_resource() -> None:
    found = brackets(1, 27, 3)
    assert [b.rungs for b in found] == [(1, 3, 9), (3, 9), (9,), ()]
    assert [b.weight for b in found] == [27, 12, 6, 4]
    assert [b.rungs for b in brackets(2, 20, 3)] == [(2, 6, 18), (6, 18), (18,), ()]


def test_brackets_are_assigned_in_proportion_to_their_weights() -> None:
    strategy = hyperband()
    counts = Counter(strategy.bracket_of(f"t-{seq:03d}-abcd0123").index for seq in range(1, 491))
    expected = {0: 270, 1: 120, 2: 60, 3: 40}  # 490 jobs split 27 : 12 : 6 : 4
    assert all(abs(counts[b] - n) <= 3 for b, n in expected.items())


def test_rung_keeps_the_top_third_and_stops_the_rest_with_a_reason() -> None:
    strategy = hyperband()
    a, b, c, d = names_in_bracket(strategy, 0, 4)
    assert strategy.report(a, 1, 0.50) is None  # alone at the rung: promoted
    assert strategy.report(b, 1, 0.40) is None  # best of two
    reason = strategy.report(c, 1, 0.90)  # third of three: only one in three goes on
    assert reason == (
        "Hyperband: rung 1 (resource 1) of bracket 1: loss 0.9 not in the top 1/3 of 3 training "
        "jobs (cut-off 0.4)"
    )
    assert strategy.report(d, 1, 0.35) is None  # best of four: floor(4 / 3) = 1 goes on
    # Between rungs nothing is judged, however bad the value.
    assert strategy.report(a, 2, 5.0) is None
    assert strategy.report(b, 2, 0.3) is None
    assert strategy.report(b, 3, 0.2) is None
    assert "rung 2 (resource 3)" in (strategy.report(a, 3, 0.35) or "")
    assert strategy.report(d, 2, 0.3) is None
    assert strategy.report(d, 3, 0.1) is None
    # Five at rung 1: floor(5 / 3) = 1 still goes on, so the second best stops.
    (e,) = names_in_bracket(strategy, 0, 5)[4:]
    assert "not in the top 1/3 of 5 training jobs (cut-off 0.35)" in (
        strategy.report(e, 1, 0.38) or ""
    )


def test_job_going_past_max_resource_is_stopped() -> None:
    strategy = hyperband()
    (full,) = names_in_bracket(strategy, 3, 1)
    for step in range(1, 28):  # a script that ends at MaxResource completes by itself
        assert strategy.report(full, step, 1.0 / step) is None
    assert strategy.report(full, 28, 0.01) == "Hyperband: went past MaxResource 27"


def test_later_brackets_judge_later() -> None:
    strategy = hyperband()
    jobs = names_in_bracket(strategy, 2, 3)
    for job, loss in zip(jobs, [0.1, 0.2, 0.3], strict=True):
        for step in range(1, 9):
            assert strategy.report(job, step, loss) is None
    assert strategy.report(jobs[0], 9, 0.1) is None
    assert strategy.report(jobs[1], 9, 0.2) is not None
    assert strategy.report(jobs[2], 9, 0.3) is not None


def test_rungs_of_different_brackets_are_separate() -> None:
    strategy = hyperband()
    first = names_in_bracket(strategy, 0, 2)
    second = names_in_bracket(strategy, 1, 2)
    for job in first:
        strategy.report(job, 1, 0.1)
        strategy.report(job, 2, 0.1)
        strategy.report(job, 3, 0.1)
    # Bracket 2's first jobs at resource 3 are not compared with bracket 1's better ones.
    assert strategy.report(second[0], 3, 0.5) is None
    assert strategy.report(second[1], 3, 0.6) is not None


def test_rebuilt_strategy_agrees_whatever_order_the_curves_come_back_in() -> None:
    live = hyperband()
    jobs = names_in_bracket(live, 0, 6)
    curves = {job: [0.1 * (i + 1) / s for s in range(1, 4)] for i, job in enumerate(jobs)}
    decisions = {}
    for step in range(1, 4):
        for job, curve in curves.items():
            if job not in decisions:
                reason = live.report(job, step, curve[step - 1])
                if reason is not None:
                    decisions[job] = curve[:step]
    rebuilt = hyperband()
    for job in reversed(jobs):  # the store replays job by job, not in time order
        played = decisions.get(job, curves[job])
        for step, loss in enumerate(played, start=1):
            rebuilt.report(job, step, loss)
    (newcomer,) = names_in_bracket(live, 0, 7)[6:]
    for strategy in (live, rebuilt):
        assert strategy.report(newcomer, 1, 0.25) == live.report(newcomer, 1, 0.25)
    assert rebuilt._records == live._records


def test_new_configurations_are_random_and_reproducible() -> None:
    strategy = hyperband(seed=4)
    configs = strategy.ask(8)
    assert configs == RandomStrategy(SPACE, seed=4).ask(8)
    assert configs == hyperband(seed=4).ask(8)
    assert all(SPACE.contains(c) for c in configs)
    strategy.tell([Trial("tune-001-0badcafe", configs[0], 0.3)])
    assert strategy.ask(2) == RandomStrategy(SPACE, seed=4).ask(10)[8:]


def test_registry_builds_hyperband_with_its_resources() -> None:
    strategy = create_strategy("Hyperband", SPACE, seed=3, min_resource=2, max_resource=50)
    assert isinstance(strategy, HyperbandStrategy)
    assert strategy.name == "Hyperband"
    assert strategy.min_resource == 2 and strategy.max_resource == 50
    assert strategy.capacity is None


@pytest.mark.parametrize(("low", "high"), [(0, 10), (5, 5), (10, 3)])
def test_resources_out_of_order_are_rejected(low: int, high: int) -> None:
    with pytest.raises(ValueError, match="min_resource < max_resource"):
        HyperbandStrategy(SPACE, min_resource=low, max_resource=high)


def test_training_job_without_a_sequence_number_is_rejected() -> None:
    with pytest.raises(ValueError, match="sequence number"):
        hyperband().report("no_sequence", 1, 0.5)


def test_cutoff_keeps_floor_of_a_third() -> None:
    strategy = hyperband()
    jobs = names_in_bracket(strategy, 0, 10)
    losses = [float(i) for i in range(10, 0, -1)]  # each job better than all before it
    for job, loss in zip(jobs, losses, strict=True):
        assert strategy.report(job, 1, loss) is None
    late = names_in_bracket(strategy, 0, 11)[10]
    # Eleven jobs at the rung: the best floor(11 / 3) = 3 go on, the cut-off is the 3rd best.
    assert "cut-off 3)" in (strategy.report(late, 1, 3.5) or "")
    (later,) = names_in_bracket(strategy, 0, 12)[11:]
    assert strategy.report(later, 1, 3.5) is None  # twelve: the best four go on
