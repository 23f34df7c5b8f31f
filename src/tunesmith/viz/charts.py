"""The charts of a tuning report, linked by one brush and one hover highlight.

Dragging across the x axis of the progress chart (a time range) or of any hyperparameter scatter
(a value range) fades the training jobs outside it everywhere and refilters the densities, box
plots, heat map, learning curves, metric series and the top-k table; pointing at a training job
outlines it in every chart. All charts read the named datasets of :class:`ReportData`, embedded
once at the top of the report.

Each public chart function takes the prepared :class:`ReportData` or the tuning jobs themselves
and returns a chart that renders on its own; :func:`build_report` lays them out as a dashboard.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Sequence

import altair as alt
import numpy as np
from altair.utils import schemapi

from tunesmith.space import Parameter
from tunesmith.viz.data import TuningJobData
from tunesmith.viz.importance import MIN_TRIALS
from tunesmith.viz.prepare import ReportData, is_log, is_reverse_log, log_domain, prepare

WIDTH = 340
HEIGHT = 220
TOP_K = 10
_CV_VALUES = 500
JOB_COLORS = (
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#b279a2",
    "#e45756",
    "#72b7b2",
    "#9d755d",
    "#eeca3b",
)
STATUS_SHAPES = {
    "Completed": "circle",
    "Stopped": "triangle-down",
    "Failed": "cross",
    "InProgress": "square",
}
STATUS_COLORS = {
    "Completed": "#54a24b",
    "Stopped": "#f58518",
    "Failed": "#e45756",
    "InProgress": "#9d9d9d",
}

BRUSH = alt.selection_interval(name="brush", encodings=["x"])
HOVER = alt.selection_point(
    name="hover", on="pointerover", clear="pointerout", fields=["trial"], empty=False, nearest=False
)

ReportInput = ReportData | Sequence[TuningJobData]
# Colour means tuning job in one chart, status or objective in the next: never merge them.
_INDEPENDENT = alt.Resolve(
    scale=alt.ScaleResolveMap(
        color="independent", shape="independent", opacity="independent", strokeDash="independent"
    )
)


# --- shared encodings -------------------------------------------------------------------------


def _trials() -> alt.Chart:
    return alt.Chart(alt.NamedData(name="trials"))


def _points() -> alt.Chart:
    """The trials a point layer draws (all scored ones, or the sample of a large job)."""
    return _trials().transform_filter("datum.shown")


def _labels_expr(mapping: dict[str, str]) -> str:
    """A Vega expression that renames axis or legend labels through a lookup table."""
    return f"{json.dumps(mapping)}[datum.label] || datum.label"


def _job_color(rd: ReportData, legend: bool = False) -> alt.Color:
    names = rd.job_names
    labels = {job.name: f"{job.name} ({job.strategy})" for job in rd.jobs}
    return alt.Color(
        "job:N",
        title="tuning job",
        scale=alt.Scale(domain=names, range=list(JOB_COLORS[: max(1, len(names))])),
        legend=alt.Legend(orient="top", labelExpr=_labels_expr(labels)) if legend else None,
    )


def _status_shape(legend: bool = False) -> alt.Shape:
    return alt.Shape(
        "status:N",
        title="status",
        scale=alt.Scale(domain=list(STATUS_SHAPES), range=list(STATUS_SHAPES.values())),
        legend=alt.Legend(orient="top") if legend else None,
    )


def _status_color() -> alt.Color:
    return alt.Color(
        "status:N",
        title="status",
        scale=alt.Scale(domain=list(STATUS_COLORS), range=list(STATUS_COLORS.values())),
        legend=alt.Legend(orient="top"),
    )


def _objective_scale(rd: ReportData) -> alt.Scale:
    """One objective domain everywhere, so brushing never makes an axis jump."""
    values = rd.scored["objective"]
    low, high = float(values.min()), float(values.max())
    pad = (high - low) * 0.03 or abs(high) * 0.01 or 1.0
    return alt.Scale(domain=[low - pad, high + pad], zero=False, nice=False)


def _objective_y(rd: ReportData, field: str = "objective") -> alt.Y:
    return alt.Y(f"{field}:Q", title=rd.objective_name, scale=_objective_scale(rd))


def _param_format(param: Parameter) -> str:
    return "d" if param.kind == "Integer" else ".4~g"


def _tooltip(rd: ReportData, objective: bool = True) -> list[alt.Tooltip]:
    tips = [
        alt.Tooltip("trial:N", title="training job"),
        alt.Tooltip("job:N", title="tuning job"),
        alt.Tooltip("status:N", title="status"),
    ]
    if objective:
        tips.append(alt.Tooltip("objective:Q", title=rd.objective_name, format=".5~g"))
    for p in rd.space.parameters:
        field = rd.fields[p.name]
        if p.kind == "Categorical":
            tips.append(alt.Tooltip(f"{field}:N", title=p.name))
        else:
            tips.append(alt.Tooltip(f"{field}:Q", title=p.name, format=_param_format(p)))
    tips.append(alt.Tooltip("start:T", title="started", format="%Y-%m-%d %H:%M:%S"))
    tips.append(alt.Tooltip("elapsed:Q", title="seconds", format=",.0f"))
    return tips


def _faded(linked: bool, selected: float = 0.9, other: float = 0.12) -> alt.OpacityValue:
    """Full opacity inside the brush; with no brush in the chart, everything is selected."""
    if not linked:
        return alt.value(selected)
    return alt.when(BRUSH).then(alt.value(selected)).otherwise(alt.value(other))


def _follow(chart: alt.Chart, linked: bool) -> alt.Chart:
    """Keep only the trials inside the brush, when the chart has one."""
    return chart.transform_filter(BRUSH) if linked else chart


def _hovered(linked: bool, on: object, off: object) -> object:
    if not linked:
        return alt.value(off)
    return alt.when(HOVER).then(alt.value(on)).otherwise(alt.value(off))


def _highlight() -> dict[str, object]:
    """Outline of the training job under the pointer, in every point chart."""
    return {
        "stroke": alt.when(HOVER).then(alt.value("black")).otherwise(alt.value("transparent")),
        "strokeWidth": alt.when(HOVER).then(alt.value(2.0)).otherwise(alt.value(0.0)),
    }


def _point_layer(
    rd: ReportData, x: alt.X, linked: bool, brush: bool = True, legend: bool = False
) -> alt.Chart:
    chart = (
        _points()
        .mark_point(filled=True, size=45)
        .encode(
            x=x,
            y=_objective_y(rd),
            color=_job_color(rd, legend),
            shape=_status_shape(legend),
            opacity=_faded(linked),
            tooltip=_tooltip(rd),
            **_highlight(),
        )
        .add_params(HOVER)
    )
    return chart.add_params(BRUSH) if brush else chart


def _subtitle(rd: ReportData, *extra: str | None) -> list[str]:
    lines = [line for line in extra if line]
    if rd.sample_note:
        lines.append(rd.sample_note)
    return lines


def _title(text: str, subtitle: Sequence[str] = ()) -> alt.TitleParams:
    return alt.TitleParams(text=text, subtitle=list(subtitle), anchor="start", fontSize=13)


def message_chart(title: str, lines: Sequence[str]) -> alt.Chart:
    """A chart that only says something: used where there is nothing to draw."""
    values = [{"i": i, "line": line} for i, line in enumerate(lines)]
    return (
        alt.Chart(alt.InlineData(values=values), title=_title(title))
        .mark_text(align="left", baseline="top", fontSize=13, dx=-WIDTH / 2 + 4)
        .encode(
            y=alt.Y("i:O", axis=None),
            text="line:N",
        )
        .properties(width=WIDTH, height=18 * max(1, len(lines)))
    )


# --- the charts -------------------------------------------------------------------------------


def _progress(rd: ReportData, linked: bool = True) -> alt.LayerChart:
    x = alt.X(
        "start:T",
        title="training start time",
        scale=alt.Scale(nice=False),
        axis=alt.Axis(tickCount=8, labelOverlap="greedy"),
    )
    points = _point_layer(rd, x, linked, legend=True)
    best = (
        alt.Chart(alt.NamedData(name="best"))
        .mark_line(interpolate="step-after", strokeDash=[4, 3], strokeWidth=2)
        .encode(
            x=x,
            y=_objective_y(rd, "best"),
            color=_job_color(rd),
            tooltip=[
                alt.Tooltip("job:N", title="tuning job"),
                alt.Tooltip("best:Q", title=f"best {rd.objective_name}", format=".5~g"),
                alt.Tooltip("trial:N", title="found by"),
            ],
        )
    )
    # Training jobs without an objective have no height: a red tick on the time axis each.
    unscored = (
        _trials()
        .transform_filter("!isValid(datum.objective)")
        .mark_tick(color=STATUS_COLORS["Failed"], thickness=2, size=12)
        .encode(
            x=x,
            y=alt.value(HEIGHT - 6),
            tooltip=_tooltip(rd, objective=False),
        )
    )
    counts = rd.trials["status"].value_counts()
    summary = ", ".join(f"{n:,} {status}" for status, n in counts.items())
    layers = [points, best] if rd.scored.shape[0] == len(rd.trials) else [points, best, unscored]
    return alt.layer(*layers).properties(
        width=2 * WIDTH,
        height=HEIGHT,
        title=_title(
            f"{rd.objective_name} over training start time, with best so far",
            _subtitle(
                rd,
                f"{len(rd.trials):,} training jobs: {summary}",
                "red ticks: no objective (failed); drag to select a time range",
            ),
        ),
    )


def silverman_bandwidth(values: np.ndarray, fallback: float) -> float:
    """Silverman's rule of thumb; ``fallback`` when the values do not spread."""
    if len(values) < 2:
        return fallback
    spread = min(
        float(np.std(values, ddof=1)), float(np.subtract(*np.percentile(values, [75, 25]))) / 1.34
    )
    if spread <= 0.0:
        spread = float(np.std(values, ddof=1))
    bandwidth = 0.9 * spread * len(values) ** -0.2
    return bandwidth if bandwidth > 0.0 else fallback


def cross_validated_bandwidth(values: np.ndarray, fallback: float) -> float:
    """The bandwidth that maximises the leave-one-out likelihood of the values.

    Searched between a tenth and one and a half times Silverman's rule, which oversmooths the
    two humps an objective often has (finished and early-stopped training jobs). The lower
    bound keeps repeated values from pulling the bandwidth to zero. At most 500 values are used.
    """
    rule = silverman_bandwidth(values, fallback)
    if len(values) < 5:
        return rule
    if len(values) > _CV_VALUES:
        values = np.random.default_rng(0).choice(values, _CV_VALUES, replace=False)
    squared = (values[:, None] - values[None, :]) ** 2
    candidates = rule * np.geomspace(0.1, 1.5, 25)
    scores = []
    for bandwidth in candidates:
        kernel = np.exp(-squared / (2.0 * bandwidth**2))
        np.fill_diagonal(kernel, 0.0)
        others = kernel.sum(axis=1) / ((len(values) - 1) * bandwidth)
        scores.append(float(np.log(others + 1e-300).sum()))
    return float(candidates[int(np.argmax(scores))])


def density_bandwidths(rd: ReportData) -> dict[str, float]:
    """The kernel bandwidth of each job's objective density, chosen from that job's values."""
    scored = rd.scored
    spread = float(scored["objective"].max() - scored["objective"].min())
    fallback = spread / 50 or abs(float(scored["objective"].mean())) / 100 or 1e-3
    return {
        name: cross_validated_bandwidth(rows["objective"].to_numpy(dtype=float), fallback)
        for name, rows in scored.groupby("job", sort=False)
    }


def _density(rd: ReportData, linked: bool = True) -> alt.LayerChart:
    domain = _objective_scale(rd).domain
    layers = []
    bandwidths = density_bandwidths(rd)
    for name, bandwidth in bandwidths.items():
        trials = _trials().transform_filter(alt.FieldEqualPredicate(field="job", equal=name))
        layers.append(
            _follow(trials.transform_filter("isValid(datum.objective)"), linked)
            .transform_density(
                "objective",
                bandwidth=bandwidth,
                extent=list(domain),
                steps=120,
                as_=["objective", "density"],
            )
            .transform_calculate(job=json.dumps(name))
            .mark_area(opacity=0.35, line=True, interpolate="monotone")
            .encode(
                x=alt.X("objective:Q", title=rd.objective_name, scale=_objective_scale(rd)),
                y=alt.Y("density:Q", title="density", stack=None),
                color=_job_color(rd),
            )
        )
    widths = ", ".join(f"{name} {bw:.3g}" for name, bw in bandwidths.items())
    return alt.layer(*layers).properties(
        width=WIDTH,
        height=HEIGHT,
        title=_title(
            f"density of {rd.objective_name} per tuning job",
            [f"Gaussian kernel, bandwidth by cross-validation: {widths}", "follows the brush"],
        ),
    )


def log_ticks(low: float, high: float) -> list[float]:
    """Tick values of a log axis: 1-2-5 steps over short ranges, whole decades over long ones."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    steps = (1.0, 2.0, 5.0) if last - first <= 3 else (1.0,)
    ticks = [m * 10.0**e for e in range(first, last + 1) for m in steps]
    inside = [float(f"{t:.6g}") for t in ticks if low <= t <= high]
    stride = max(1, math.ceil(len(inside) / 8))
    return inside[::stride]


def _parameter_x(rd: ReportData, param: Parameter) -> tuple[alt.X, dict[str, str]]:
    """The x encoding of one hyperparameter: log, reverse-log, linear or categorical.

    A reverse-logarithmic range is drawn as ``1 - value`` on a log axis, which spreads values
    near 1 the way the search does; the tooltip still shows the value itself.
    """
    field = rd.fields[param.name]
    if param.kind == "Categorical":
        return alt.X(f"{field}:N", title=param.name, sort=list(param.values)), {}
    if is_reverse_log(param):
        low, high = 1.0 - param.high, 1.0 - param.low
        x = alt.X(
            f"rev_{field}:Q",
            title=f"1 − {param.name} (log scale)",
            scale=alt.Scale(type="log", domain=[low, high], nice=False),
            axis=alt.Axis(format=".2~g", values=log_ticks(low, high)),
        )
        return x, {f"rev_{field}": f"1 - datum.{field}"}
    if is_log(param):
        low, high = log_domain(param)
        x = alt.X(
            f"{field}:Q",
            title=f"{param.name} (log scale)",
            scale=alt.Scale(type="log", domain=[low, high], nice=False),
            axis=alt.Axis(format=".2~g", values=log_ticks(low, high)),
        )
        return x, {}
    margin = 0.5 if param.kind == "Integer" else 0.0
    x = alt.X(
        f"{field}:Q",
        title=param.name,
        scale=alt.Scale(domain=[param.low - margin, param.high + margin], nice=False, zero=False),
        axis=alt.Axis(format=_param_format(param)),
    )
    return x, {}


def _parameter(rd: ReportData, param: Parameter, linked: bool = True) -> alt.Chart:
    x, calculated = _parameter_x(rd, param)
    # Interval selections need a continuous axis; categorical charts follow the brush only.
    chart: alt.Chart | alt.LayerChart = _point_layer(
        rd, x, linked, brush=param.kind != "Categorical"
    )
    if calculated:
        chart = chart.transform_calculate(**calculated)
    if param.kind == "Categorical":
        # The spread per category, as amtviz's per-value densities show it, from all trials.
        boxes = (
            _follow(_trials().transform_filter("isValid(datum.objective)"), linked)
            .mark_boxplot(
                opacity=0.25, size=36, median={"color": "black"}, outliers=False, ticks=False
            )
            .encode(x=x, y=_objective_y(rd), color=alt.value("#888"))
        )
        chart = alt.layer(boxes, chart)
    scale = {"Logarithmic": "log axis", "ReverseLogarithmic": "log axis of 1 − value"}.get(
        param.warping, ""
    )
    kind = (
        f"{param.kind.lower()}, {param.warping.lower()} range"
        if param.is_numeric
        else "categorical"
    )
    return chart.properties(
        width=WIDTH,
        height=HEIGHT,
        title=_title(
            f"{rd.objective_name} by {param.name}", [f"{kind}{'; ' + scale if scale else ''}"]
        ),
    )


def _comparison(rd: ReportData, linked: bool = True) -> alt.HConcatChart:
    """Best so far against the number of training jobs, and each job's spread, side by side."""
    best_by_job = rd.scored.groupby("job", sort=False)["objective"]
    best = best_by_job.min() if rd.minimize else best_by_job.max()
    ranking = best.sort_values(ascending=rd.minimize)
    strategies = {job.name: job.strategy for job in rd.jobs}
    winner = ranking.index[0]
    others = ", ".join(
        f"{name} ({strategies[name]}) {value:.4g}" for name, value in ranking.iloc[1:].items()
    )
    headline = f"best: {winner} ({strategies[winner]}) reached {ranking.iloc[0]:.4g}"
    x = alt.X("order:Q", title="training jobs started")
    low, high = float(rd.best["best"].min()), float(rd.best["best"].max())
    pad = (high - low) * 0.05 or abs(high) * 0.01 or 1.0
    y = alt.Y(
        "best:Q",
        title=f"best {rd.objective_name}",
        scale=alt.Scale(domain=[low - pad, high + pad], nice=False),
    )
    lines = (
        alt.Chart(alt.NamedData(name="best"))
        .mark_line(interpolate="step-after", strokeWidth=2.5)
        .encode(x=x, y=y, color=_job_color(rd))
    )
    # One label per job, stacked in ranking order in the lower right corner.
    labels = [
        {"line": i, "label": f"{i + 1}. {name} ({strategies[name]}): {value:.4g}", "job": name}
        for i, (name, value) in enumerate(ranking.items())
    ]
    legend = (
        alt.Chart(alt.InlineData(values=labels))
        .mark_text(align="right", baseline="bottom", fontWeight="bold", x=WIDTH - 4)
        .encode(
            y=alt.value(HEIGHT - 4 - 15 * (len(labels) - 1)),
            yOffset=alt.YOffset("line:Q", scale=alt.Scale(domain=[0, 1], range=[0, 15])),
            text="label:N",
            color=_job_color(rd),
        )
    )
    boxes = (
        _follow(_trials().transform_filter("isValid(datum.objective)"), linked)
        .mark_boxplot(extent=1.5, size=22)
        .encode(
            y=alt.Y("job:N", title=None, sort=list(ranking.index)),
            x=alt.X("objective:Q", title=rd.objective_name, scale=_objective_scale(rd)),
            color=_job_color(rd),
        )
        .properties(
            width=WIDTH,
            height=34 * len(rd.jobs),
            title=_title("spread per tuning job", ["follows the brush"]),
        )
    )
    curve = alt.layer(lines, legend).properties(
        width=WIDTH,
        height=HEIGHT,
        title=_title(
            "best so far by number of training jobs",
            [headline, f"others: {others}" if others else ""],
        ),
    )
    return _row(curve, boxes)


def _unit_expression(field: str, param: Parameter) -> str:
    """Vega expression for a value's position in [0, 1] on the parameter's own scale."""
    if param.kind == "Categorical":
        last = max(1, len(param.values) - 1)
        return f"indexof({json.dumps(list(param.values))}, datum.{field}) / {last}"
    margin = 0.5 if param.kind == "Integer" else 0.0
    low, high = param.low - margin, param.high + margin
    if is_log(param):
        return f"(log(datum.{field}) - log({low!r})) / (log({high!r}) - log({low!r}))"
    if is_reverse_log(param):
        return (
            f"(log(1 - {low!r}) - log(1 - datum.{field})) / (log(1 - {low!r}) - log(1 - {high!r}))"
        )
    return f"(datum.{field} - {low!r}) / ({high!r} - {low!r})"


def _axis_labels(rd: ReportData) -> list[dict[str, object]]:
    """The value printed at the bottom and top of each parallel axis (every category)."""
    rows: list[dict[str, object]] = []
    for p in rd.space.parameters:
        axis = f"u_{rd.fields[p.name]}"
        if p.kind == "Categorical":
            for i, value in enumerate(p.values):
                rows.append(
                    {"axis": axis, "position": i / max(1, len(p.values) - 1), "label": value}
                )
        else:
            fmt = "{:.0f}" if p.kind == "Integer" else "{:.3g}"
            rows.append({"axis": axis, "position": 0.0, "label": fmt.format(p.low)})
            rows.append({"axis": axis, "position": 1.0, "label": fmt.format(p.high)})
    return rows


def _parallel(rd: ReportData, linked: bool = True) -> alt.LayerChart:
    axes = [f"u_{rd.fields[p.name]}" for p in rd.space.parameters]
    names = {f"u_{rd.fields[p.name]}": p.name for p in rd.space.parameters}
    calculated = {
        f"u_{rd.fields[p.name]}": _unit_expression(rd.fields[p.name], p)
        for p in rd.space.parameters
    }
    x = alt.X(
        "axis:N",
        title=None,
        sort=axes,
        scale=alt.Scale(type="point", padding=0.15),
        axis=alt.Axis(labelExpr=_labels_expr(names), labelAngle=0, orient="top", grid=False),
    )
    y = alt.Y("position:Q", title=None, scale=alt.Scale(domain=[-0.04, 1.04]), axis=None)
    lines = (
        _points()
        .transform_calculate(**calculated)
        .transform_fold(axes, as_=["axis", "position"])
        .mark_line(strokeWidth=1.2)
        .encode(
            x=x,
            y=y,
            detail="trial:N",
            color=alt.Color(
                "objective:Q",
                title=rd.objective_name,
                scale=alt.Scale(scheme="viridis", reverse=rd.minimize),
                legend=alt.Legend(orient="right"),
            ),
            opacity=_faded(linked, 0.7, 0.04),
            tooltip=_tooltip(rd),
        )
    )
    rules = (
        alt.Chart(alt.InlineData(values=[{"axis": a} for a in axes]))
        .mark_rule(color="#777")
        .encode(x=x)
    )
    labels = (
        alt.Chart(alt.InlineData(values=_axis_labels(rd)))
        .mark_text(align="left", dx=3, fontSize=10, color="#333")
        .encode(x=x, y=y, text="label:N")
    )
    return alt.layer(lines, rules, labels).properties(
        width=max(2 * WIDTH, 120 * len(axes)),
        height=HEIGHT,
        title=_title(
            "parallel coordinates",
            _subtitle(
                rd,
                "each axis spans the tuned range on its own scale (log where log-scaled)",
                "colour: objective",
            ),
        ),
    )


def _importance(rd: ReportData) -> alt.Chart:
    if rd.importance.empty:
        return message_chart(
            "hyperparameter importance",
            [f"too few scored training jobs: importance needs {MIN_TRIALS} per tuning job"],
        )
    order = (
        rd.importance.groupby("parameter")["share"]
        .max()
        .sort_values(ascending=False)
        .index.tolist()
    )
    several = len(rd.jobs) > 1
    chart = (
        alt.Chart(alt.NamedData(name="importance"))
        .mark_bar()
        .encode(
            y=alt.Y("parameter:N", title=None, sort=order),
            x=alt.X("share:Q", title="share of variance explained", axis=alt.Axis(format="%")),
            color=_job_color(rd),
            opacity=alt.Opacity(
                "term:N",
                title="term",
                scale=alt.Scale(domain=["main", "interaction"], range=[0.95, 0.5]),
            ),
            tooltip=[
                alt.Tooltip("job:N", title="tuning job"),
                alt.Tooltip("parameter:N"),
                alt.Tooltip("term:N"),
                alt.Tooltip("share:Q", format=".1%"),
            ],
        )
    )
    if several:
        chart = chart.encode(yOffset=alt.YOffset("job:N", sort=rd.job_names))
    return chart.properties(
        width=WIDTH,
        height=max(HEIGHT, (14 if several else 20) * len(order) * (len(rd.jobs) if several else 1)),
        title=_title(
            "hyperparameter importance",
            [
                "fANOVA of a forest fitted to the objective's ranks: share of their variance",
                "explained by each hyperparameter alone and by the strongest pairs",
            ],
        ),
    )


def _heatmap(rd: ReportData, linked: bool = True) -> alt.Chart:
    if rd.heatmap is None:
        return message_chart("interaction heat map", ["needs at least two tuned hyperparameters"])
    a, b = (rd.space[name] for name in rd.heatmap)
    fa, fb = (f"bin_{rd.fields[p.name]}" for p in (a, b))

    def axis_of(p: Parameter, field: str, channel: type[alt.X] | type[alt.Y]) -> alt.X | alt.Y:
        sort: list[str] | str = list(p.values) if p.kind == "Categorical" else "ascending"
        if channel is alt.Y and p.kind != "Categorical":
            sort = "descending"
        scale_note = (
            " (bins from, log)"
            if p.is_numeric and p.warping != "Linear"
            else (" (bins from)" if p.is_numeric else "")
        )
        fmt = (
            {}
            if p.kind == "Categorical"
            else {"axis": alt.Axis(format=".3~g" if p.kind == "Continuous" else "d")}
        )
        return channel(f"{field}:O", title=p.name + scale_note, sort=sort, **fmt)

    return (
        _follow(_trials().transform_filter("isValid(datum.objective)"), linked)
        .mark_rect()
        .encode(
            x=axis_of(a, fa, alt.X),
            y=axis_of(b, fb, alt.Y),
            color=alt.Color(
                "mean(objective):Q",
                title=f"mean {rd.objective_name}",
                scale=alt.Scale(scheme="viridis", reverse=rd.minimize),
            ),
            tooltip=[
                alt.Tooltip(f"{fa}:O", title=f"{a.name} from"),
                alt.Tooltip(f"{fb}:O", title=f"{b.name} from"),
                alt.Tooltip("mean(objective):Q", title=f"mean {rd.objective_name}", format=".4~g"),
                alt.Tooltip("count():Q", title="training jobs"),
            ],
        )
        .properties(
            width=WIDTH,
            height=HEIGHT,
            title=_title(
                f"{rd.objective_name} by {a.name} and {b.name}",
                ["the two most important hyperparameters; follows the brush"],
            ),
        )
    )


def _curve_note(rd: ReportData) -> str | None:
    if rd.curve_jobs < rd.curve_jobs_total:
        shown = f"{rd.curve_jobs:,} of {rd.curve_jobs_total:,}"
        return f"lines: {shown} training jobs (the best of each job + a sample)"
    return None


def _curves_base(metric: str, linked: bool) -> alt.Chart:
    curves = alt.Chart(alt.NamedData(name="curves")).transform_filter(
        alt.FieldEqualPredicate(field="metric", equal=metric)
    )
    return _follow(curves, linked)


def _learning_curves(rd: ReportData, linked: bool = True) -> alt.Chart:
    metric = rd.objective_name
    if metric not in rd.metric_names:
        return message_chart(
            "learning curves", [f"no intermediate values of {metric} were recorded"]
        )
    return (
        _curves_base(metric, linked)
        .mark_line(strokeWidth=1.2, point=alt.OverlayMarkDef(size=10))
        .encode(
            x=alt.X("step:Q", title="reported value number (step)", axis=alt.Axis(format="d")),
            y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)),
            detail="trial:N",
            color=_job_color(rd),
            strokeDash=alt.StrokeDash(
                "status:N",
                title="status",
                scale=alt.Scale(domain=["Completed", "Stopped"], range=[[1, 0], [4, 2]]),
            ),
            opacity=_hovered(linked, 1.0, 0.45),
            tooltip=[
                alt.Tooltip("trial:N", title="training job"),
                alt.Tooltip("status:N"),
                alt.Tooltip("step:Q"),
                alt.Tooltip("value:Q", title=metric, format=".5~g"),
            ],
        )
        .properties(
            width=WIDTH,
            height=HEIGHT,
            title=_title(
                f"learning curves of {metric}",
                [s for s in ("dashed: stopped early; follows the brush", _curve_note(rd)) if s],
            ),
        )
    )


def _timeline(rd: ReportData, linked: bool = True) -> alt.Chart:
    lanes = int(rd.trials.groupby("job")["slot"].max().sum()) if len(rd.trials) else 1
    return (
        _trials()
        .transform_calculate(lane="datum.job + ' #' + pad(toString(datum.slot), 2, '0', 'left')")
        .mark_bar(height={"band": 0.8}, cornerRadius=1)
        .encode(
            x=alt.X("start:T", title="time"),
            x2="end:T",
            y=alt.Y("lane:N", title="slot", sort="ascending"),
            color=_status_color(),
            opacity=_faded(linked, 1.0, 0.25),
            tooltip=_tooltip(rd),
        )
        .properties(
            width=2 * WIDTH,
            height=max(HEIGHT // 2, min(14 * lanes, 480)),
            title=_title(
                "training jobs per slot",
                [
                    "parallelism over time; orange: stopped early, red: failed",
                    "all training jobs drawn",
                ],
            ),
        )
    )


def _table_column(
    rd: ReportData, title: str, text: str, width: int, first: bool, linked: bool
) -> alt.Chart:
    order = "ascending" if rd.minimize else "descending"
    return (
        _follow(_trials().transform_filter("isValid(datum.objective)"), linked)
        .transform_window(rank="row_number()", sort=[alt.SortField("objective", order=order)])
        .transform_filter(f"datum.rank <= {TOP_K}")
        .transform_calculate(cell=text)
        .mark_text(align="left", baseline="middle", dx=-width / 2 + 2, fontSize=11)
        .encode(
            y=alt.Y(
                "rank:O", title=None, axis=alt.Axis(ticks=False, domain=False) if first else None
            ),
            text="cell:N",
            color=_hovered(linked, "crimson", "black"),
        )
        .properties(
            width=width,
            height=18 * TOP_K,
            title=alt.TitleParams(title, fontSize=11, anchor="start"),
        )
    )


def _top_table(rd: ReportData, linked: bool = True) -> alt.HConcatChart:
    columns = [
        ("training job", "datum.trial", 190),
        (rd.objective_name, "format(datum.objective, '.5~g')", 80),
        ("status", "datum.status", 80),
    ]
    for p in rd.space.parameters:
        field = rd.fields[p.name]
        expr = (
            f"datum.{field}"
            if p.kind == "Categorical"
            else f"format(datum.{field}, '{_param_format(p)}')"
        )
        columns.append((p.name, f"isValid(datum.{field}) ? {expr} : '–'", max(70, 7 * len(p.name))))
    charts = [
        _table_column(rd, title, text, width, i == 0, linked)
        for i, (title, text, width) in enumerate(columns)
    ]
    return alt.hconcat(*charts, spacing=4).properties(
        title=_title(f"top {TOP_K} training jobs by {rd.objective_name}", ["follows the brush"])
    )


def _metric_series(rd: ReportData, metric: str, linked: bool = True) -> alt.Chart:
    return (
        _curves_base(metric, linked)
        .mark_line(strokeWidth=1, point=alt.OverlayMarkDef(size=8))
        .encode(
            x=alt.X("seconds:Q", title="seconds since training start"),
            y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)),
            detail="trial:N",
            color=_job_color(rd),
            opacity=_hovered(linked, 1.0, 0.4),
            tooltip=[
                alt.Tooltip("trial:N", title="training job"),
                alt.Tooltip("seconds:Q", format=",.0f"),
                alt.Tooltip("value:Q", title=metric, format=".5~g"),
            ],
        )
        .properties(
            width=WIDTH,
            height=HEIGHT,
            title=_title(
                metric, [s for s in ("per training job; follows the brush", _curve_note(rd)) if s]
            ),
        )
    )


# --- assembling -------------------------------------------------------------------------------


def _row(*charts: alt.TopLevelMixin, spacing: int = 24) -> alt.HConcatChart:
    return alt.hconcat(*charts, spacing=spacing, resolve=_INDEPENDENT)


def _columns(charts: Sequence[alt.TopLevelMixin], per_row: int) -> list[alt.TopLevelMixin]:
    return [_row(*charts[i : i + per_row]) for i in range(0, len(charts), per_row)]


def _lineage(rd: ReportData) -> str | None:
    parts = [
        f"{job.name} warm-starts from {', '.join(job.parents)}" for job in rd.jobs if job.parents
    ]
    return "; ".join(parts) or None


def _headline(rd: ReportData) -> alt.TitleParams:
    jobs = ", ".join(f"{job.name} ({job.strategy})" for job in rd.jobs)
    direction = "Minimize" if rd.minimize else "Maximize"
    scored = rd.scored
    top = scored.loc[scored["objective"].idxmin() if rd.minimize else scored["objective"].idxmax()]
    best = (
        f"best training job: {top['trial']} of {top['job']} ({top['strategy']}), "
        f"{rd.objective_name} {top['objective']:.5g}"
    )
    lines = [line for line in (best, _lineage(rd), *rd.notes) if line]
    lines.append(
        "drag across a time range or a hyperparameter range to select; "
        "point at a training job to trace it"
    )
    return alt.TitleParams(
        text=f"Tuning report: {jobs}",
        subtitle=[f"objective: {direction} {rd.objective_name}", *lines],
        anchor="start",
        fontSize=16,
    )


def empty_reason(jobs: Sequence[TuningJobData]) -> list[str] | None:
    """Why nothing can be charted (no training jobs, or none with an objective), else None."""
    if any(not job.scored.empty for job in jobs):
        return None
    lines = []
    for job in jobs:
        counts = job.trials["TrainingJobStatus"].value_counts()
        if counts.empty:
            lines.append(f"{job.name}: no training jobs yet — nothing to chart.")
        else:
            summary = ", ".join(f"{n} {status}" for status, n in counts.items())
            lines.append(
                f"{job.name}: {summary}; none reported {job.objective_name} — nothing to chart."
            )
    return lines


def _attach(chart: alt.TopLevelMixin, rd: ReportData) -> alt.TopLevelMixin:
    """Embed the named datasets once at the top level; every view refers to them by name."""
    # Set without validation: the rows are checked when they are built, not row by row here.
    chart = chart.copy(deep=False)
    chart.datasets = rd.datasets()
    return chart.configure_view(stroke="#ddd").configure_axis(labelFontSize=10, titleFontSize=11)


def _combine(build: Callable[[], alt.TopLevelMixin]) -> alt.TopLevelMixin:
    # Sharing one brush and one hover across views is the point; Altair warns when it merges them.
    # Altair validates every piece as it is made, which costs more than drawing a large report;
    # the whole spec is still validated when it is converted (``to_dict``), as in Jupyter.
    with warnings.catch_warnings(), schemapi.debug_mode(False):
        warnings.filterwarnings("ignore", message="Automatically deduplicated selection parameter")
        return build()


def build_report(
    jobs: Sequence[TuningJobData],
    *,
    advanced: bool = False,
    trials_only: bool = False,
    max_points: int | None = None,
) -> alt.TopLevelMixin:
    """The whole linked dashboard of one or several tuning jobs sharing an objective.

    ``advanced`` adds parallel coordinates, importance, the interaction heat map, learning
    curves, the slot timeline and the top-k table; ``trials_only=False`` adds one chart of
    per-training-job series for every metric definition that recorded values. Jobs with nothing
    to chart give a chart that says so.
    """
    jobs = tuple(jobs)
    reason = empty_reason(jobs) if jobs else ["no tuning jobs given — nothing to chart."]
    if reason is not None:
        return message_chart("Tuning report: nothing to chart yet", reason)
    options = {} if max_points is None else {"max_points": max_points}
    rd = prepare(jobs, **options)

    def assemble() -> alt.TopLevelMixin:
        rows: list[alt.TopLevelMixin] = [_row(_progress(rd), _density(rd))]
        if len(rd.jobs) > 1:
            rows.append(_comparison(rd))
        rows.extend(_columns([_parameter(rd, p) for p in rd.space.parameters], 3))
        if advanced:
            rows.append(_parallel(rd))
            rows.append(_row(_importance(rd), _heatmap(rd)))
            rows.append(_row(_learning_curves(rd), _timeline(rd)))
            rows.append(_top_table(rd))
        if not trials_only and rd.metric_names:
            rows.extend(_columns([_metric_series(rd, m) for m in rd.metric_names], 3))
        report = alt.vconcat(*rows, spacing=28, resolve=_INDEPENDENT, title=_headline(rd))
        return _attach(report, rd)

    return _combine(assemble)


def _single(
    data: ReportInput, draw: Callable[[ReportData], alt.TopLevelMixin]
) -> alt.TopLevelMixin:
    """One chart on its own: it follows a brush only where it holds one itself."""
    jobs = data.jobs if isinstance(data, ReportData) else tuple(data)
    reason = empty_reason(jobs) if jobs else ["no tuning jobs given — nothing to chart."]
    if reason is not None:
        return message_chart("nothing to chart yet", reason)
    rd = data if isinstance(data, ReportData) else prepare(jobs)
    return _combine(lambda: _attach(draw(rd), rd))


def progress_chart(data: ReportInput) -> alt.TopLevelMixin:
    """Objective over training start time, with each job's best-so-far step line."""
    return _single(data, lambda rd: _progress(rd, linked=True))


def parameter_chart(data: ReportInput, name: str) -> alt.TopLevelMixin:
    """Objective against one tuned hyperparameter, on the axis its scaling calls for."""
    return _single(
        data, lambda rd: _parameter(rd, rd.space[name], linked=rd.space[name].is_numeric)
    )


def density_chart(data: ReportInput) -> alt.TopLevelMixin:
    """Kernel density of the objective per tuning job, bandwidth from each job's values."""
    return _single(data, lambda rd: _density(rd, linked=False))


def comparison_chart(data: ReportInput) -> alt.TopLevelMixin:
    """Best so far by number of training jobs and the spread of each job, winner named."""
    return _single(data, lambda rd: _comparison(rd, linked=False))


def parallel_coordinates_chart(data: ReportInput) -> alt.TopLevelMixin:
    """One line per training job across every tuned hyperparameter, coloured by objective."""
    return _single(data, lambda rd: _parallel(rd, linked=False))


def importance_chart(data: ReportInput) -> alt.TopLevelMixin:
    """fANOVA-style importance of each hyperparameter and of the strongest pairs."""
    return _single(data, _importance)


def interaction_heatmap(data: ReportInput) -> alt.TopLevelMixin:
    """Mean objective over a grid of the two most important hyperparameters."""
    return _single(data, lambda rd: _heatmap(rd, linked=False))


def learning_curves_chart(data: ReportInput) -> alt.TopLevelMixin:
    """Intermediate values of the objective metric per training job, by step."""
    return _single(data, lambda rd: _learning_curves(rd, linked=False))


def timeline_chart(data: ReportInput) -> alt.TopLevelMixin:
    """Training jobs as bars per slot over time: parallelism, failures and early stops."""
    return _single(data, lambda rd: _timeline(rd, linked=False))


def top_trials_table(data: ReportInput) -> alt.TopLevelMixin:
    """The best training jobs with their hyperparameters, as a table."""
    return _single(data, lambda rd: _top_table(rd, linked=False))


def metric_series_chart(data: ReportInput, metric: str) -> alt.TopLevelMixin:
    """Values of one metric definition over seconds since each training job started."""
    return _single(data, lambda rd: _metric_series(rd, metric, linked=False))
