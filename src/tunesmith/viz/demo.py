"""Synthetic tuning jobs, to try a report without a store and to size the report's limits.

The jobs imitate a random forest tuned on a digit-recognition task: an F1 score that rises with
the number of trees and falls with heavy regularisation, a few failures, training jobs stopped
early, and learning curves for three metric definitions. Random search samples the space
uniformly; "Bayesian" search drifts towards the best configuration found so far, which is enough
to make the two strategies look different on the charts.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from tunesmith.space import Config, Parameter, SearchSpace
from tunesmith.viz.data import METRIC_COLUMNS, TuningJobData

DEMO_SPACE = SearchSpace(
    (
        Parameter("n-estimators", "Integer", 5, 200),
        Parameter("max-depth", "Integer", 2, 30),
        Parameter("min-samples-leaf", "Integer", 1, 10, scaling="Logarithmic"),
        Parameter("min-impurity-decrease", "Continuous", 1e-6, 1e-1, scaling="Logarithmic"),
        Parameter("max-samples", "Continuous", 0.5, 0.999, scaling="ReverseLogarithmic"),
        Parameter("max-features", "Categorical", values=("sqrt", "log2", "auto")),
    )
)
DEMO_METRICS = ("valid-f1", "valid-precision", "valid-recall")
_EPOCHS = 10
_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _score(config: Config) -> float:
    """The noiseless final F1 score of a configuration."""
    trees = float(config["n-estimators"])
    depth = float(config["max-depth"])
    leaf = float(config["min-samples-leaf"])
    impurity = float(config["min-impurity-decrease"])
    samples = float(config["max-samples"])
    score = 0.975 - 0.25 * np.exp(-trees / 18.0)
    score -= 0.35 * max(0.0, np.log10(impurity) + 3.0) ** 2 / 4.0
    score -= 0.012 * np.log(leaf) * (depth / 30.0)  # deep trees suffer more from big leaves
    score -= 0.06 * max(0.0, 8.0 - depth) / 6.0
    score -= 0.02 * (1.0 - samples)
    score -= {"sqrt": 0.0, "log2": 0.008, "auto": 0.03}[str(config["max-features"])]
    return float(score)


def _propose(
    space: SearchSpace,
    strategy: str,
    rng: np.random.Generator,
    best: Config | None,
    progress: float,
) -> Config:
    if strategy != "Bayesian" or best is None or rng.random() < 0.25:
        return space.sample(rng)
    # Exploit: perturb the incumbent in the unit cube, more tightly as the job goes on.
    spread = 0.25 * (1.0 - 0.8 * progress)
    config: Config = {}
    for p in space.parameters:
        if p.kind == "Categorical":
            keep = rng.random() < 0.8
            config[p.name] = best[p.name] if keep else p.values[int(rng.integers(len(p.values)))]
        else:
            u = p.to_unit(best[p.name]) + rng.normal(0.0, spread)
            config[p.name] = p.from_unit(float(np.clip(u, 0.0, 1.0)))
    return config


def synthetic_tuning_job(
    name: str,
    strategy: str = "Random",
    n_trials: int = 200,
    max_parallel: int = 4,
    seed: int = 0,
    early_stopping: bool = True,
    failure_rate: float = 0.04,
    with_metrics: bool = True,
    warm_from: Sequence[TuningJobData] = (),
) -> TuningJobData:
    """A finished tuning job of ``n_trials`` training jobs run ``max_parallel`` at a time.

    A job warm-started ``warm_from`` parents begins when they have ended, from their best
    configuration.
    """
    rng = np.random.default_rng(seed)
    begin = _START
    best: Config | None = None
    best_score = -np.inf
    for parent in warm_from:
        begin = max(begin, parent.trials["TrainingEndTime"].max().to_pydatetime())
        top = parent.scored.nlargest(1, "FinalObjectiveValue")
        if len(top) and float(top["FinalObjectiveValue"].iloc[0]) > best_score:
            best = {p.name: top[p.name].iloc[0] for p in DEMO_SPACE.parameters}
            best_score = float(top["FinalObjectiveValue"].iloc[0])
    free_at = [(0.0, slot) for slot in range(max_parallel)]
    heapq.heapify(free_at)
    rows: list[dict[str, object]] = []
    metric_rows: list[dict[str, object]] = []
    finished_scores: list[float] = []
    for i in range(n_trials):
        config = _propose(DEMO_SPACE, strategy, rng, best, i / max(1, n_trials - 1))
        ready, slot = heapq.heappop(free_at)
        start = ready + float(rng.uniform(1.0, 4.0))
        duration = float(30.0 + 1.2 * float(config["n-estimators"]) * rng.lognormal(0.0, 0.25))
        final = _score(config) + float(rng.normal(0.0, 0.006))
        status = "Completed"
        epochs = _EPOCHS
        if rng.random() < failure_rate:
            status, epochs, duration = "Failed", 0, duration * float(rng.uniform(0.05, 0.3))
        curve = final - (final - 0.1) * np.exp(-np.arange(1, _EPOCHS + 1) / 2.2)
        curve = curve + rng.normal(0.0, 0.004, _EPOCHS)
        if status == "Completed" and early_stopping and len(finished_scores) >= 10:
            # The median rule: stop after epoch 3 when behind the median of earlier jobs.
            if curve[2] < np.median(finished_scores) - 0.05:
                status, epochs = "Stopped", 3
                duration *= epochs / _EPOCHS
        objective = float(curve[epochs - 1]) if epochs else np.nan
        if status == "Completed":
            finished_scores.append(float(curve[2]))
        if status != "Failed" and objective > best_score:
            best, best_score = config, objective
        heapq.heappush(free_at, (start + duration, slot))
        job_name = f"{name}-{i + 1:03d}-{int(rng.integers(16**8)):08x}"
        start_ts = begin + timedelta(seconds=start)
        rows.append(
            {
                **config,
                "TrainingJobName": job_name,
                "TrainingJobStatus": status,
                "FinalObjectiveValue": objective,
                "TrainingStartTime": start_ts,
                "TrainingEndTime": start_ts + timedelta(seconds=duration),
                "TrainingElapsedTimeSeconds": duration,
                "TuningJobName": name,
            }
        )
        for step in range(epochs):
            at = start_ts + timedelta(seconds=duration * (step + 1) / epochs)
            for metric, offset in zip(DEMO_METRICS, (0.0, 0.004, -0.003), strict=True):
                metric_rows.append(
                    {
                        "TrainingJobName": job_name,
                        "MetricName": metric,
                        "Timestamp": at,
                        "Value": float(curve[step] + offset),
                        "Step": step,
                    }
                )
    trials = pd.DataFrame(rows)
    for column in ("TrainingStartTime", "TrainingEndTime"):
        trials[column] = pd.to_datetime(trials[column], utc=True)
    metrics = pd.DataFrame(metric_rows, columns=list(METRIC_COLUMNS))
    metrics["Timestamp"] = pd.to_datetime(metrics["Timestamp"], utc=True)
    return TuningJobData(
        name=name,
        strategy=strategy,
        objective_name="valid-f1",
        objective_type="Maximize",
        space=DEMO_SPACE,
        trials=trials,
        metrics=metrics if with_metrics else None,
        parents=tuple(parent.name for parent in warm_from),
    )
