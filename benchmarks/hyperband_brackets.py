"""Which of Hyperband's brackets pays on which learning curves, in hindsight.

Hyperband spreads its training jobs over brackets that judge them from different resources on
(bracket 1 from MinResource, the last one never), because which one pays depends on how early
the learning curves rank the configurations, which no one knows beforehand. This runs, on the
learning-curve tasks of ``multifidelity.py`` and with its simulated cluster, every bracket
alone (all training jobs judged at that bracket's rungs) next to Hyperband, with Random's total
epochs as the budget: how far the best single bracket, chosen knowing the task, is from
Hyperband, and whether any bracket reaches Random's best within a third of its epochs.

    python benchmarks/hyperband_brackets.py [--seeds 20] [--jobs 60] [--workers 4]
        [--tasks powerlaw saturating overfitting]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import multifidelity as mf

from tunesmith.strategies.hyperband import Bracket, HyperbandStrategy

Maker = Callable[[mf.Task, int], mf.Tuner]
TASKS = {
    "powerlaw": mf.powerlaw_task,
    "saturating": mf.saturating_task,
    "overfitting": mf.overfitting_task,
    "digits": mf.digits_task,
}


class OneBracket(HyperbandStrategy):
    """Hyperband with every training job in one bracket (successive halving from its rungs)."""

    def __init__(self, *args: object, bracket: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.pinned = self.brackets[bracket]

    def bracket_of(self, trial_id: str) -> Bracket:
        return self.pinned


def measure(
    task: mf.Task, make: Maker, targets: list[float], budget: int, workers: int
) -> tuple[str, float, float]:
    """Seeds that reached the target, median epochs to it (share of the budget), median best
    at a third of the budget."""
    reached, thirds = [], []
    for seed, target in enumerate(targets):
        run = mf.simulate(make(task, seed), task, workers, max_jobs=None, budget=budget)
        end = run.reach(target, budget)
        reached.append(end.epochs / budget if end else math.inf)
        thirds.append(run.best_within(budget / 3))
    hits = sum(math.isfinite(r) for r in reached)
    return f"{hits}/{len(targets)}", mf._median(reached), statistics.median(thirds)


def one_bracket(index: int) -> Maker:
    def make(task: mf.Task, seed: int) -> mf.Tuner:
        strategy = OneBracket(
            task.space, seed=seed, min_resource=1, max_resource=task.max_resource, bracket=index
        )
        return mf.Tunesmith(strategy, early_stopping=False)

    return make


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--tasks", nargs="*", default=["powerlaw", "saturating", "overfitting"])
    args = parser.parse_args()
    lines = [
        "# Hyperband's brackets, each alone (hindsight)",
        "",
        f"{args.workers} parallel workers, {args.seeds} seeds, MinResource 1, reduction factor 3; "
        f"budget B = Random's epochs for {args.jobs} full-length jobs; target = Random's best "
        "final loss in the same seed. Medians over seeds (\"never\" when most seeds never reach "
        "the target).",
        "",
        "| task | method | rungs | reached target | epochs to target / B | best at B/3 |",
        "|---|---|---|---|---|---|",
    ]
    for name in args.tasks:
        task = TASKS[name]()
        budget = args.jobs * task.max_resource
        targets = []
        for seed in range(args.seeds):
            random = mf._ours("Random", False)(task, seed)
            run = mf.simulate(random, task, args.workers, max_jobs=args.jobs, budget=None)
            targets.append(run.best_within(math.inf))
        methods = [("Hyperband", "all brackets", mf._ours("Hyperband", False))]
        for bracket in mf.brackets(1, task.max_resource, 3):
            rungs = ", ".join(map(str, bracket.rungs)) or "none (Random)"
            label = f"bracket {bracket.index + 1} alone"
            methods.append((label, rungs, one_bracket(bracket.index)))
        for label, rungs, make in methods:
            reached, epochs, third = measure(task, make, targets, budget, args.workers)
            lines.append(
                f"| {task.name} | {label} | {rungs} | {reached} | {mf._fmt(epochs)} "
                f"| {task.describe_loss(third)} |"
            )
    text = "\n".join(lines) + "\n"
    print(text)
    mf.RESULTS.mkdir(parents=True, exist_ok=True)
    (mf.RESULTS / "hyperband_brackets.md").write_text(text)


if __name__ == "__main__":
    main()
