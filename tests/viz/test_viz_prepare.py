from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from vizfixtures import tiny_job

from tunesmith.space import Parameter, SearchSpace
from tunesmith.viz.data import TRIAL_COLUMNS, TuningJobData
from tunesmith.viz.demo import synthetic_tuning_job
from tunesmith.viz.prepare import assign_slots, field_names, merged_space, prepare


@pytest.fixture(scope="module")
def big_job():
    return synthetic_tuning_job("big", "Random", n_trials=600, max_parallel=6, seed=5)


def test_slots_replay_parallel_training_jobs() -> None:
    start = pd.Series([0.0, 1.0, 2.0, 5.0, 5.0])
    end = pd.Series([4.0, 10.0, 3.0, 6.0, 7.0])
    # Job 3 ends at 3, so the job starting at 5 takes its slot; job 1 ends at 4, slot 1 frees.
    assert list(assign_slots(start, end)) == [1, 2, 3, 1, 3]


def test_slots_never_exceed_the_parallelism(big_job) -> None:
    rd = prepare([big_job])
    assert rd.trials["slot"].max() == 6


def test_point_layers_are_sampled_and_keep_the_best(big_job) -> None:
    rd = prepare([big_job], max_points=100)
    scored = rd.scored
    assert len(rd.trials) == len(big_job.trials)
    assert 95 <= rd.points_shown <= 105
    best_ten = scored.nlargest(10, "objective")
    assert best_ten["shown"].all()
    assert rd.sample_note is not None and f"of {len(scored):,} scored" in rd.sample_note


def test_small_jobs_draw_every_point() -> None:
    job = synthetic_tuning_job("small", n_trials=40, seed=1)
    rd = prepare([job])
    assert rd.points_shown == len(rd.scored)
    assert rd.sample_note is None


def test_best_so_far_steps_improve_in_the_objective_direction(big_job) -> None:
    rd = prepare([big_job])
    steps = rd.best["best"].to_numpy()
    assert np.all(np.diff(steps) >= 0)
    assert steps[-1] == pytest.approx(big_job.scored["FinalObjectiveValue"].max(), abs=1e-6)
    minimizing = tiny_job("m", ["Completed"] * 4, [3.0, 1.0, 2.0, 0.5])
    assert list(prepare([minimizing]).best["best"]) == [3.0, 1.0, 0.5]


def test_learning_curves_are_bounded_and_keep_the_best(big_job) -> None:
    rd = prepare([big_job], max_curves=40)
    assert rd.curve_jobs <= 40 + 4
    assert rd.curve_jobs_total > 500
    best = big_job.scored.nlargest(1, "FinalObjectiveValue")["TrainingJobName"].iloc[0]
    assert best in set(rd.curves["trial"])
    assert set(rd.metric_names) == {"valid-f1", "valid-precision", "valid-recall"}
    assert (rd.curves["seconds"] > 0).all()


def test_field_names_are_safe_and_distinct() -> None:
    fields = field_names(["optimizer.lr", "optimizer_lr", "a[0]"])
    assert fields == {
        "optimizer.lr": "hp_optimizer_lr",
        "optimizer_lr": "hp_optimizer_lr_2",
        "a[0]": "hp_a_0_",
    }


def test_merged_space_widens_ranges_and_unites_categories() -> None:
    a = SearchSpace(
        (
            Parameter("x", "Continuous", 0.1, 1.0, scaling="Logarithmic"),
            Parameter("c", "Categorical", values=("a",)),
        )
    )
    b = SearchSpace(
        (Parameter("x", "Continuous", 0.01, 0.5), Parameter("c", "Categorical", values=("b", "a")))
    )
    merged = merged_space([_with_space(a), _with_space(b)])
    assert (merged["x"].low, merged["x"].high, merged["x"].scaling) == (0.01, 1.0, "Logarithmic")
    assert merged["c"].values == ("a", "b")


def _with_space(space: SearchSpace) -> TuningJobData:
    trials = pd.DataFrame(columns=[*TRIAL_COLUMNS, *space.names])
    return TuningJobData("j", "Random", "loss", "Minimize", space, trials)


def test_heatmap_uses_the_two_most_important_parameters(big_job) -> None:
    rd = prepare([big_job])
    main = rd.importance[rd.importance["term"] == "main"].nlargest(2, "share")
    assert set(rd.heatmap or ()) == set(main["parameter"])
    for name in rd.heatmap or ():
        assert f"bin_{rd.fields[name]}" in rd.trials.columns
