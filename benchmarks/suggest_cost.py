"""Time to propose one configuration after 100, 300 and 1000 observations in 8 dimensions.

tunesmith's Bayesian strategy against Optuna's GPSampler, in the same run and process, on the
same observations (random points of an 8-dimensional test function). Each optimiser is given the
history fresh, as after an engine restart, so the time includes fitting the model: the worst
case of one proposal. Prints a table and writes benchmarks/results/suggest_cost.{md,json}.

    .venv/bin/python benchmarks/suggest_cost.py [--sizes 100 300 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _problems import _cont, _ranges, optuna_distributions, optuna_sampler

from tunesmith.space import SearchSpace
from tunesmith.strategies.base import Trial
from tunesmith.strategies.bayesian import BayesianStrategy

RESULTS = Path(__file__).resolve().parent / "results"
DIMENSION = 8


def objective(x: np.ndarray) -> float:
    """A smooth, multimodal function on [0, 1]^8 (Levy-like)."""
    w = 1 + 3 * (x - 0.4)
    return float(np.sin(np.pi * w[0]) ** 2 + ((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(
        np.pi * w[:-1] + 1) ** 2)).sum() + (w[-1] - 1) ** 2)


def history(n: int, seed: int) -> tuple[SearchSpace, list[dict], list[float]]:
    space = SearchSpace.from_parameter_ranges(
        _ranges(*(_cont(f"x{i}", 0.0, 1.0) for i in range(DIMENSION)))
    )
    rng = np.random.default_rng(seed)
    points = rng.random((n, DIMENSION))
    configs = [{f"x{i}": float(v) for i, v in enumerate(p)} for p in points]
    return space, configs, [objective(p) for p in points]


def time_tunesmith(n: int, seed: int) -> float:
    space, configs, losses = history(n, seed)
    strategy = BayesianStrategy(space, seed=seed)
    pairs = zip(configs, losses, strict=True)
    strategy.tell([Trial(f"t{i}", c, y) for i, (c, y) in enumerate(pairs)])
    strategy.n_asked = n
    start = time.perf_counter()
    strategy.ask(1)
    return time.perf_counter() - start


def time_optuna(n: int, seed: int) -> float:
    import optuna

    space, configs, losses = history(n, seed)
    distributions = optuna_distributions(space)
    study = optuna.create_study(sampler=optuna_sampler("Optuna GP", seed))
    study.add_trials([
        optuna.trial.create_trial(params=c, distributions=distributions, value=y)
        for c, y in zip(configs, losses, strict=True)
    ])
    start = time.perf_counter()
    trial = study.ask(distributions)
    elapsed = time.perf_counter() - start
    study.tell(trial, objective(np.array([trial.params[f"x{i}"] for i in range(DIMENSION)])))
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    # Warm up both (imports, first-call compilation) so that only proposing is timed.
    time_tunesmith(20, 0)
    time_optuna(20, 0)
    rows = []
    for n in args.sizes:
        # Interleaved, so that a busy machine slows both alike.
        ours, theirs = [], []
        for seed in range(args.repeats):
            ours.append(time_tunesmith(n, seed))
            theirs.append(time_optuna(n, seed))
        row = {"observations": n, "dimension": DIMENSION,
               "tunesmith_seconds": statistics.median(ours),
               "optuna_gp_seconds": statistics.median(theirs)}
        row["ratio"] = row["tunesmith_seconds"] / row["optuna_gp_seconds"]
        rows.append(row)
        print(f"n={n}: tunesmith {row['tunesmith_seconds']:.3f}s, "
              f"Optuna GPSampler {row['optuna_gp_seconds']:.3f}s", flush=True)
    lines = [
        f"# Time to propose one point ({DIMENSION} dimensions, median of {args.repeats})", "",
        "| observations | tunesmith Bayesian (s) | Optuna GPSampler (s) | ratio |",
        "|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['observations']} | {r['tunesmith_seconds']:.3f} | "
              f"{r['optuna_gp_seconds']:.3f} | {r['ratio']:.2f} |" for r in rows]
    threads = {v: os.environ.get(v, "unset") for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    lines += ["", "Goal: ratio <= 0.33 at 1000 observations. Thread settings: "
              + ", ".join(f"{k}={v}" for k, v in threads.items()) + "."]
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "suggest_cost.md").write_text(table + "\n")
    (RESULTS / "suggest_cost.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
