"""Multi-fidelity tuning: Random, Random + early stopping, Hyperband and Bayesian against
Optuna's MedianPruner and HyperbandPruner, on the same tasks in the same run.

Every method drives the same simulated cluster: ``--workers`` parallel slots, each training job
printing one objective value per epoch, the tuner deciding after each value whether the job goes
on (tunesmith's strategies through their ask / report / tell interface, exactly as the engine
calls them; Optuna through its ask-and-tell interface, each trial enqueued with the configuration
tunesmith's Random draws next for the same seed, so that per seed every random-sampling method
trains the same configurations in the same order and only the stopping differs). A job's final
objective is its last value, stopped or not, as in SageMaker.

Tasks: three synthetic learning-curve families with known final values (power-law curves whose
fast starters end worse, saturating curves whose best configurations start slowly, and curves
that overfit late), and the ``examples/digits-hyperband`` MLP, whose epochs are really trained
(each configuration once per run, shared by the methods that draw it) and timed.

Measured per task, as the median over seeds, against Random with ``--jobs`` full-length jobs:
- epochs and simulated wall time until a job ends at or below Random's best final loss;
- best final loss after 1/3 of Random's epochs and after all of them (equal compute);
- for early stopping with the same number of jobs as Random: epochs saved and the best final;
- how well a value at each of Hyperband's rungs predicts the final one, over Random's
  configurations: what decides whether stopping at that rung can work on the task.
Every task's loss is an error rate (1 - accuracy on digits), so "within 0.5% of Random's best"
is judged on the accuracy 1 - loss.

    python benchmarks/multifidelity.py [--seeds 20] [--jobs 60] [--workers 4] [--digits-seeds 5]
        [--digits-jobs 30] [--bayesian-seeds 2] [--tasks powerlaw saturating overfitting digits]
"""

from __future__ import annotations

import argparse
import heapq
import importlib.util
import json
import math
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import optuna
from scipy.stats import spearmanr

from tunesmith.early_stopping import MedianStoppingRule
from tunesmith.space import Config, SearchSpace
from tunesmith.strategies import Strategy, Trial, create_strategy
from tunesmith.strategies.hyperband import brackets
from tunesmith.strategies.random import RandomStrategy

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

# -- tasks -------------------------------------------------------------------------------------


class Curve(Protocol):
    def loss(self, step: int) -> float: ...

    def seconds(self, step: int) -> float: ...


@dataclass
class Task:
    name: str
    ranges: dict[str, Any]
    max_resource: int
    curve: Callable[[Config], Curve]
    unit: str = "epochs"
    """Unit of simulated wall time."""
    describe_loss: Callable[[float], str] = lambda loss: f"{loss:.4f}"

    @property
    def space(self) -> SearchSpace:
        return SearchSpace.from_parameter_ranges(self.ranges)


@dataclass
class SyntheticCurve:
    values: np.ndarray

    def loss(self, step: int) -> float:
        return float(self.values[step - 1])

    def seconds(self, step: int) -> float:
        return 1.0


SYNTHETIC_RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Logarithmic"},
        {"Name": "dropout", "MinValue": "0", "MaxValue": "0.8"},
    ],
    "IntegerParameterRanges": [
        {"Name": "width", "MinValue": "16", "MaxValue": "512", "ScalingType": "Logarithmic"}
    ],
    "CategoricalParameterRanges": [{"Name": "optimizer", "Values": ["sgd", "adam", "rmsprop"]}],
}
_OPTIMIZER = {"sgd": 0.04, "adam": 0.0, "rmsprop": 0.015}


def _units(space: SearchSpace, config: Config) -> tuple[float, float, float, float]:
    return (
        space["lr"].to_unit(config["lr"]),
        space["width"].to_unit(config["width"]),
        space["dropout"].to_unit(config["dropout"]),
        _OPTIMIZER[str(config["optimizer"])],
    )


def _noise(config: Config, size: int, scale: float) -> np.ndarray:
    key = zlib.crc32(repr(sorted(config.items())).encode())
    return np.random.default_rng(key).normal(0.0, scale, size)


def _finish(values: np.ndarray, lr: float, config: Config) -> SyntheticCurve:
    """Noise, and divergence: with the top 15% of the log learning-rate range the loss stays
    at chance level, as with real wide ranges."""
    if lr > 0.85:
        values = np.full_like(values, 0.9)
    return SyntheticCurve(values + _noise(config, len(values), 0.004))


def powerlaw_task(resource: int = 27) -> Task:
    """Losses ``f + a * t**-alpha``: a high learning rate learns fast and ends worse."""
    space = SearchSpace.from_parameter_ranges(SYNTHETIC_RANGES)

    def curve(config: Config) -> Curve:
        lr, width, dropout, opt = _units(space, config)
        final = 0.05 + 1.0 * (lr - 0.6) ** 2 + 0.3 * (width - 0.75) ** 2
        final += 0.2 * (dropout - 0.3) ** 2 + opt
        alpha = 0.25 + 1.5 * lr
        t = np.arange(1, resource + 1)
        values = final + (0.6 + 0.3 * (1 - width)) * (t**-alpha - resource**-alpha)
        return _finish(values, lr, config)

    return Task("powerlaw", SYNTHETIC_RANGES, resource, curve)


def saturating_task(resource: int = 27) -> Task:
    """Errors ``f + (1 - f) * exp(-t / tau)``: the best learning rates are the slow ones."""
    space = SearchSpace.from_parameter_ranges(SYNTHETIC_RANGES)

    def curve(config: Config) -> Curve:
        lr, width, dropout, opt = _units(space, config)
        final = 0.03 + 0.8 * (lr - 0.35) ** 2 + 0.4 * (width - 0.6) ** 2
        final += 0.16 * (dropout - 0.5) ** 2 + opt
        tau = 0.5 + 12.0 * (1 - lr) ** 2 + 2.0 * dropout
        t = np.arange(1, resource + 1)
        values = final + (1 - final) * np.exp(-t / tau)
        return _finish(values, lr, config)

    return Task("saturating", SYNTHETIC_RANGES, resource, curve)


def overfitting_task(resource: int = 81) -> Task:
    """Losses that fall, then rise again after an epoch that comes earlier with less dropout."""
    space = SearchSpace.from_parameter_ranges(SYNTHETIC_RANGES)

    def curve(config: Config) -> Curve:
        lr, width, dropout, opt = _units(space, config)
        floor = 0.05 + 0.8 * (lr - 0.55) ** 2 + 0.2 * (width - 0.8) ** 2 + opt
        tau = 1.0 + 15.0 * (1 - lr) ** 2
        onset = 5 + 70 * dropout
        rise = 0.15 * width * (1 - dropout)
        t = np.arange(1, resource + 1)
        values = floor + np.exp(-t / tau) + rise * np.maximum(0, t - onset) / resource
        values = values + 0.05 * dropout
        return _finish(values, lr, config)

    return Task("overfitting", SYNTHETIC_RANGES, resource, curve)


def _load_example() -> Any:
    path = ROOT / "examples" / "digits-hyperband" / "train.py"
    spec = importlib.util.spec_from_file_location("digits_hyperband_train", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class TrainedCurve:
    """The example's real learning curve, trained lazily epoch by epoch and timed."""

    epochs: Iterator[float]
    values: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def _extend(self, step: int) -> None:
        while len(self.values) < step:
            started = time.perf_counter()
            self.values.append(1.0 - next(self.epochs))
            self.times.append(time.perf_counter() - started)

    def loss(self, step: int) -> float:
        self._extend(step)
        return self.values[step - 1]

    def seconds(self, step: int) -> float:
        self._extend(step)
        return self.times[step - 1]


def digits_task(resource: int = 27) -> Task:
    """The digits MLP of examples/digits-hyperband; loss = 1 - validation accuracy."""
    from sklearn.datasets import load_digits

    example = _load_example()
    digits = load_digits()
    data = example.split(digits.data, digits.target)
    ranges = {
        "IntegerParameterRanges": [
            {"Name": "hidden", "MinValue": "8", "MaxValue": "128", "ScalingType": "Logarithmic"},
            {
                "Name": "batch-size",
                "MinValue": "64",
                "MaxValue": "512",
                "ScalingType": "Logarithmic",
            },
        ],
        "ContinuousParameterRanges": [
            {
                "Name": "alpha",
                "MinValue": "0.000001",
                "MaxValue": "1",
                "ScalingType": "Logarithmic",
            },
            {
                "Name": "learning-rate",
                "MinValue": "0.00001",
                "MaxValue": "0.1",
                "ScalingType": "Logarithmic",
            },
        ],
    }
    cache: dict[tuple, TrainedCurve] = {}

    def curve(config: Config) -> Curve:
        key = tuple(sorted(config.items()))
        if key not in cache:
            model = example.make_model(
                int(config["hidden"]),
                float(config["alpha"]),
                float(config["learning-rate"]),
                int(config["batch-size"]),
            )
            cache[key] = TrainedCurve(example.epochs(model, data, resource))
        return cache[key]

    return Task(
        "digits-mlp",
        ranges,
        resource,
        curve,
        unit="s",
        describe_loss=lambda loss: f"{1 - loss:.4f} acc",
    )


# -- tuners: one interface over tunesmith and Optuna -------------------------------------------


class Tuner(Protocol):
    def start(self) -> tuple[str, Config]: ...

    def step(self, trial_id: str, step: int, loss: float) -> bool: ...

    def end(self, trial_id: str, loss: float) -> None: ...


class Tunesmith:
    """A tunesmith strategy plus stoppers, called as the engine calls them."""

    def __init__(self, strategy: Strategy, early_stopping: bool) -> None:
        self.strategy = strategy
        self.stoppers: list[Any] = [strategy]
        if early_stopping:
            self.stoppers.append(MedianStoppingRule())
        self.configs: dict[str, Config] = {}

    def start(self) -> tuple[str, Config]:
        config = self.strategy.ask(1, list(self.configs.values()))[0]
        trial_id = f"bench-{self.strategy.n_asked:03d}-sim"
        self.configs[trial_id] = config
        return trial_id, config

    def step(self, trial_id: str, step: int, loss: float) -> bool:
        reasons = [s.report(trial_id, step, loss) for s in self.stoppers]
        return any(r is not None for r in reasons)

    def end(self, trial_id: str, loss: float) -> None:
        trial = Trial(trial_id, self.configs.pop(trial_id), loss)
        for stopper in self.stoppers:
            stopper.tell([trial])


def _distributions(space: SearchSpace) -> dict[str, optuna.distributions.BaseDistribution]:
    out: dict[str, optuna.distributions.BaseDistribution] = {}
    for p in space.parameters:
        log = p.warping == "Logarithmic"
        if p.kind == "Categorical":
            out[p.name] = optuna.distributions.CategoricalDistribution(list(p.values))
        elif p.kind == "Integer":
            out[p.name] = optuna.distributions.IntDistribution(int(p.low), int(p.high), log=log)
        else:
            out[p.name] = optuna.distributions.FloatDistribution(p.low, p.high, log=log)
    return out


class Optuna:
    """An Optuna study and a pruner, through ask-and-tell.

    Each trial is enqueued with the configuration tunesmith's Random search draws next for the
    same seed, so that Optuna's pruners judge exactly the configurations, in the same order, that
    Random, Random + early stopping and Hyperband train: per seed, only the stopping differs.
    """

    def __init__(self, space: SearchSpace, pruner: optuna.pruners.BasePruner, seed: int) -> None:
        self.study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed), pruner=pruner)
        self.distributions = _distributions(space)
        self.sequence = RandomStrategy(space, seed=seed)
        self.trials: dict[str, optuna.Trial] = {}
        self.pruned: set[str] = set()

    def start(self) -> tuple[str, Config]:
        self.study.enqueue_trial(self.sequence.ask(1)[0])
        trial = self.study.ask(self.distributions)
        trial_id = str(trial.number)
        self.trials[trial_id] = trial
        return trial_id, dict(trial.params)

    def step(self, trial_id: str, step: int, loss: float) -> bool:
        trial = self.trials[trial_id]
        trial.report(loss, step)
        if trial.should_prune():
            self.pruned.add(trial_id)
            return True
        return False

    def end(self, trial_id: str, loss: float) -> None:
        trial = self.trials.pop(trial_id)
        if trial_id in self.pruned:
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            self.study.tell(trial, loss)


# -- the simulated cluster ----------------------------------------------------------------------


@dataclass
class End:
    time: float
    epochs: int
    loss: float


@dataclass
class Run:
    ends: list[End]
    epochs: int
    time: float
    jobs: int
    overhead: float
    """Real seconds spent inside the tuner's calls."""

    def best_within(self, epochs: float) -> float:
        losses = [e.loss for e in self.ends if e.epochs <= epochs]
        return min(losses) if losses else math.inf

    def reach(self, target: float, budget: float) -> End | None:
        """The first job to end at or below ``target`` within ``budget`` epochs."""
        return next((e for e in self.ends if e.loss <= target + 1e-12 and e.epochs <= budget), None)


def simulate(
    tuner: Tuner, task: Task, workers: int, *, max_jobs: int | None, budget: int | None
) -> Run:
    """Run jobs on ``workers`` slots until ``max_jobs`` jobs or ``budget`` epochs are used."""
    clock, epochs, created, overhead = 0.0, 0, 0, 0.0
    ends: list[End] = []
    running: dict[str, tuple[Curve, int]] = {}
    events: list[tuple[float, int, str]] = []

    def may_launch() -> bool:
        if max_jobs is not None and created >= max_jobs:
            return False
        return budget is None or epochs < budget

    def fill() -> None:
        nonlocal created, overhead
        while len(running) < workers and may_launch():
            started = time.perf_counter()
            trial_id, config = tuner.start()
            overhead += time.perf_counter() - started
            created += 1
            curve = task.curve(config)
            running[trial_id] = (curve, 0)
            heapq.heappush(events, (clock + curve.seconds(1), created, trial_id))

    fill()
    while events:
        clock, order, trial_id = heapq.heappop(events)
        curve, done = running[trial_id]
        done += 1
        epochs += 1
        loss = curve.loss(done)
        started = time.perf_counter()
        stop = tuner.step(trial_id, done, loss) or done >= task.max_resource
        if stop:
            tuner.end(trial_id, loss)
        overhead += time.perf_counter() - started
        if stop:
            del running[trial_id]
            ends.append(End(clock, epochs, loss))
            fill()
        else:
            running[trial_id] = (curve, done)
            heapq.heappush(events, (clock + curve.seconds(done + 1), order, trial_id))
    return Run(ends, epochs, clock, created, overhead)


# -- methods ------------------------------------------------------------------------------------


def _ours(strategy: str, early_stopping: bool) -> Callable[[Task, int], Tuner]:
    def make(task: Task, seed: int) -> Tuner:
        options = (
            {"min_resource": 1, "max_resource": task.max_resource}
            if strategy == "Hyperband"
            else {}
        )
        return Tunesmith(
            create_strategy(strategy, task.space, seed=seed, **options), early_stopping
        )

    return make


def _optuna(pruner: str) -> Callable[[Task, int], Tuner]:
    def make(task: Task, seed: int) -> Tuner:
        if pruner == "median":
            chosen: optuna.pruners.BasePruner = optuna.pruners.MedianPruner()
        else:
            chosen = optuna.pruners.HyperbandPruner(
                min_resource=1, max_resource=task.max_resource, reduction_factor=3
            )
        return Optuna(task.space, chosen, seed)

    return make


# (label, tuner factory, limited by the number of jobs rather than by compute)
METHODS: list[tuple[str, Callable[[Task, int], Tuner], bool]] = [
    ("Random", _ours("Random", False), True),
    ("Bayesian", _ours("Bayesian", False), True),
    ("Random + early stopping", _ours("Random", True), False),
    ("Hyperband", _ours("Hyperband", False), False),
    ("Optuna random + MedianPruner", _optuna("median"), False),
    ("Optuna random + HyperbandPruner", _optuna("hyperband"), False),
]
SAME_JOBS: list[tuple[str, Callable[[Task, int], Tuner]]] = [
    ("Random + early stopping", _ours("Random", True)),
    ("Optuna random + MedianPruner", _optuna("median")),
]


@dataclass
class Row:
    task: str
    method: str
    reached: str
    epochs_to_target: float
    """Fraction of B: the goal's "share of Random's total epochs"."""
    epochs_vs_random: float
    """Epochs to target over Random's epochs to target in the same seed."""
    time_to_target: float
    """Wall time to target over Random's makespan (all its jobs)."""
    best_third: float
    best_full: float
    jobs: float
    overhead_seconds: float


@dataclass
class RungRow:
    task: str
    resource: int
    spearman: float
    """Rank correlation between the loss at this resource and the final loss."""
    best_kept: float
    """Share of the best 5% of configurations (by final loss) in the best third at this resource."""


@dataclass
class SameJobsRow:
    task: str
    method: str
    epochs_fraction: float
    best: float
    best_random: float
    relative_gap: float
    """How much worse the best is, relative to Random's, in accuracy terms (1 - loss)."""


def _median(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.median(values) if len(finite) > len(values) / 2 else math.inf


def rung_agreement(task: Task, seeds: int, jobs: int) -> list[RungRow]:
    """How a rung would rank Random's configurations, against how they finish."""
    configs = [c for seed in range(seeds) for c in RandomStrategy(task.space, seed=seed).ask(jobs)]
    final = np.array([task.curve(c).loss(task.max_resource) for c in configs])
    best = final <= np.quantile(final, 0.05)
    out = []
    for resource in brackets(1, task.max_resource, 3)[0].rungs:
        at = np.array([task.curve(c).loss(resource) for c in configs])
        kept = at <= np.quantile(at, 1 / 3)
        out.append(
            RungRow(
                task=task.name,
                resource=resource,
                spearman=float(spearmanr(at, final).statistic),
                best_kept=float(kept[best].mean()),
            )
        )
    return out


def run_task(
    task: Task, seeds: int, jobs: int, workers: int, bayesian_seeds: int
) -> tuple[list[Row], list[SameJobsRow]]:
    budget = jobs * task.max_resource
    runs: dict[str, list[Run]] = {label: [] for label, _, _ in METHODS}
    same: dict[str, list[Run]] = {label: [] for label, _ in SAME_JOBS}
    for seed in range(seeds):
        for label, make, by_jobs in METHODS:
            if label == "Bayesian" and seed >= bayesian_seeds:
                continue  # its Gaussian process makes it the slowest method to simulate
            limits = (
                {"max_jobs": jobs, "budget": None}
                if by_jobs
                else {"max_jobs": None, "budget": budget}
            )
            runs[label].append(simulate(make(task, seed), task, workers, **limits))
        for label, make in SAME_JOBS:
            same[label].append(
                simulate(make(task, seed), task, workers, max_jobs=jobs, budget=None)
            )
    random_runs = runs["Random"]
    targets = [r.best_within(math.inf) for r in random_runs]
    rows = []
    for label, _, _ in METHODS:
        done = len(runs[label])
        reached = [r.reach(t, budget) for r, t in zip(runs[label], targets[:done], strict=True)]
        random_reached = [r.reach(t, budget) for r, t in zip(random_runs, targets, strict=True)]
        rows.append(
            Row(
                task=task.name,
                method=label,
                reached=f"{sum(e is not None for e in reached)}/{done}",
                epochs_to_target=_median([e.epochs / budget if e else math.inf for e in reached]),
                epochs_vs_random=_median(
                    [
                        e.epochs / own.epochs if e and own else math.inf
                        for e, own in zip(reached, random_reached[:done], strict=True)
                    ]
                ),
                time_to_target=_median(
                    [
                        e.time / rr.time if e else math.inf
                        for e, rr in zip(reached, random_runs[:done], strict=True)
                    ]
                ),
                best_third=statistics.median(r.best_within(budget / 3) for r in runs[label]),
                best_full=statistics.median(r.best_within(budget) for r in runs[label]),
                jobs=statistics.median(r.jobs for r in runs[label]),
                overhead_seconds=statistics.median(r.overhead for r in runs[label]),
            )
        )
    same_rows = []
    best_random = statistics.median(targets)
    for label, _ in SAME_JOBS:
        best = statistics.median(r.best_within(math.inf) for r in same[label])
        same_rows.append(
            SameJobsRow(
                task=task.name,
                method=label,
                epochs_fraction=statistics.median(r.epochs / budget for r in same[label]),
                best=best,
                best_random=best_random,
                relative_gap=(best - best_random) / (1 - best_random),
            )
        )
    return rows, same_rows


# -- report -------------------------------------------------------------------------------------


def _fmt(value: float, spec: str = ".3f") -> str:
    return "never" if not math.isfinite(value) else format(value, spec)


def render(
    rows: list[Row],
    same_rows: list[SameJobsRow],
    rung_rows: list[RungRow],
    args: argparse.Namespace,
) -> str:
    lines = [
        "# Multi-fidelity tuning benchmark",
        "",
        f"{args.workers} parallel workers; Random runs {args.jobs} full-length jobs "
        f"({args.digits_jobs} on digits-mlp), which sets the compute budget B (its total epochs) "
        f"for every method; medians over {args.seeds} seeds ({args.digits_seeds} on digits-mlp; "
        f"Bayesian: at most {args.bayesian_seeds}). Losses are minimised "
        "(digits-mlp: 1 - validation accuracy). Target = Random's best final loss in the same "
        "seed (medians over seeds: \"never\" when most seeds never reach it). Compute to target = "
        "epochs (summed over all jobs) until a job ends at or below the target, as a share of B "
        "and as a multiple of Random's own epochs to target; wall time to target = simulated "
        "time (synthetic tasks: one unit per epoch; digits-mlp: measured seconds per epoch) as a "
        "share of Random's makespan. Every random-sampling method, Optuna's included, trains the "
        "same configurations in the same order for a given seed, so only the stopping differs.",
        "",
        "| task | method | reached target | epochs to target / B | epochs to target / Random's "
        "| wall time to target / Random's makespan | best at B/3 | best at B | jobs "
        "| tuner overhead (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.task} | {r.method} | {r.reached} | {_fmt(r.epochs_to_target)} | "
            f"{_fmt(r.epochs_vs_random, '.2f')} | {_fmt(r.time_to_target)} | "
            f"{_fmt(r.best_third, '.4f')} | {_fmt(r.best_full, '.4f')} "
            f"| {r.jobs:.0f} | {r.overhead_seconds:.2f} |"
        )
    lines += [
        "",
        "Early stopping with the same number of jobs as Random (same configurations for "
        "tunesmith, whose Random draws the same sequence with or without early stopping):",
        "",
        "| task | method | epochs / Random's | best final loss | Random's best | gap in accuracy |",
        "|---|---|---|---|---|---|",
    ]
    for r in same_rows:
        lines.append(
            f"| {r.task} | {r.method} | {r.epochs_fraction:.3f} | {r.best:.4f} | "
            f"{r.best_random:.4f} | {r.relative_gap:+.2%} |"
        )
    lines += [
        "",
        "How a rung ranks Random's configurations against how they finish (Hyperband with "
        "MinResource 1 and reduction factor 3 judges at these resources; a rung can only "
        "save compute without losing the best if it keeps them):",
        "",
        "| task | resource | rank correlation with the final loss "
        "| best 5% (final) in the best third here |",
        "|---|---|---|---|",
    ]
    for r in rung_rows:
        lines.append(f"| {r.task} | {r.resource} | {r.spearman:.2f} | {r.best_kept:.0%} |")
    lines += ["", "## Goals", "", *goals(rows, same_rows)]
    return "\n".join(lines) + "\n"


def goals(rows: list[Row], same_rows: list[SameJobsRow]) -> list[str]:
    by = {(r.task, r.method): r for r in rows}
    same = {(r.task, r.method): r for r in same_rows}
    out = []
    for task in dict.fromkeys(r.task for r in rows):
        hb = by[(task, "Hyperband")]
        es = same[(task, "Random + early stopping")]
        es_b = by[(task, "Random + early stopping")]
        ohb = by[(task, "Optuna random + HyperbandPruner")]
        omed = by[(task, "Optuna random + MedianPruner")]
        pruners = (ohb, omed)
        checks = [
            (
                f"Hyperband reaches Random's best with {_fmt(hb.epochs_to_target)} of its epochs "
                "(goal <= 0.333)",
                hb.epochs_to_target <= 1 / 3,
            ),
            (
                f"early stopping saves {1 - es.epochs_fraction:.1%} of epochs (goal >= 30%), best "
                f"{es.relative_gap:+.2%} from Random's (goal within 0.5%)",
                es.epochs_fraction <= 0.7 and es.relative_gap <= 0.005,
            ),
            (
                f"Hyperband vs Optuna HyperbandPruner / MedianPruner at B/3: {hb.best_third:.4f} "
                f"vs {ohb.best_third:.4f} / {omed.best_third:.4f}, at B: {hb.best_full:.4f} vs "
                f"{ohb.best_full:.4f} / {omed.best_full:.4f}",
                all(
                    hb.best_third <= o.best_third and hb.best_full <= o.best_full for o in pruners
                ),
            ),
            (
                f"early stopping vs Optuna MedianPruner at B/3: {es_b.best_third:.4f} vs "
                f"{omed.best_third:.4f}, at B: {es_b.best_full:.4f} vs {omed.best_full:.4f}",
                es_b.best_third <= omed.best_third and es_b.best_full <= omed.best_full,
            ),
        ]
        out += [f"- {task}: {text}: **{'met' if ok else 'not met'}**" for text, ok in checks]
    return out


def _finite(row: dict[str, Any]) -> dict[str, Any]:
    """JSON has no infinity: a target never reached is ``null``."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--digits-seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--digits-jobs", type=int, default=30)
    parser.add_argument("--bayesian-seeds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--tasks", nargs="*", default=["powerlaw", "saturating", "overfitting", "digits"]
    )
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    factories = {
        "powerlaw": powerlaw_task,
        "saturating": saturating_task,
        "overfitting": overfitting_task,
        "digits": digits_task,
    }
    rows: list[Row] = []
    same_rows: list[SameJobsRow] = []
    rung_rows: list[RungRow] = []
    for name in args.tasks:
        task = factories[name]()
        seeds = args.digits_seeds if name == "digits" else args.seeds
        jobs = args.digits_jobs if name == "digits" else args.jobs
        started = time.perf_counter()
        task_rows, task_same = run_task(
            task, seeds, jobs, args.workers, min(seeds, args.bayesian_seeds)
        )
        rows += task_rows
        same_rows += task_same
        rung_rows += rung_agreement(task, seeds, jobs)
        print(f"{task.name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)

    text = render(rows, same_rows, rung_rows, args)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "multifidelity.md").write_text(text)
    (RESULTS / "multifidelity.json").write_text(
        json.dumps(
            {
                "settings": vars(args),
                "rows": [_finite(asdict(r)) for r in rows],
                "same_jobs": [_finite(asdict(r)) for r in same_rows],
                "rungs": [asdict(r) for r in rung_rows],
            },
            indent=2,
            allow_nan=False,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
