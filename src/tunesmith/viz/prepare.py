"""The tables a report is drawn from, computed once for all charts.

Every chart reads named datasets embedded once in the report: ``trials`` (one row per training
job, all of them), ``best`` (the steps of each job's best-so-far line), ``curves`` (intermediate
metric values of a sample of training jobs) and ``importance``. Large jobs are thinned where the
browser would draw one mark per row: point layers draw the rows flagged ``shown`` (the best
trials of each job plus an even random sample of the rest) and learning curves keep a bounded
number of training jobs. Lines, densities, the timeline and the tables use every row; the
charts say when they show a sample.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd

from tunesmith.space import Parameter, SearchSpace
from tunesmith.viz.data import TuningJobData, check_comparable
from tunesmith.viz.importance import importance, unit_positions

DEFAULT_MAX_POINTS = 2000
DEFAULT_MAX_CURVES = 150
HEATMAP_BINS = 6
_SAMPLE_SEED = 20240607


@dataclass(frozen=True, eq=False)
class ReportData:
    """The prepared tables of one report and what the charts need to know about them."""

    jobs: tuple[TuningJobData, ...]
    objective_name: str
    minimize: bool
    space: SearchSpace
    fields: dict[str, str]
    trials: pd.DataFrame
    best: pd.DataFrame
    curves: pd.DataFrame
    importance: pd.DataFrame
    heatmap: tuple[str, str] | None
    metric_names: tuple[str, ...]
    curve_jobs: int
    curve_jobs_total: int
    notes: tuple[str, ...] = field(default=())

    @property
    def job_names(self) -> list[str]:
        return [job.name for job in self.jobs]

    @property
    def scored(self) -> pd.DataFrame:
        return self.trials[self.trials["objective"].notna()]

    @property
    def points_shown(self) -> int:
        return int(self.trials["shown"].sum())

    @property
    def sample_note(self) -> str | None:
        """What a thinned point layer says about itself, or None when every trial is drawn."""
        total = len(self.scored)
        shown = int(self.scored["shown"].sum())
        if shown == total:
            return None
        return (
            f"points: {shown:,} of {total:,} scored training jobs "
            "(the best of each job + a random sample)"
        )

    def datasets(self) -> dict[str, Rows]:
        return {
            "trials": Rows(self.trials),
            "best": Rows(self.best),
            "curves": Rows(self.curves),
            "importance": Rows(self.importance),
        }


class Rows:
    """A dataset embedded in a chart, converted to JSON rows only when the spec is written.

    Altair walks every value of a plain list of rows on each conversion; this object is handed
    over whole (Altair treats anything with ``_schema`` and ``to_dict`` as already converted).
    """

    _schema: ClassVar[dict[str, str]] = {"type": "array"}

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def to_dict(self, *args: object, **kwargs: object) -> list[dict[str, object]]:
        # pandas writes NaN as null, which Vega reads as a missing value.
        return json.loads(self.frame.to_json(orient="records", double_precision=7))


def field_names(names: Sequence[str]) -> dict[str, str]:
    """A Vega-safe field name per hyperparameter (dots and brackets would mean nesting)."""
    taken: set[str] = set()
    fields: dict[str, str] = {}
    for name in names:
        base = "hp_" + re.sub(r"[^0-9A-Za-z_]", "_", name)
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        taken.add(candidate)
        fields[name] = candidate
    return fields


def merged_space(jobs: Sequence[TuningJobData]) -> SearchSpace:
    """The union of the jobs' tuned hyperparameters; ranges widen to cover every job."""
    merged: dict[str, Parameter] = {}
    for job in jobs:
        for p in job.space.parameters:
            seen = merged.get(p.name)
            if seen is None:
                merged[p.name] = p
            elif p.kind == "Categorical":
                values = seen.values + tuple(v for v in p.values if v not in seen.values)
                merged[p.name] = Parameter(p.name, "Categorical", values=values)
            else:
                merged[p.name] = Parameter(
                    p.name,
                    seen.kind,
                    min(seen.low, p.low),
                    max(seen.high, p.high),
                    scaling=seen.scaling,
                )
    return SearchSpace(tuple(merged.values()))


def assign_slots(start: pd.Series, end: pd.Series) -> np.ndarray:
    """The lowest free slot of each training job, replaying starts and ends in time order."""
    order = np.argsort(start.to_numpy(), kind="stable")
    ends = end.to_numpy(dtype=float)
    starts = start.to_numpy(dtype=float)
    slots = np.zeros(len(start), dtype=int)
    busy: list[tuple[float, int]] = []
    free: list[int] = []
    used = 0
    for i in order:
        while busy and busy[0][0] <= starts[i]:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            slot = heapq.heappop(free)
        else:
            slot, used = used, used + 1
        slots[i] = slot
        heapq.heappush(busy, (ends[i], slot))
    return slots + 1


def _epoch_ms(column: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(column, utc=True)
    ms = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(milliseconds=1)
    return ms.round()


def _job_table(job: TuningJobData, fields: dict[str, str]) -> pd.DataFrame:
    t = job.trials.sort_values("TrainingStartTime", kind="stable")
    start = _epoch_ms(t["TrainingStartTime"])
    end = _epoch_ms(t["TrainingEndTime"])
    last_seen = (
        float(np.nanmax(np.concatenate([start.to_numpy(), end.to_numpy()]))) if len(t) else 0.0
    )
    objective = t["FinalObjectiveValue"].astype(float)
    running = objective.cummin() if job.minimize else objective.cummax()
    table = pd.DataFrame(
        {
            "job": job.name,
            "strategy": job.strategy,
            "trial": t["TrainingJobName"].astype(str),
            "status": t["TrainingJobStatus"].astype(str),
            "objective": objective.round(6),
            "best": running.round(6),
            "order": np.arange(1, len(t) + 1),
            "start": start,
            "end": end.fillna(last_seen),
            "elapsed": t["TrainingElapsedTimeSeconds"].astype(float).round(1),
        }
    )
    # A training job still running holds its slot: no end for the replay, the last time seen
    # for drawing.
    table["slot"] = assign_slots(table["start"], end.fillna(np.inf)) if len(t) else []
    for p in job.space.parameters:
        column = t[p.name]
        table[fields[p.name]] = (
            column.astype(str) if p.kind == "Categorical" else column.astype(float)
        )
    return table.reset_index(drop=True)


def _flag_shown(table: pd.DataFrame, minimize: bool, max_points: int) -> pd.Series:
    """Which scored rows the point layers draw: all, or the best tenth plus a random sample."""
    scored = table["objective"].notna()
    total = int(scored.sum())
    if total <= max_points:
        return scored
    shown = pd.Series(False, index=table.index)
    rng = np.random.default_rng(_SAMPLE_SEED)
    for _, rows in table[scored].groupby("job", sort=False):
        quota = max(1, round(max_points * len(rows) / total))
        ranked = rows["objective"].sort_values(ascending=minimize)
        top = ranked.index[: max(1, quota // 10)]
        rest = ranked.index[len(top) :]
        picked = rng.choice(rest.to_numpy(), size=min(len(rest), quota - len(top)), replace=False)
        shown[top] = True
        shown[picked] = True
    return shown


def _best_steps(table: pd.DataFrame) -> pd.DataFrame:
    """The rows where a job's best-so-far changes, plus each job's last start to end the line."""
    parts = []
    for _, rows in table.groupby("job", sort=False):
        best = rows[rows["best"].notna()]
        if best.empty:
            continue
        changed = best["best"].ne(best["best"].shift())
        steps = best[changed]
        parts.append(pd.concat([steps, best.tail(1)]).drop_duplicates("order"))
    columns = ["job", "strategy", "order", "start", "best", "trial"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts)[columns].reset_index(drop=True)


def _curve_table(
    jobs: Sequence[TuningJobData],
    table: pd.DataFrame,
    fields: dict[str, str],
    minimize: bool,
    max_curves: int,
) -> tuple[pd.DataFrame, int, int]:
    """Metric series of the training jobs whose curves are drawn, in seconds since their start."""
    frames = [job.metrics for job in jobs if job.metrics is not None and not job.metrics.empty]
    if not frames:
        columns = [
            "trial",
            "metric",
            "step",
            "value",
            "seconds",
            "job",
            "status",
            "start",
            *fields.values(),
        ]
        return pd.DataFrame(columns=columns), 0, 0
    metrics = pd.concat(frames, ignore_index=True)
    with_curves = table[table["trial"].isin(set(metrics["TrainingJobName"]))]
    total = len(with_curves)
    if total > max_curves:
        # Keep the strongest curves of each job, and a random sample of the rest.
        flagged = _flag_shown(with_curves, minimize, max_curves)
        keep = set(with_curves.loc[flagged, "trial"])
        keep |= set(
            with_curves.loc[with_curves["objective"].isna(), "trial"].head(max_curves // 10)
        )
    else:
        keep = set(with_curves["trial"])
    metrics = metrics[metrics["TrainingJobName"].isin(keep)]
    start = table.set_index("trial")["start"]
    seconds = (_epoch_ms(metrics["Timestamp"]) - metrics["TrainingJobName"].map(start)) / 1000.0
    curves = pd.DataFrame(
        {
            "trial": metrics["TrainingJobName"].astype(str),
            "metric": metrics["MetricName"].astype(str),
            "step": metrics["Step"].astype(int),
            "value": metrics["Value"].astype(float).round(6),
            "seconds": seconds.round(1),
        }
    )
    # Each row carries the fields the brush tests (start time, hyperparameters) and the colours.
    context = table[["trial", "job", "status", "start", *fields.values()]]
    curves = curves.merge(context, on="trial", how="left")
    return curves, len(keep), total


def _heatmap_pair(imp: pd.DataFrame, space: SearchSpace) -> tuple[str, str] | None:
    """The two hyperparameters with the largest main effect in any job."""
    if len(space) < 2:
        return None
    main = imp[imp["term"] == "main"]
    ranked = main.groupby("parameter")["share"].max().reindex(space.names).fillna(0.0)
    top = ranked.sort_values(ascending=False, kind="stable").index[:2]
    return top[0], top[1]


def _bin_labels(param: Parameter, values: pd.Series) -> pd.Series:
    """The lower edge of each value's bin on the parameter's own scale (categoricals as is)."""
    if param.kind == "Categorical":
        return values
    if param.kind == "Integer" and param.high - param.low < HEATMAP_BINS:
        return values
    position = unit_positions(param, values)
    index = np.clip(np.floor(position * HEATMAP_BINS), 0, HEATMAP_BINS - 1)
    edges = np.array([param.from_unit(i / HEATMAP_BINS) for i in range(HEATMAP_BINS)], dtype=float)
    labels = pd.Series(np.nan, index=values.index)
    valid = ~np.isnan(index)
    labels[valid] = edges[index[valid].astype(int)]
    return labels.map(lambda v: float(f"{v:.3g}") if pd.notna(v) else v)


def prepare(
    jobs: Sequence[TuningJobData],
    *,
    max_points: int = DEFAULT_MAX_POINTS,
    max_curves: int = DEFAULT_MAX_CURVES,
) -> ReportData:
    """All tables of a report of one or several comparable tuning jobs."""
    jobs = tuple(jobs)
    check_comparable(jobs)
    space = merged_space(jobs)
    fields = field_names(space.names)
    tables = [_job_table(job, fields) for job in jobs]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    minimize = jobs[0].minimize
    table["shown"] = _flag_shown(table, minimize, max_points)
    best = _best_steps(table)
    # Marks are drawn in data order: worst first puts the best training jobs on top.
    table = table.sort_values(
        "objective", ascending=not minimize, na_position="first", kind="stable"
    )
    parts = [
        importance(job.space, job.trials, "FinalObjectiveValue").assign(job=job.name)
        for job in jobs
    ]
    imp = pd.concat(parts, ignore_index=True)
    imp["share"] = imp["share"].astype(float).round(4)
    pair = _heatmap_pair(imp, space)
    if pair is not None:
        for name in pair:
            table["bin_" + fields[name]] = _bin_labels(space[name], table[fields[name]])
    curves, curve_jobs, curve_total = _curve_table(jobs, table, fields, minimize, max_curves)
    notes = tuple(
        f"{job.name}: no training job has reported {job.objective_name} yet"
        for job in jobs
        if job.scored.empty
    )
    return ReportData(
        jobs=jobs,
        objective_name=jobs[0].objective_name,
        minimize=minimize,
        space=space,
        fields=fields,
        trials=table,
        best=best,
        curves=curves,
        importance=imp,
        heatmap=pair,
        metric_names=tuple(sorted(curves["metric"].unique())) if len(curves) else (),
        curve_jobs=curve_jobs,
        curve_jobs_total=curve_total,
        notes=notes,
    )


def is_reverse_log(param: Parameter) -> bool:
    return param.kind != "Categorical" and param.warping == "ReverseLogarithmic"


def is_log(param: Parameter) -> bool:
    return param.kind != "Categorical" and param.warping == "Logarithmic"


def log_domain(param: Parameter) -> tuple[float, float]:
    """Axis bounds of a log-scaled parameter; integer ranges get their half-step margin."""
    margin = 0.5 if param.kind == "Integer" else 0.0
    return param.low - margin, param.high + margin
