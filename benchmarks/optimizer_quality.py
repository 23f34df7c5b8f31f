"""Optimiser quality, side by side, scored the way Bayesmark scores it.

Every optimiser runs every problem with the same seeds and trial budget, in-process through its
ask/tell interface. For each problem, a run's best loss after t trials is turned into a
normalised regret as in Bayesmark's mean score: 0 at the best loss any run found on that
problem, 1 at the median loss of a single random evaluation, clipped to [-1, 1] so that no one
run outweighs the rest. The score is 100 x (1 - mean normalised regret): 100 is the best seen,
0 what one random guess reaches; random search's own score at t is in its column. Reported per
problem and overall (mean over problems), at 16 and 50 trials, with 95% bootstrap intervals
over seeds.

    .venv/bin/python benchmarks/optimizer_quality.py --quick     # <= 10 minutes on 2 cores
    .venv/bin/python benchmarks/optimizer_quality.py --standard  # every synthetic function and
                                                                 # model on wine and diabetes
    .venv/bin/python benchmarks/optimizer_quality.py --held-out  # every model on breast cancer
    .venv/bin/python benchmarks/optimizer_quality.py             # full: every problem, 10 seeds

With ``--first-seed 10`` a profile runs on seeds 10, 11, ... into a file of its own
(``..._standard_seeds_10_19``), and ``--rescore`` given several such files of one profile pools
their seeds into one table: more seeds without running the first ones again (the files must come
from the same code).

Writes benchmarks/results/optimizer_quality[_quick|_standard|_held_out].{md,json}. Each finished
run is journaled beside them (.partial.jsonl) until then: started again after an interruption,
the benchmark reuses the runs journaled and runs only the rest (delete the journal to start
afresh).

To score a change to a tunesmith strategy in a fraction of the time, run only that optimiser and
take the others' runs, and the seeds, from an earlier results file of the same profile (every
optimiser is seeded and every problem deterministic, so their runs would come out the same); this
prints the table and how the optimiser run again moved, and writes nothing, as every table in
results/ comes from whole runs of every optimiser:

    .venv/bin/python benchmarks/optimizer_quality.py --standard \
        --baseline benchmarks/results/optimizer_quality_standard.json  # [--optimizers NAME ...]
"""

from __future__ import annotations

import os

# One thread per worker process: the workers already fill the cores, and oversubscribed BLAS
# threads slow every optimiser down unevenly.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _problems import (  # noqa: E402
    Problem,
    run_optuna,
    run_tunesmith,
    sklearn_problems,
    synthetic_problems,
)

RESULTS = Path(__file__).resolve().parent / "results"
CHECKPOINTS = (16, 50)
OPTIMIZERS = ("tunesmith Random", "tunesmith Bayesian", "Optuna TPE", "Optuna GP",
              "Optuna CMA-ES")
OURS, RANDOM = "tunesmith Bayesian", "tunesmith Random"
OPTUNA = ("Optuna TPE", "Optuna GP", "Optuna CMA-ES")
# Cheap to evaluate (well under a second per cross-validation), and every kind of variable.
QUICK_PROBLEMS = ("branin", "hartmann6", "ackley-mixed", "branin-int-cat", "SVM-wine",
                  "kNN-wine", "DT-wine", "linear-diabetes")

# Every synthetic function and every model, on the two small datasets (one classification, one
# regression): every kind of variable, in about 50 minutes on 2 cores.
STANDARD_DATASETS = ["wine", "diabetes"]
# A dataset the standard profile leaves out: the strategy's settings were chosen on the standard
# profile, and this one shows whether they carry over to problems they were not chosen on.
HELD_OUT_DATASETS = ["breast"]


def all_problems() -> dict[str, Problem]:
    return {p.name: p for p in synthetic_problems() + sklearn_problems()}


def profile_problems(profile: str) -> list[str]:
    """The problem names of a named profile."""
    match profile:
        case "quick":
            return list(QUICK_PROBLEMS)
        case "standard":
            return [p.name for p in synthetic_problems() + sklearn_problems(data=STANDARD_DATASETS)]
        case "held_out":
            return [p.name for p in sklearn_problems(data=HELD_OUT_DATASETS)]
        case _:
            return list(all_problems())


def applies(optimizer: str, problem: Problem) -> bool:
    # CMA-ES has no notion of a categorical variable (Optuna samples those at random).
    return not (optimizer == "Optuna CMA-ES" and problem.has_categorical)


@dataclass(frozen=True)
class Task:
    problem: str
    optimizer: str
    seed: int
    budget: int


def run_task(task: Task) -> tuple[Task, list[float], float]:
    from tunesmith.strategies.bayesian import BayesianStrategy
    from tunesmith.strategies.random import RandomStrategy

    problem = all_problems()[task.problem]
    start = time.perf_counter()
    if task.optimizer == RANDOM:
        losses = run_tunesmith(RandomStrategy(problem.space, seed=task.seed), problem, task.budget)
    elif task.optimizer == OURS:
        losses = run_tunesmith(BayesianStrategy(problem.space, seed=task.seed), problem,
                               task.budget)
    else:
        losses = run_optuna(task.optimizer, problem, task.seed, task.budget)
    return task, losses, time.perf_counter() - start


def _worker_init() -> None:
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


# --- scoring ------------------------------------------------------------------------------------

def normalised_regret(curves: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per optimiser, (seeds x trials) Bayesmark's normalised regret of the best-so-far."""
    best = {name: np.minimum.accumulate(c, axis=1) for name, c in curves.items()}
    floor = min(float(b.min()) for b in best.values())
    # Random evaluations are independent draws: pooled, their median is that of a single one.
    span = float(np.median(curves[RANDOM])) - floor
    out = {}
    for name, b in best.items():
        gap = b - floor
        if span > 1e-12:
            out[name] = np.clip(gap / span, -1.0, 1.0)
        else:  # one random guess is already the best seen: only reaching it counts
            out[name] = (gap > 1e-12) * 1.0
    return out


def bootstrap_mean(per_problem: list[np.ndarray], rng: np.random.Generator, draws: int = 2000
                   ) -> np.ndarray:
    """Bootstrap draws of the mean over problems of the mean over seeds (seeds resampled)."""
    totals = np.zeros(draws)
    for scores in per_problem:
        idx = rng.integers(len(scores), size=(draws, len(scores)))
        totals += scores[idx].mean(1)
    return totals / len(per_problem)


def trials_to_reach(best: np.ndarray, target: float) -> float:
    """Median over seeds of the first trial (1-based) whose best-so-far reaches ``target``."""
    hits = [int(np.argmax(row <= target)) + 1 if (row <= target).any() else np.inf
            for row in best]
    return float(np.median(hits))


def wins_interval(pairs: list[tuple[np.ndarray, np.ndarray]], draws: int = 2000) -> list[int]:
    """95% bootstrap interval of the number of problems on which the first optimiser's mean
    regret over seeds is at most the second's (the seeds of a problem resampled, paired): how
    much of a count of problems won is the luck of the seeds."""
    rng = np.random.default_rng(1)
    wins = np.zeros(draws, dtype=int)
    for ours, theirs in pairs:
        idx = rng.integers(len(ours), size=(draws, len(ours)))
        wins += ours[idx].mean(1) <= theirs[idx].mean(1)
    return [int(np.percentile(wins, 2.5)), int(np.percentile(wins, 97.5))]


def score(results: dict[str, dict[str, np.ndarray]], seeds: int) -> dict:
    problems = sorted(results)
    regret = {p: normalised_regret(results[p]) for p in problems}
    table: dict = {"problems": {}, "overall": {}, "seeds": seeds}
    for p in problems:
        table["problems"][p] = {
            name: {str(t): float(100 * (1 - r[:, t - 1].mean())) for t in CHECKPOINTS}
            for name, r in regret[p].items()
        }
    rng = np.random.default_rng(0)
    for name in OPTIMIZERS:
        covered = [p for p in problems if name in regret[p]]
        if not covered:
            continue
        entry = {"problems": len(covered)}
        for t in CHECKPOINTS:
            draws = bootstrap_mean([100 * (1 - regret[p][name][:, t - 1]) for p in covered], rng)
            mean = float(np.mean([100 * (1 - regret[p][name][:, t - 1].mean()) for p in covered]))
            entry[str(t)] = {"score": mean, "ci95": [float(np.percentile(draws, 2.5)),
                                                     float(np.percentile(draws, 97.5))]}
        table["overall"][name] = entry
    full = [n for n in OPTUNA if table["overall"].get(n, {}).get("problems") == len(problems)]
    rival = max(full, key=lambda n: table["overall"][n]["50"]["score"])
    table["best_optuna"] = rival
    for t in CHECKPOINTS:
        # Paired bootstrap: the same resampled seeds for both optimisers on each problem.
        diffs = np.zeros(2000)
        for p in problems:
            ours, theirs = 100 * (1 - regret[p][OURS][:, t - 1]), 100 * (
                1 - regret[p][rival][:, t - 1])
            idx = rng.integers(len(ours), size=(2000, len(ours)))
            diffs += (ours[idx] - theirs[idx]).mean(1)
        diffs /= len(problems)
        table[f"difference_{t}"] = {
            "mean": float(diffs.mean()),
            "ci95": [float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))],
        }
        table[f"wins_{t}"] = {
            "vs_best_optuna": sum(
                table["problems"][p][OURS][str(t)] >= table["problems"][p][rival][str(t)]
                for p in problems),
            "vs_best_optuna_ci95": wins_interval(
                [(regret[p][OURS][:, t - 1], regret[p][rival][:, t - 1]) for p in problems]),
            "vs_every_optuna": sum(
                all(table["problems"][p][OURS][str(t)] >= table["problems"][p][n][str(t)]
                    for n in OPTUNA if n in table["problems"][p]) for p in problems),
            "of": len(problems),
        }
    reach = []
    for p in problems:
        best = {n: np.minimum.accumulate(c, axis=1) for n, c in results[p].items()}
        target = float(np.median(best[RANDOM][:, 49]))
        reach.append(trials_to_reach(best[OURS], target))
    table["trials_to_random_50_median"] = {"per_problem": dict(zip(problems, reach, strict=True)),
                                          "median_over_problems": float(np.median(reach))}
    return table


def render(table: dict, timings: dict[str, float], profile: str) -> str:
    names = [n for n in OPTIMIZERS if n in table["overall"]]
    head = "| problem | " + " | ".join(f"{n} @16 / @50" for n in names) + " |"
    lines = [
        f"# Optimiser quality ({profile.replace('_', '-')} profile, {table['seeds']} seeds)", "",
        "Score = 100 x (1 - mean normalised regret), as Bayesmark's mean score: 100 = the best "
        "loss seen, 0 = the median loss of one random evaluation, each run's regret clipped to "
        "[-1, 1].", "", head, "|---|" + "---:|" * len(names),
    ]
    for p, row in table["problems"].items():
        cells = [f"{row[n]['16']:.1f} / {row[n]['50']:.1f}" if n in row else "n/a" for n in names]
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    cells = []
    for n in names:
        e = table["overall"][n]
        note = "" if e["problems"] == len(table["problems"]) else f" ({e['problems']} problems)"
        cells.append(f"**{e['16']['score']:.1f}** [{e['16']['ci95'][0]:.1f}, "
                     f"{e['16']['ci95'][1]:.1f}] / **{e['50']['score']:.1f}** "
                     f"[{e['50']['ci95'][0]:.1f}, {e['50']['ci95'][1]:.1f}]{note}")
    lines.append("| **overall** (95% CI) | " + " | ".join(cells) + " |")
    rival = table["best_optuna"]
    lines += ["", f"Best Optuna sampler overall at 50 trials: {rival}."]
    for t in CHECKPOINTS:
        d, w = table[f"difference_{t}"], table[f"wins_{t}"]
        lines.append(
            f"- {t} trials: Bayesian - {rival} = {d['mean']:+.2f} "
            f"(95% CI [{d['ci95'][0]:+.2f}, {d['ci95'][1]:+.2f}]); Bayesian >= {rival} on "
            f"{w['vs_best_optuna']}/{w['of']} problems (95% bootstrap interval over seeds "
            f"[{w['vs_best_optuna_ci95'][0]}, {w['vs_best_optuna_ci95'][1]}]), >= every Optuna "
            f"sampler on {w['vs_every_optuna']}/{w['of']}."
        )
    reach = table["trials_to_random_50_median"]["median_over_problems"]
    lines.append(f"- Trials tunesmith Bayesian needs to reach random search's 50-trial median "
                 f"(median problem): {reach:g} (goal <= 16).")
    lines += ["", "Optimiser time (seconds, summed over all runs, including objective "
                  "evaluations): " + ", ".join(f"{n} {timings.get(n, 0):.0f}" for n in names)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    profiles = parser.add_mutually_exclusive_group()
    profiles.add_argument("--quick", action="store_true", help="a few problems and seeds")
    profiles.add_argument("--standard", action="store_true",
                          help="synthetic functions and every model on wine and diabetes")
    profiles.add_argument("--held-out", action="store_true",
                          help="every model on breast cancer (not in the standard profile)")
    parser.add_argument("--seeds", type=int, help="number of seeds (default 10; quick 4)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds first-seed, first-seed + 1, ...: a run on other seeds than "
                             "a profile's own, written to a file of its own")
    parser.add_argument("--problems", nargs="+", help="problem names (default: all)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--budget", type=int, default=max(CHECKPOINTS))
    parser.add_argument("--rescore", type=Path, nargs="+", metavar="JSON",
                        help="score the runs earlier results files kept, without running them "
                             "(several: runs of one profile on other seeds, pooled)")
    parser.add_argument("--baseline", type=Path, metavar="JSON",
                        help="run only --optimizers, take the other optimizers' runs from an "
                             "earlier results file, print the table and write nothing")
    parser.add_argument("--optimizers", nargs="+", choices=OPTIMIZERS, metavar="NAME",
                        help=f"with --baseline, the optimizers run again (default: {OURS})")
    args = parser.parse_args()
    if args.optimizers and args.baseline is None:
        parser.error("--optimizers needs --baseline (a results file holds every optimizer)")
    if args.first_seed and args.baseline is not None:
        parser.error("--first-seed cannot go with --baseline (the baseline's runs set the seeds)")
    if args.rescore is not None:
        try:
            results, first, seeds, timings = pool_results(args.rescore)
        except ValueError as error:
            parser.error(f"--rescore: {error}")
        stem = args.rescore[0].stem.removeprefix("optimizer_quality").lstrip("_")
        profile = stem.partition("_seeds_")[0] or "full"
        if first or len(args.rescore) > 1:
            profile += f"_seeds_{first}_{first + seeds - 1}"
        write(results, seeds, timings, profile, first)
        return
    problems = all_problems()
    profile = ("custom" if args.problems else "quick" if args.quick
               else "standard" if args.standard else "held_out" if args.held_out else "full")
    names = args.problems or profile_problems(profile)
    unknown = sorted(set(names) - set(problems))
    if unknown:
        parser.error(f"unknown problems {unknown}; known: {sorted(problems)}")
    seeds = args.seeds or (4 if args.quick else 10)
    first_seed = args.first_seed
    if args.baseline is not None:
        try:
            before, first_seed, before_timings = read_baseline(
                args.baseline, names, seeds, args.budget)
        except ValueError as error:
            parser.error(f"--baseline: {error}")
    if first_seed:
        profile += f"_seeds_{first_seed}_{first_seed + seeds - 1}"
    run_again = set(args.optimizers or [OURS]) if args.baseline is not None else set(OPTIMIZERS)
    tasks = [Task(p, o, s, args.budget) for p in names for o in OPTIMIZERS
             for s in range(first_seed, first_seed + seeds)
             if o in run_again and applies(o, problems[p])]
    # Longest first (Bayesian and GP runs), so the pool does not end on one straggler.
    tasks.sort(key=lambda t: t.optimizer not in (OURS, "Optuna GP"))
    if args.baseline is not None:
        results, timings = run_tasks(tasks, args.workers, journal=None)
        compare(before, before_timings, results, timings, seeds, profile)
        return
    # The full profile takes hours: each finished run is journaled, and a run started again
    # after an interruption takes the runs its journal holds instead of repeating them.
    journal = RESULTS / f"{_stem(profile)}.partial.jsonl"
    results, timings = run_tasks(tasks, args.workers, journal=journal)
    write(results, seeds, timings, profile, first_seed)
    journal.unlink()


def run_tasks(tasks: list[Task], workers: int, journal: Path | None
              ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, float]]:
    """The loss curves of the tasks (problem -> optimiser -> seeds x trials) and each
    optimiser's summed seconds; runs the journal holds are taken from it, new ones added."""
    curves: dict[str, dict[str, list]] = {t.problem: {} for t in tasks}
    timings: dict[str, float] = {}

    def keep(task: Task, losses: list[float], elapsed: float) -> None:
        curves[task.problem].setdefault(task.optimizer, []).append((task.seed, losses))
        timings[task.optimizer] = timings.get(task.optimizer, 0.0) + elapsed

    done = read_journal(journal, tasks) if journal is not None else {}
    if done:
        print(f"{len(done)} runs taken from {journal.name}", file=sys.stderr, flush=True)
    for task, (losses, elapsed) in done.items():
        keep(task, losses, elapsed)
    todo = [t for t in tasks if t not in done]
    started = time.perf_counter()
    RESULTS.mkdir(exist_ok=True)
    ctx = multiprocessing.get_context("fork")
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(journal.open("a")) if journal is not None else None
        pool = stack.enter_context(ctx.Pool(workers, initializer=_worker_init))
        for i, (task, losses, elapsed) in enumerate(pool.imap_unordered(run_task, todo), 1):
            keep(task, losses, elapsed)
            if log is not None:
                log.write(json.dumps({**asdict(task), "losses": losses, "seconds": elapsed})
                          + "\n")
                log.flush()
            if i % 20 == 0 or i == len(todo):
                print(f"{i}/{len(todo)} runs, {time.perf_counter() - started:.0f}s",
                      file=sys.stderr, flush=True)
    results = {p: {o: np.array([losses for _, losses in sorted(runs)])
                   for o, runs in by_opt.items()} for p, by_opt in curves.items()}
    return results, timings


def read_baseline(path: Path, names: list[str], seeds: int, budget: int
                  ) -> tuple[dict[str, dict[str, np.ndarray]], int, dict[str, float]]:
    """Every optimiser's runs of ``names`` in an earlier results file, cut to ``seeds`` and
    ``budget``, its first seed and its timings; ValueError if the file holds fewer."""
    saved = load_results(path)
    curves, held_seeds = saved["curves"], saved["seeds"]
    missing = [p for p in names if p not in curves]
    if missing:
        raise ValueError(f"{path} holds no runs of {missing}")
    if held_seeds < seeds:
        raise ValueError(f"{path} holds {held_seeds} seeds, fewer than the {seeds} asked for")
    out = {}
    for p in names:
        out[p] = {o: np.array(c, dtype=float)[:seeds, :budget] for o, c in curves[p].items()}
        short = [o for o, c in out[p].items() if c.shape[1] < budget]
        if short:
            raise ValueError(f"{path}: runs of {p} by {short} are shorter than the budget of "
                             f"{budget}")
    return out, saved["first_seed"], saved["timings_seconds"]


def load_results(path: Path) -> dict:
    """An earlier results file of this benchmark (its first seed 0 unless it says another);
    ValueError naming the file if it is not one."""
    try:
        saved = json.loads(path.read_text())
        saved["seeds"] = int(saved["seeds"])
        saved["first_seed"] = int(saved.get("first_seed", 0))
        saved["timings_seconds"] = dict(saved["timings_seconds"])
        if not isinstance(saved["curves"], dict):
            raise TypeError("curves is not a mapping")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a results file of this benchmark ({error})") from None
    return saved


def compare(before: dict[str, dict[str, np.ndarray]], before_timings: dict[str, float],
            new: dict[str, dict[str, np.ndarray]], new_timings: dict[str, float], seeds: int,
            profile: str) -> None:
    """Print the table with the new runs in place of the baseline's, and how each optimiser
    run again moved against its own runs in the baseline."""
    merged = {p: {**runs, **new.get(p, {})} for p, runs in before.items()}
    timings = {**before_timings, **new_timings}
    old_table, new_table = score(before, seeds), score(merged, seeds)
    print(render(new_table, timings, profile))
    print(f"\nRun again: {', '.join(sorted(new_timings))}; the other optimisers' runs are the "
          "baseline's. Against the baseline's own runs (each table normalised on its own runs):")
    for name in sorted(new_timings):
        was, now = old_table["overall"][name], new_table["overall"][name]
        print(f"- {name}: " + ", ".join(
            f"@{t} {was[str(t)]['score']:.1f} -> {now[str(t)]['score']:.1f}" for t in CHECKPOINTS))
        for p in sorted(q for q in new if name in new[q]):
            cells = [f"{old_table['problems'][p][name][str(t)]:.1f} -> "
                     f"{new_table['problems'][p][name][str(t)]:.1f}" for t in CHECKPOINTS]
            print(f"  - {p}: " + " / ".join(cells))
    for label, table in (("baseline", old_table), ("now", new_table)):
        rival = table["best_optuna"]
        print(f"- {label}: " + "; ".join(
            f"@{t} Bayesian - {rival} = {table[f'difference_{t}']['mean']:+.2f} "
            f"[{table[f'difference_{t}']['ci95'][0]:+.2f}, "
            f"{table[f'difference_{t}']['ci95'][1]:+.2f}], >= on "
            f"{table[f'wins_{t}']['vs_best_optuna']}/{table[f'wins_{t}']['of']}"
            for t in CHECKPOINTS))


def read_journal(path: Path, tasks: list[Task]) -> dict[Task, tuple[list[float], float]]:
    """The runs of ``tasks`` an earlier, interrupted run journaled: losses and seconds."""
    wanted, done = set(tasks), {}
    lines = path.read_text().splitlines() if path.exists() else []
    for line in lines:
        try:
            run = json.loads(line)
            task = Task(run["problem"], run["optimizer"], run["seed"], run["budget"])
            entry = ([float(x) for x in run["losses"]], float(run["seconds"]))
        except (ValueError, KeyError, TypeError):
            continue  # the last line of a run killed while writing it
        if task in wanted:
            done[task] = entry
    return done


def _stem(profile: str) -> str:
    return "optimizer_quality" + ("" if profile == "full" else f"_{profile}")


def pool_results(paths: list[Path]
                 ) -> tuple[dict[str, dict[str, np.ndarray]], int, int, dict[str, float]]:
    """The runs of results files of the same problems and optimisers on consecutive seeds,
    pooled: curves (seeds in order), first seed, number of seeds, summed timings."""
    files = sorted(((load_results(path), path) for path in paths),
                   key=lambda f: f[0]["first_seed"])
    saved = [s for s, _ in files]
    first = saved[0]["first_seed"]
    expected = first
    for s, path in files:
        if s["first_seed"] != expected:
            raise ValueError(f"seeds are not consecutive: one file starts at seed "
                             f"{s['first_seed']}, where {expected} was expected")
        if {p: set(r) for p, r in s["curves"].items()} != {
                p: set(r) for p, r in saved[0]["curves"].items()}:
            raise ValueError(f"{path} holds other problems or optimizers than the others")
        expected += s["seeds"]
    results = {p: {o: np.vstack([np.array(s["curves"][p][o]) for s in saved]) for o in runs}
               for p, runs in saved[0]["curves"].items()}
    timings: dict[str, float] = {}
    for s in saved:
        for name, seconds in s["timings_seconds"].items():
            timings[name] = timings.get(name, 0.0) + seconds
    return results, first, expected - first, timings


def write(results: dict[str, dict[str, np.ndarray]], seeds: int, timings: dict[str, float],
          profile: str, first_seed: int = 0) -> None:
    table = score(results, seeds)
    table["first_seed"] = first_seed
    text = render(table, timings, profile)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    stem = _stem(profile)
    (RESULTS / f"{stem}.md").write_text(text + "\n")
    table["timings_seconds"] = timings
    table["curves"] = {p: {o: c.tolist() for o, c in r.items()} for p, r in results.items()}
    (RESULTS / f"{stem}.json").write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
