from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import vl_convert as vlc
from vizfixtures import data_name, follows_brush, has_transform, mark_type, tiny_job, titles, units

from tunesmith.space import Parameter, SearchSpace
from tunesmith.viz import charts
from tunesmith.viz.charts import (
    build_report,
    cross_validated_bandwidth,
    density_bandwidths,
    log_ticks,
    silverman_bandwidth,
)
from tunesmith.viz.data import TuningJobData
from tunesmith.viz.demo import synthetic_tuning_job
from tunesmith.viz.prepare import prepare


@pytest.fixture(scope="module")
def jobs():
    return [
        random := synthetic_tuning_job("random-1", "Random", n_trials=60, seed=1),
        synthetic_tuning_job("bayes-1", "Bayesian", n_trials=60, seed=2, warm_from=(random,)),
    ]


@pytest.fixture(scope="module")
def report(jobs) -> dict[str, Any]:
    return build_report(jobs, advanced=True).to_dict()


def _x(unit: dict[str, Any]) -> dict[str, Any]:
    return unit.get("encoding", {}).get("x", {})


def _param_units(spec: dict[str, Any], field: str) -> list[dict[str, Any]]:
    return [u for u in units(spec) if mark_type(u) == "point" and _x(u).get("field") == field]


def test_the_report_compiles_to_vega(report) -> None:
    vega = vlc.vegalite_to_vega(report)
    assert vega["marks"]


def test_log_scaled_parameters_get_log_axes(report, jobs) -> None:
    rd = prepare(jobs)
    (log_float,) = _param_units(report, rd.fields["min-impurity-decrease"])
    assert _x(log_float)["scale"]["type"] == "log"
    (log_int,) = _param_units(report, rd.fields["min-samples-leaf"])
    assert _x(log_int)["scale"]["type"] == "log"
    (linear,) = _param_units(report, rd.fields["n-estimators"])
    assert "type" not in _x(linear)["scale"]
    assert _x(linear)["type"] == "quantitative"


def test_reverse_logarithmic_parameters_are_drawn_as_one_minus_value_on_a_log_axis(
    report, jobs
) -> None:
    rd = prepare(jobs)
    (unit,) = _param_units(report, f"rev_{rd.fields['max-samples']}")
    assert _x(unit)["scale"]["type"] == "log"
    assert {
        "calculate": f"1 - datum.{rd.fields['max-samples']}",
        "as": f"rev_{rd.fields['max-samples']}",
    } in unit["transform"]


def test_categorical_parameters_get_a_categorical_axis_in_declared_order(report, jobs) -> None:
    rd = prepare(jobs)
    (unit,) = _param_units(report, rd.fields["max-features"])
    assert _x(unit)["type"] == "nominal"
    assert _x(unit)["sort"] == ["sqrt", "log2", "auto"]
    boxes = [
        u
        for u in units(report)
        if mark_type(u) == "boxplot" and _x(u).get("field") == rd.fields["max-features"]
    ]
    assert boxes and follows_brush(boxes[0])


def test_one_brush_links_the_time_axis_and_every_numeric_parameter(report, jobs) -> None:
    params = {p["name"]: p for p in report["params"]}
    brush, hover = params["brush"], params["hover"]
    assert brush["select"] == {"type": "interval", "encodings": ["x"]}
    numeric = sum(p.is_numeric for p in jobs[0].space.parameters)
    assert len(brush["views"]) == 1 + numeric
    assert hover["select"]["type"] == "point" and hover["select"]["on"] == "pointerover"
    followers = [u for u in units(report) if follows_brush(u)]
    # densities (one per job), box plot, heat map, learning curves, 9 table columns, 3 metrics
    assert len(followers) >= 2 + 1 + 1 + 1 + 9 + 3


def test_points_carry_a_full_tooltip(report, jobs) -> None:
    rd = prepare(jobs)
    points = [u for u in units(report) if mark_type(u) == "point"]
    assert points
    for unit in points:
        fields = {t["field"] for t in unit["encoding"]["tooltip"]}
        assert {"trial", "job", "status", "objective", *rd.fields.values()} <= fields


def test_progress_chart_has_points_over_start_time_and_a_best_so_far_step_line(report) -> None:
    points = [u for u in units(report) if mark_type(u) == "point" and _x(u).get("field") == "start"]
    assert points and _x(points[0])["type"] == "temporal"
    lines = [
        u
        for u in units(report)
        if mark_type(u) == "line" and data_name(u) == "best" and _x(u).get("field") == "start"
    ]
    assert lines[0]["mark"]["interpolate"] == "step-after"
    assert lines[0]["encoding"]["color"]["field"] == "job"


def test_each_job_gets_a_density_with_a_bandwidth_from_its_own_values(report, jobs) -> None:
    densities = [u for u in units(report) if has_transform(u, "density")]
    assert len(densities) == len(jobs)
    assert all(follows_brush(u) for u in densities)
    bandwidths = [next(t["bandwidth"] for t in u["transform"] if "density" in t) for u in densities]
    expected = density_bandwidths(prepare(jobs))
    assert sorted(bandwidths) == pytest.approx(sorted(expected.values()))
    assert len(set(bandwidths)) == len(jobs)


def test_cross_validation_narrows_the_bandwidth_of_two_humps() -> None:
    rng = np.random.default_rng(0)
    humps = np.concatenate([rng.normal(0.6, 0.02, 100), rng.normal(0.95, 0.01, 200)])
    rule = silverman_bandwidth(humps, 1e-3)
    chosen = cross_validated_bandwidth(humps, 1e-3)
    assert 0.1 * rule <= chosen < 0.5 * rule
    one_hump = rng.normal(0.0, 1.0, 400)
    assert cross_validated_bandwidth(one_hump, 1e-3) == pytest.approx(
        silverman_bandwidth(one_hump, 1e-3), rel=0.35
    )
    assert cross_validated_bandwidth(np.array([0.5, 0.5]), 1e-3) == 1e-3


def test_several_jobs_are_compared_and_the_winner_is_named(report, jobs) -> None:
    best = {job.name: job.scored["FinalObjectiveValue"].max() for job in jobs}
    winner = max(best, key=best.get)
    strategy = {job.name: job.strategy for job in jobs}[winner]
    assert any(t.startswith(f"best: {winner} ({strategy}) reached") for t in titles(report))
    assert any("bayes-1 warm-starts from random-1" in t for t in titles(report))
    boxes = [
        u
        for u in units(report)
        if mark_type(u) == "boxplot" and u["encoding"]["y"]["field"] == "job"
    ]
    assert boxes and boxes[0]["encoding"]["color"]["field"] == "job"


def test_advanced_charts(report) -> None:
    all_units = list(units(report))
    assert any(has_transform(u, "fold") and mark_type(u) == "line" for u in all_units), (
        "parallel coordinates"
    )
    assert any(data_name(u) == "importance" and mark_type(u) == "bar" for u in all_units)
    heat = [u for u in all_units if mark_type(u) == "rect"]
    assert heat and heat[0]["encoding"]["color"]["aggregate"] == "mean"
    curves = [u for u in all_units if data_name(u) == "curves" and _x(u).get("field") == "step"]
    assert curves and follows_brush(curves[0])
    assert {"start", "job", "status"} <= set(report["datasets"]["curves"][0])
    timeline = [u for u in all_units if mark_type(u) == "bar" and "x2" in u.get("encoding", {})]
    assert timeline and timeline[0]["encoding"]["y"]["field"] == "lane"
    table = [u for u in all_units if mark_type(u) == "text" and has_transform(u, "window")]
    assert len(table) >= 3


def test_basic_report_leaves_out_the_advanced_charts(jobs) -> None:
    spec = build_report(jobs).to_dict(validate=False)
    all_units = list(units(spec))
    assert not any(has_transform(u, "fold") for u in all_units)
    assert not any(mark_type(u) == "rect" for u in all_units)
    assert not any(data_name(u) == "importance" for u in all_units)


@pytest.mark.slow
def test_trials_only_leaves_out_the_metric_series(jobs) -> None:
    def series(spec: dict[str, Any]) -> set[str]:
        return {u["encoding"]["y"]["title"] for u in units(spec) if _x(u).get("field") == "seconds"}

    full = build_report(jobs).to_dict(validate=False)
    assert series(full) == {"valid-f1", "valid-precision", "valid-recall"}
    assert series(build_report(jobs, trials_only=True).to_dict(validate=False)) == set()


def test_datasets_are_embedded_once(report, jobs) -> None:
    assert len(report["datasets"]["trials"]) == sum(len(j.trials) for j in jobs)
    assert {u.get("data", {}).get("name") for u in units(report)} - {None} <= set(
        report["datasets"]
    )


@pytest.mark.slow
def test_large_jobs_are_sampled_and_say_so() -> None:
    job = synthetic_tuning_job("big", n_trials=1500, max_parallel=8, seed=3, with_metrics=False)
    spec = build_report([job], max_points=300).to_dict(validate=False)
    assert len(spec["datasets"]["trials"]) == 1500
    assert sum(row["shown"] for row in spec["datasets"]["trials"]) == pytest.approx(300, abs=5)
    assert any(t.startswith("points: 300 of") for t in titles(spec))


def test_an_empty_job_gives_a_message() -> None:
    spec = build_report([tiny_job("empty", [], [])]).to_dict()
    assert "no training jobs yet" in str(spec)
    vlc.vegalite_to_svg(spec)


def test_a_job_with_only_failures_gives_a_message() -> None:
    job = tiny_job("broken", ["Failed"] * 3, [float("nan")] * 3)
    spec = build_report([job]).to_dict()
    assert "3 Failed; none reported loss" in str(spec)


def test_an_empty_job_next_to_a_good_one_is_noted() -> None:
    good = tiny_job("good", ["Completed"] * 3, [0.3, 0.2, 0.4])
    empty = tiny_job("empty", [], [])
    spec = build_report([good, empty]).to_dict()
    assert "empty: no training job has reported loss yet" in titles(spec)


def test_minimized_objectives_colour_good_values_alike(jobs) -> None:
    job = tiny_job("m", ["Completed"] * 12, list(np.linspace(1.0, 0.1, 12)))
    spec = build_report([job], advanced=True).to_dict()
    parallel = next(u for u in units(spec) if has_transform(u, "fold"))
    assert parallel["encoding"]["color"]["scale"]["reverse"] is True


@pytest.mark.parametrize(
    "draw",
    [
        charts.progress_chart,
        charts.density_chart,
        charts.comparison_chart,
        charts.parallel_coordinates_chart,
        charts.importance_chart,
        charts.interaction_heatmap,
        charts.learning_curves_chart,
        charts.timeline_chart,
        charts.top_trials_table,
        lambda rd: charts.parameter_chart(rd, "max-features"),
        lambda rd: charts.parameter_chart(rd, "min-impurity-decrease"),
        lambda rd: charts.metric_series_chart(rd, "valid-recall"),
    ],
)
def test_every_chart_renders_on_its_own(jobs, draw) -> None:
    svg = vlc.vegalite_to_svg(draw(prepare(jobs)).to_dict())
    assert svg.startswith("<svg")


def test_log_ticks() -> None:
    assert log_ticks(1e-6, 0.1) == [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1]
    assert log_ticks(0.5, 10.5) == [0.5, 1.0, 2.0, 5.0, 10.0]


def test_the_report_displays_in_jupyter(jobs) -> None:
    import altair as alt

    with alt.renderers.enable("mimetype"):
        bundle = build_report(jobs)._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    (key,) = [k for k in bundle if k.startswith("application/vnd.vegalite")]
    assert len(bundle[key]["datasets"]["trials"]) == sum(len(j.trials) for j in jobs)


def test_a_running_job_with_a_single_result_renders() -> None:
    job = tiny_job("running", ["Completed"] + ["InProgress"] * 3, [0.5, np.nan, np.nan, np.nan])
    job.trials.loc[1:, "TrainingEndTime"] = pd.NaT
    spec = build_report([job], advanced=True).to_dict(validate=False)
    slots = {row["trial"][:11]: row["slot"] for row in spec["datasets"]["trials"]}
    # The first job ends after 2 minutes; running jobs keep their slots.
    assert slots == {"running-001": 1, "running-002": 2, "running-003": 1, "running-004": 3}
    assert "too few scored training jobs" in str(spec)
    assert vlc.vegalite_to_svg(spec).startswith("<svg")


def test_hyperparameter_names_that_vega_would_read_as_paths_render() -> None:
    job = tiny_job("dots", ["Completed"] * 12, list(np.linspace(1.0, 0.1, 12)))
    param = Parameter("optimizer.lr[0]", "Continuous", 1e-4, 1e-1, scaling="Logarithmic")
    trials = job.trials.rename(columns={"lr": param.name})
    renamed = TuningJobData("dots", "Random", "loss", "Minimize", SearchSpace((param,)), trials)
    spec = build_report([renamed], advanced=True).to_dict()
    assert "optimizer.lr[0] (log scale)" in str(spec)
    assert vlc.vegalite_to_svg(spec).startswith("<svg")
