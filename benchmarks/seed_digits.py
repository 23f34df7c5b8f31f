"""The seed's digits tuning job, reproduced: Random against Bayesian through the real engine, and
Optuna's TPE and GPSampler on the same objective in-process.

The tuning jobs are ``examples/digits/random.yaml`` and ``examples/digits/bayesian.yaml`` as they
are (a random forest, metrics read from the script's output by the documents' regexes, 50
training jobs, 2 at a time), each seed setting ``RandomSeed``; Random and Bayesian of one seed
run side by side in a temporary home, as the seed's notebook runs them. Optuna optimises the same
objective sequentially: the same training function of ``examples/digits/train.py`` (so the same
unseeded 80/20 split and the same model), its printed line read by the same ``valid-f1`` regex,
over the same ranges and number of trials.

Printed: each best F1 per seed, the means, whether Bayesian beats Random on every seed and
whether its mean is at least GPSampler's.

    python benchmarks/seed_digits.py [--seeds 5] [--jobs 50] [--parallel 2]

Writes benchmarks/results/seed_digits.{md,json}.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import multiprocessing
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "digits"
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(Path(__file__).resolve().parent))

METHODS = ("tunesmith Random", "tunesmith Bayesian", "Optuna TPE", "Optuna GP")
DOCUMENTS = {"tunesmith Random": "random.yaml", "tunesmith Bayesian": "bayesian.yaml"}
METRIC = "valid-f1"


def prepare_data() -> None:
    if not (EXAMPLE / "data" / "digits.csv").exists():
        subprocess.run([sys.executable, str(EXAMPLE / "prepare_data.py")], check=True)


def tuning_request(method: str, seed: int, jobs: int, parallel: int) -> dict[str, Any]:
    """The example's document with its paths resolved, the seed and the limits set."""
    from tunesmith.api import load_request

    request = load_request(EXAMPLE / DOCUMENTS[method])
    config = request["HyperParameterTuningJobConfig"]
    config["RandomSeed"] = seed
    config["ResourceLimits"]["MaxNumberOfTrainingJobs"] = jobs
    config["ResourceLimits"]["MaxParallelTrainingJobs"] = parallel
    request["HyperParameterTuningJobName"] = f"{method.split()[-1].lower()}-{seed}"
    return request


def run_engine_pair(seed: int, jobs: int, parallel: int, home: Path) -> dict[str, dict]:
    """Random and Bayesian of one seed, side by side through the engine."""
    import tunesmith

    started = {}
    for method in DOCUMENTS:
        request = tuning_request(method, seed, jobs, parallel)
        started[method] = (tunesmith.create_tuning_job(request, home=home, detach=False),
                           time.monotonic())
    out = {}
    for method, (job, since) in started.items():
        described = job.wait()
        seconds = time.monotonic() - since
        best = described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]
        finished = described["TrainingJobStatusCounters"]["Completed"]
        out[method] = {"best": float(best["Value"]), "seconds": seconds, "completed": finished,
                       "status": described["HyperParameterTuningJobStatus"]}
    return out


def digits_objective() -> tuple[Callable[[dict], float], dict[str, Any]]:
    """The example's training function as an objective (best = highest F1), and its ranges."""
    from tunesmith.api import load_request

    spec = importlib.util.spec_from_file_location("digits_train", EXAMPLE / "train.py")
    train = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(train)
    request = load_request(EXAMPLE / "bayesian.yaml")
    definition = request["TrainingJobDefinition"]
    regex = next(m["Regex"] for m in definition["AlgorithmSpecification"]["MetricDefinitions"]
                 if m["Name"] == METRIC)
    data = definition["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
    data = data.removeprefix("file://")

    def f1(config: dict) -> float:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            train.fit(data, config["n-estimators"], config["max-depth"],
                      config["min-samples-leaf"], config["max-features"],
                      config["min-weight-fraction-leaf"])
        return float(re.search(regex, printed.getvalue()).group(1))

    return f1, request["HyperParameterTuningJobConfig"]["ParameterRanges"]


def run_optuna(task: tuple[str, int, int]) -> tuple[str, int, float, float]:
    import optuna
    from _problems import optuna_distributions, optuna_sampler

    from tunesmith.space import SearchSpace

    method, seed, jobs = task
    objective, ranges = digits_objective()
    distributions = optuna_distributions(SearchSpace.from_parameter_ranges(ranges))
    study = optuna.create_study(direction="maximize", sampler=optuna_sampler(method, seed))
    since = time.monotonic()
    for _ in range(jobs):
        trial = study.ask(distributions)
        study.tell(trial, objective(dict(trial.params)))
    return method, seed, float(study.best_value), time.monotonic() - since


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def render(best: dict[str, dict[int, float]], seconds: dict[str, list[float]], seeds: list[int],
           jobs: int, parallel: int) -> tuple[str, dict[str, Any]]:
    means = {m: statistics.fmean(best[m][s] for s in seeds) for m in METHODS}
    beats = [best["tunesmith Bayesian"][s] > best["tunesmith Random"][s] for s in seeds]
    lines = [
        f"# The seed's digits job ({len(seeds)} seeds, {jobs} training jobs, "
        f"{parallel} in parallel for tunesmith; Optuna sequential)", "",
        "Best validation F1 per seed (higher is better).", "",
        "| seed | " + " | ".join(METHODS) + " |", "|---:|" + "---:|" * len(METHODS),
    ]
    for s in seeds:
        lines.append(f"| {s} | " + " | ".join(f"{best[m][s]:.3f}" for m in METHODS) + " |")
    lines.append("| **mean** | " + " | ".join(f"**{means[m]:.4f}**" for m in METHODS) + " |")
    lines.append("| mean seconds per run | "
                 + " | ".join(f"{statistics.fmean(seconds[m]):.0f}" for m in METHODS) + " |")
    verdict = {
        "bayesian_beats_random_every_seed": all(beats),
        "bayesian_beats_random_seeds": sum(beats),
        "bayesian_mean_at_least_gp": means["tunesmith Bayesian"] >= means["Optuna GP"],
    }
    lines += [
        "",
        f"- tunesmith Bayesian beats Random on {sum(beats)}/{len(seeds)} seeds "
        f"({'every seed' if all(beats) else 'not every seed'}).",
        f"- Mean best F1: Bayesian {means['tunesmith Bayesian']:.4f}, Optuna GP "
        f"{means['Optuna GP']:.4f} (Bayesian "
        f"{'>=' if verdict['bayesian_mean_at_least_gp'] else '<'} GP).",
        "",
        "The objective is noisy (the script's split has no fixed seed) and printed to 3 "
        "significant digits, as in the seed.",
    ]
    table = {"seeds": seeds, "jobs": jobs, "parallel": parallel, "best": best, "means": means,
             "seconds": seconds, **verdict}
    return "\n".join(lines), table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=50, help="training jobs per tuning job")
    parser.add_argument("--parallel", type=int, default=2, help="MaxParallelTrainingJobs")
    parser.add_argument("--home", type=Path, help="tunesmith home (default: a temporary one)")
    args = parser.parse_args()
    prepare_data()
    seeds = list(range(args.seeds))
    best: dict[str, dict[int, float]] = {m: {} for m in METHODS}
    seconds: dict[str, list[float]] = {m: [] for m in METHODS}
    with tempfile.TemporaryDirectory(prefix="tunesmith-seed-digits-") as temporary:
        home = args.home or Path(temporary)
        for seed in seeds:
            for method, result in run_engine_pair(seed, args.jobs, args.parallel, home).items():
                best[method][seed] = result["best"]
                seconds[method].append(result["seconds"])
                print(f"seed {seed} {method}: best F1 {result['best']:.3f} "
                      f"({result['completed']} completed, {result['status']}, "
                      f"{result['seconds']:.0f} s)", flush=True)
    tasks = [(m, s, args.jobs) for s in seeds for m in ("Optuna TPE", "Optuna GP")]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(args.parallel, initializer=_worker_init) as pool:
        for method, seed, value, elapsed in pool.imap_unordered(run_optuna, tasks):
            best[method][seed] = value
            seconds[method].append(elapsed)
            print(f"seed {seed} {method}: best F1 {value:.3f} ({elapsed:.0f} s)", flush=True)
    text, table = render(best, seconds, seeds, args.jobs, args.parallel)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "seed_digits.md").write_text(text + "\n")
    (RESULTS / "seed_digits.json").write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
