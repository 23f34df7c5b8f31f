import pytest

from tunesmith.early_stopping import MedianStoppingRule
from tunesmith.strategies import Trial


def finish(rule: MedianStoppingRule, name: str, curve: list[float]) -> None:
    for step, loss in enumerate(curve, start=1):
        rule.report(name, step, loss)
    rule.tell([Trial(name, {}, curve[-1])])


def rule_with_history(**options: int) -> MedianStoppingRule:
    """Five finished jobs whose running averages at step 2 are 0.5, 0.6, 0.7, 0.8, 0.9."""
    rule = MedianStoppingRule(**options)
    for i, first in enumerate([0.6, 0.7, 0.8, 0.9, 1.0]):
        finish(rule, f"done-{i}", [first, first - 0.2, first - 0.3])
    return rule


def test_stops_a_job_whose_best_is_worse_than_the_median_of_running_averages() -> None:
    rule = rule_with_history(min_steps=2)
    assert rule.report("slow", 1, 0.95) is None  # before min_steps
    reason = rule.report("slow", 2, 0.75)
    assert reason == (
        "Median stopping rule: best loss 0.75 by step 2 is worse than the median 0.7 of the "
        "running averages of 5 finished training jobs"
    )


def test_keeps_a_job_at_or_better_than_the_median() -> None:
    rule = rule_with_history(min_steps=2)
    assert rule.report("fine", 1, 0.9) is None
    assert rule.report("fine", 2, 0.7) is None


def test_judges_the_best_value_so_far_not_the_last() -> None:
    rule = rule_with_history()
    assert rule.report("noisy", 1, 0.5) is None
    assert rule.report("noisy", 2, 0.95) is None  # its best, 0.5, beats the median 0.7


def test_no_job_is_judged_before_enough_jobs_finished() -> None:
    rule = MedianStoppingRule()
    for i in range(4):
        finish(rule, f"done-{i}", [0.1, 0.1, 0.1])
    assert rule.report("bad", 2, 9.0) is None
    assert rule.report("bad", 3, 9.0) is None
    finish(rule, "done-4", [0.1, 0.1, 0.1])
    assert rule.report("bad", 4, 9.0) is not None


def test_judges_from_the_first_value_by_default() -> None:
    rule = rule_with_history()  # running averages at step 1: 0.6, 0.7, 0.8, 0.9, 1.0
    assert rule.report("good", 1, 0.8) is None
    assert rule.report("bad", 1, 0.85) is not None


def test_min_steps_is_a_grace_period() -> None:
    rule = rule_with_history(min_steps=3)
    assert rule.report("bad", 1, 9.0) is None
    assert rule.report("bad", 2, 9.0) is None
    assert rule.report("bad", 3, 9.0) is not None


def test_a_job_that_ended_early_counts_with_the_average_of_all_its_values() -> None:
    rule = MedianStoppingRule(min_finished=1)
    finish(rule, "short", [0.4, 0.2])  # running averages 0.4, 0.3
    assert rule.report("late", 5, 0.31) is not None  # judged against 0.3
    assert rule.report("later", 5, 0.29) is None


def test_failed_jobs_and_jobs_without_a_curve_do_not_count() -> None:
    rule = MedianStoppingRule(min_finished=1)
    rule.report("crashed", 1, 0.0)
    rule.tell([Trial("crashed", {}, None), Trial("warm-start-parent", {"x": 1}, 0.1)])
    assert rule.report("bad", 2, 9.0) is None


def test_state_does_not_depend_on_the_order_curves_are_replayed() -> None:
    curves = {f"job-{i}": [1.0 - 0.1 * i, 0.8 - 0.1 * i, 0.7 - 0.1 * i] for i in range(6)}
    forward = MedianStoppingRule()
    for name, curve in curves.items():
        finish(forward, name, curve)
    replayed = MedianStoppingRule()
    for name, curve in reversed(curves.items()):  # all values first, then every tell at once
        for step, loss in enumerate(curve, start=1):
            replayed.report(name, step, loss)
    replayed.tell([Trial(name, {}, curve[-1]) for name, curve in curves.items()])
    for rule in (forward, replayed):
        # Running averages at step 2 are 0.9, 0.8, ..., 0.4: the median is 0.65.
        assert rule.report("new", 2, 0.64) is None
        assert rule.report("new2", 2, 0.66) is not None


def test_values_of_finished_jobs_are_ignored() -> None:
    rule = rule_with_history()
    assert rule.report("done-0", 4, 99.0) is None
    assert rule.report("probe", 2, 0.75) is not None


@pytest.mark.parametrize("options", [{"min_steps": 0}, {"min_finished": 0}])
def test_settings_below_one_are_rejected(options: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        MedianStoppingRule(**options)
