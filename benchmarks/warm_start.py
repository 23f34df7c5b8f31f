"""Warm start: a child started from a 30-trial parent against a cold job with the same budget.

For every problem and seed, a Bayesian parent runs 30 trials. Then, with the same budget:
- the tunesmith child is told the parent's trials first (as warm start does) and proposes on;
- a cold tunesmith job starts from nothing;
- Optuna re-uses the parent's trials the way its users do (``study.add_trials`` into a new
  GPSampler study), the nearest peer practice.
Printed per problem: median trial loss of each job (lower is better), and how many trials each
needed to match the parent's best, against how many the parent needed. Goals: the child's median
trial is better than the cold job's on >= 80% of problems, and the child matches the parent's
best in <= 1/3 of the trials the parent needed.

    python benchmarks/warm_start.py [--seeds 3] [--budget 30] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from _problems import Problem, optuna_distributions, sklearn_problems, synthetic_problems

from tunesmith.strategies.base import Trial
from tunesmith.strategies.bayesian import BayesianStrategy

RESULTS = Path(__file__).parent / "results"


def run(strategy: BayesianStrategy, problem: Problem, budget: int, tag: str) -> list[Trial]:
    trials = []
    for i in range(budget):
        config = strategy.ask(1)[0]
        trial = Trial(f"{tag}-{i:03d}", config, problem.evaluate(config), source=tag)
        strategy.tell([trial])
        trials.append(trial)
    return trials


def optuna_child(problem: Problem, parent: list[Trial], seed: int, budget: int) -> list[float]:
    import optuna
    from _problems import optuna_sampler

    distributions = optuna_distributions(problem.space)
    study = optuna.create_study(sampler=optuna_sampler("Optuna GP", seed))
    study.add_trials(
        [
            optuna.trial.create_trial(params=t.config, distributions=distributions, value=t.loss)
            for t in parent
        ]
    )
    losses = []
    for _ in range(budget):
        trial = study.ask(distributions)
        loss = problem.evaluate(dict(trial.params))
        study.tell(trial, loss)
        losses.append(loss)
    return losses


def trials_to_reach(losses: list[float], target: float) -> int | None:
    """1-based number of trials until one is at least as good as ``target``."""
    for i, loss in enumerate(losses, 1):
        if loss <= target + 1e-12:
            return i
    return None


def measure(problem: Problem, seed: int, budget: int) -> dict[str, object]:
    space = problem.space
    parent = run(BayesianStrategy(space, seed=seed), problem, budget, "parent")
    parent_losses = [t.loss for t in parent]
    best = min(parent_losses)
    child_strategy = BayesianStrategy(space, seed=seed + 1000)
    child_strategy.tell(parent)
    child = [t.loss for t in run(child_strategy, problem, budget, "child")]
    cold = [t.loss for t in run(BayesianStrategy(space, seed=seed + 1000), problem, budget, "cold")]
    optuna = optuna_child(problem, parent, seed + 1000, budget)
    return {
        "parent_needed": trials_to_reach(parent_losses, best),
        "child_needed": trials_to_reach(child, best),
        "optuna_needed": trials_to_reach(optuna, best),
        "child_median": statistics.median(child),
        "cold_median": statistics.median(cold),
        "optuna_median": statistics.median(optuna),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="synthetic problems only")
    args = parser.parse_args()
    problems = synthetic_problems()
    if not args.quick:
        problems += sklearn_problems(("DT", "kNN"), ("wine",))
    started = time.monotonic()
    rows = []
    for problem in problems:
        runs = [measure(problem, seed, args.budget) for seed in range(args.seeds)]
        ratios = [
            (r["child_needed"] or 10 * args.budget) / r["parent_needed"] for r in runs
        ]
        optuna_ratios = [
            (r["optuna_needed"] or 10 * args.budget) / r["parent_needed"] for r in runs
        ]
        rows.append(
            {
                "problem": problem.name,
                "child_median": statistics.median(r["child_median"] for r in runs),
                "cold_median": statistics.median(r["cold_median"] for r in runs),
                "optuna_median": statistics.median(r["optuna_median"] for r in runs),
                "child_better": sum(r["child_median"] < r["cold_median"] for r in runs),
                "match_ratio": float(np.median(ratios)),
                "optuna_match_ratio": float(np.median(optuna_ratios)),
                "parent_needed": statistics.median(r["parent_needed"] for r in runs),
            }
        )
        print(f"{problem.name}: done", file=sys.stderr, flush=True)
    better = sum(r["child_median"] < r["cold_median"] for r in rows)
    median_ratio = float(np.median([r["match_ratio"] for r in rows]))
    lines = [
        f"# Warm start ({args.seeds} seeds, parent {args.budget} trials, child and cold "
        f"{args.budget} trials)",
        "",
        "Median trial loss of each job (lower is better); trials to match the parent's best as a "
        "share of the trials the parent needed (never matched counts as 10x the budget).",
        "",
        "| problem | child median | cold median | Optuna add_trials median | child better (seeds) "
        "| child trials to parent's best / parent's | Optuna's / parent's |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['problem']} | {r['child_median']:.4g} | {r['cold_median']:.4g} | "
            f"{r['optuna_median']:.4g} | {r['child_better']}/{args.seeds} | "
            f"{r['match_ratio']:.2f} | {r['optuna_match_ratio']:.2f} |"
        )
    lines += [
        "",
        f"- Child's median trial better than the cold job's on {better}/{len(rows)} problems "
        f"({better / len(rows):.0%}; goal >= 80%).",
        f"- Trials to match the parent's best, median over problems: {median_ratio:.2f} of the "
        "parent's (goal <= 0.33).",
        f"- {time.monotonic() - started:.0f} s in all.",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "warm_start.md").write_text(text + "\n")
    (RESULTS / "warm_start.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
