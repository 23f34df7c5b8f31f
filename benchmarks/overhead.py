"""Where a tuning job's time goes besides training: launches, bookkeeping, reading results.

Side by side, in one run:

- launch overhead per training job (a script that imports scikit-learn and exits), started cold
  and forked from the warm worker pool;
- the seed's 50-job digits tuning job (examples/digits, 2 in parallel): wall time against the
  physical limit (the sum of the scripts' own fit times, printed by a wrapper around the seed's
  ``fit``, divided by 2) and against Optuna running the same objective in-process, ``n_jobs=2``;
  once with the fork server the job starts (as ``tunesmith tune`` runs it), once with the server
  an earlier tuning job of the same process left ready (as in an API server or a notebook);
- bookkeeping per trial of a Random job with trivial trials (a runner that ends each training
  job at once) on the SQLite store, against Optuna's RDB (SQLite) and JournalStorage on the same
  trivial trials;
- ``describe`` and a page of ``jobs`` on that job, in process and as whole commands.

Everything runs at a lowered priority (the machine may be shared); figures are medians of
``--repeat`` runs, and the load average is printed with them. Writes
benchmarks/results/overhead.md and .json.

    python benchmarks/overhead.py [--repeat 3] [--trials 10000] [--optuna-trials 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

RESULTS = Path(__file__).parent / "results"
DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"
NICE = 10

GOAL_LAUNCH_RATIO = 0.10
GOAL_PHYSICAL_RATIO = 1.25
GOAL_OPTUNA_RATIO = 1.3
GOAL_BOOKKEEPING_RATIO = 1 / 3
GOAL_DESCRIBE_MS = 50.0
GOAL_PAGE_MS = 100.0

IMPORTS_SKLEARN = "import sklearn.ensemble\n"

# Times the seed's own fit (reading the data, training, scoring) and prints it for a metric
# regex; everything else is the seed script's main block.
TIMED_TRAIN = '''
import time
from pathlib import Path

import joblib
import pandas  # noqa: F401  (the seed script's imports, preloaded alike)
import sklearn.ensemble  # noqa: F401

import train

if __name__ == "__main__":
    args = train.parse_arguments()
    print(f"fit-started: {time.time():.6f}", flush=True)
    started = time.perf_counter()
    model = train.fit(args.train, args.n_estimators, args.max_depth, args.min_samples_leaf,
                      args.max_features, args.min_weight_fraction_leaf)
    print(f"fit-seconds: {time.perf_counter() - started:.6f}", flush=True)
    if args.model_dir:
        joblib.dump(model, Path(args.model_dir) / "model.joblib")
'''


def median_of(repeat: int, measure: Callable[[], float]) -> tuple[float, list[float]]:
    values = [measure() for _ in range(repeat)]
    return statistics.median(values), values


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over repeated runs."""
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} CPUs"


# -- launch overhead --------------------------------------------------------------------------


def launch_overhead(work: Path, launches: int) -> dict[str, Any]:
    """Seconds from ``start`` to the ``TrainingJobEnded`` of a script that only imports
    scikit-learn, cold and from the pool (the pool's server warm-up is reported apart)."""
    from tunesmith.runner.base import TrainingJobSpec
    from tunesmith.runner.local import LocalRunner

    source = work / "launch-src"
    source.mkdir(parents=True)
    (source / "train.py").write_text(IMPORTS_SKLEARN)
    result: dict[str, Any] = {}
    os.environ["TUNESMITH_POOL_IDLE"] = "0"  # each repetition's first launch starts its server
    for mode in ("cold", "pool"):
        os.environ["TUNESMITH_POOL"] = "0" if mode == "cold" else "1"
        recorder = _Recorder()
        runner = LocalRunner(recorder)
        times = []
        for i in range(launches + 1):
            name = f"{mode}-{i:03d}"
            spec = TrainingJobSpec(
                name=name, directory=work / "launch-jobs" / name, source_dir=source,
                entry_point="train.py", hyperparameters={"sagemaker_program": '"train.py"'},
            )
            started = time.perf_counter()
            runner.start(spec)
            ended = recorder.wait(name)
            assert ended.status == "Completed", ended.failure_reason
            times.append(time.perf_counter() - started)
        runner.close()
        # The first launch of the pool includes its server's imports: that is the warm-up.
        result[mode] = statistics.median(times[1:])
        result[f"{mode}_first"] = times[0]
    os.environ.pop("TUNESMITH_POOL")
    os.environ.pop("TUNESMITH_POOL_IDLE")
    result["ratio"] = result["pool"] / result["cold"]
    return result


class _Recorder:
    def __init__(self) -> None:
        self._ended: dict[str, Any] = {}
        self._changed = threading.Condition()

    def __call__(self, event: Any) -> None:
        from tunesmith.runner.base import TrainingJobEnded

        if isinstance(event, TrainingJobEnded):
            with self._changed:
                self._ended[event.name] = event
                self._changed.notify_all()

    def wait(self, name: str) -> Any:
        with self._changed:
            self._changed.wait_for(lambda: name in self._ended, timeout=600)
            return self._ended[name]


# -- the seed's digits job --------------------------------------------------------------------


def digits_source(work: Path) -> Path:
    source = work / "digits"
    source.mkdir(parents=True)
    for name in ("train.py", "prepare_data.py"):
        shutil.copy(DIGITS / name, source / name)
    (source / "timed_train.py").write_text(TIMED_TRAIN)
    subprocess.run([sys.executable, str(source / "prepare_data.py")], check=True,
                   stdout=subprocess.DEVNULL)
    return source


def digits_document(source: Path, name: str, jobs: int) -> dict[str, Any]:
    document = yaml.safe_load((DIGITS / "random.yaml").read_text())
    document["HyperParameterTuningJobName"] = name
    config = document["HyperParameterTuningJobConfig"]
    config["ResourceLimits"]["MaxNumberOfTrainingJobs"] = jobs
    config["RandomSeed"] = 11
    definition = document["TrainingJobDefinition"]
    definition["StaticHyperParameters"] = {
        "sagemaker_program": "timed_train.py",
        "sagemaker_submit_directory": str(source),
    }
    definition["AlgorithmSpecification"]["MetricDefinitions"] += [
        {"Name": "fit-seconds", "Regex": r"fit-seconds: ([0-9.]+)"},
        {"Name": "fit-started", "Regex": r"fit-started: ([0-9.]+)"},
    ]
    definition["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = str(
        source / "data"
    )
    return document


def digits_tunesmith(work: Path, source: Path, jobs: int, mode: str, run: int) -> dict[str, float]:
    """One run of the digits job; ``mode``: ``cold`` (no pool), ``pool`` (the job starts its own
    fork server and ends it) or ``warm`` (the server an earlier ``warm`` run left ready)."""
    import tunesmith
    from tunesmith.store import Store, store_url

    home = work / f"digits-home-{mode}-{run}"
    os.environ["TUNESMITH_POOL"] = "0" if mode == "cold" else "1"
    os.environ["TUNESMITH_POOL_IDLE"] = "600" if mode == "warm" else "0"
    name = f"digits-{mode}-{run}"
    started, started_at = time.perf_counter(), time.time()
    job = tunesmith.create_tuning_job(digits_document(source, name, jobs), home=home, detach=False)
    described = job.wait(timeout=3600)
    wall = time.perf_counter() - started
    os.environ.pop("TUNESMITH_POOL")
    os.environ.pop("TUNESMITH_POOL_IDLE")
    assert described["TrainingJobStatusCounters"]["Completed"] == jobs, described
    store = Store(store_url(home))
    values = store.metric_values_of_tuning_job(name)
    store.close()
    fits = [p.value for p in values if p.metric == "fit-seconds"]
    assert len(fits) == jobs
    # Until the first fit starts: the job's set-up and the start of its first training jobs
    # (with the pool, its server importing the script's modules).
    first_fit = min(p.value for p in values if p.metric == "fit-started") - started_at
    return {"wall": wall, "fit_sum": sum(fits), "physical_limit": sum(fits) / 2,
            "first_fit": first_fit}


def digits_optuna(source: Path, jobs: int) -> dict[str, float]:
    """The same objective in this process: Optuna, random sampling, two threads."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = source / "data" / "digits.csv"
    fits: list[float] = []

    def objective(trial: optuna.Trial) -> float:
        started = time.perf_counter()
        f1 = seed_fit(
            data,
            trial.suggest_int("n-estimators", 1, 200),
            trial.suggest_int("max-depth", 1, 10),
            trial.suggest_int("min-samples-leaf", 1, 10),
            trial.suggest_categorical("max-features", ["auto", "sqrt", "log2"]),
            trial.suggest_float("min-weight-fraction-leaf", 0.0, 0.5),
        )
        fits.append(time.perf_counter() - started)
        return f1

    sampler = optuna.samplers.RandomSampler(seed=11)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    started = time.perf_counter()
    study.optimize(objective, n_trials=jobs, n_jobs=2)
    return {"wall": time.perf_counter() - started, "fit_sum": sum(fits)}


def seed_fit(data: Path, n_estimators: int, max_depth: int, min_samples_leaf: int,
             max_features: str, min_weight_fraction_leaf: float) -> float:
    """The seed script's ``fit`` step for step, returning the F1 score it prints."""
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import precision_recall_fscore_support
    from sklearn.model_selection import train_test_split

    digits = pd.read_csv(data)
    x_train, x_test, y_train, y_test = train_test_split(
        digits.iloc[:, :-1], digits.iloc[:, -1], test_size=0.2
    )
    model = RandomForestClassifier(
        n_estimators=n_estimators,
        max_depth=max_depth,
        min_samples_leaf=min_samples_leaf,
        max_features={"auto": "sqrt"}.get(max_features, max_features),
        min_weight_fraction_leaf=min_weight_fraction_leaf,
    )
    model.fit(x_train, y_train)
    _, _, f1, _ = precision_recall_fscore_support(
        y_test, model.predict(x_test), pos_label=1, average="weighted", zero_division=0
    )
    return float(f1)


# -- bookkeeping ------------------------------------------------------------------------------

BOOKKEEPING_JOB = "bookkeeping"


def _instant_runner(sink: Callable[[Any], None]) -> Any:
    """A runner whose training jobs print their objective and end the moment they start: all
    that remains is the engine's and the store's work."""
    from tunesmith.runner.base import (
        MetricsObserved,
        MetricValue,
        Runner,
        TrainingJobEnded,
        TrainingJobStarted,
    )

    class InstantRunner(Runner):
        def start(self, spec: Any) -> None:
            now = time.time()
            x = float(spec.hyperparameters["x"])
            self.sink(TrainingJobStarted(spec.name, os.getpid(), now))
            self.sink(MetricsObserved(spec.name, (MetricValue("score", -(x - 0.3) ** 2, now),)))
            self.sink(TrainingJobEnded(spec.name, "Completed", "Completed", now, exit_code=0))

        def stop(self, name: str, reason: str) -> None:
            pass

        def running(self) -> list[str]:
            return []

        def close(self) -> None:
            pass

    return InstantRunner(sink)


def bookkeeping_tunesmith(home: Path, trials: int) -> dict[str, float]:
    from tunesmith import service
    from tunesmith.engine import TuningEngine
    from tunesmith.store import Store, store_url

    source = home / "src"
    source.mkdir(parents=True)
    (source / "train.py").write_text("")
    document = {
        "HyperParameterTuningJobName": BOOKKEEPING_JOB,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "RandomSeed": 1,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "score"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": trials, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]
            },
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                "sagemaker_program": "train.py",
                "sagemaker_submit_directory": str(source),
            },
            "AlgorithmSpecification": {
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "score", "Regex": r"score: (\S+)"}],
            },
        },
    }
    store = Store(store_url(home))
    service.create_tuning_job_record(store, document)
    engine = TuningEngine(store, BOOKKEEPING_JOB, home=home, runner_factory=_instant_runner)
    wall, cpu = time.perf_counter(), time.process_time()
    assert engine.run() == "Completed"
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    store.close()
    return {"wall_ms": wall / trials * 1000, "cpu_ms": cpu / trials * 1000}


def bookkeeping_optuna(work: Path, trials: int, kind: str) -> dict[str, float]:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder = Path(tempfile.mkdtemp(dir=work))
    storage: Any = (
        f"sqlite:///{folder / 'optuna.db'}"
        if kind == "rdb"
        else JournalStorage(JournalFileBackend(str(folder / "journal.log")))
    )
    study = optuna.create_study(
        storage=storage, direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1)
    )
    wall, cpu = time.perf_counter(), time.process_time()
    study.optimize(lambda t: -(t.suggest_float("x", 0, 1) - 0.3) ** 2, n_trials=trials)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall_ms": wall / trials * 1000, "cpu_ms": cpu / trials * 1000}


# -- reading a large job ----------------------------------------------------------------------


def reading_latency(home: Path, repeat: int) -> dict[str, float]:
    """``describe`` and a page of 100 training jobs: in process on a fresh store, and as whole
    commands (interpreter start-up included)."""
    from tunesmith import service
    from tunesmith.store import Store, store_url

    def in_process(call: Callable[[Any], Any], calls: int = 1) -> float:
        """The last of ``calls`` calls on a store opened for them (the first one also connects
        and compiles its statements)."""
        store = Store(store_url(home))
        for _ in range(calls):
            started = time.perf_counter()
            call(store)
            elapsed = time.perf_counter() - started
        store.close()
        return elapsed * 1000

    def command(*arguments: str) -> float:
        started = time.perf_counter()
        subprocess.run([*_tunesmith_command(), "--home", str(home), *arguments], check=True,
                       stdout=subprocess.DEVNULL)
        return (time.perf_counter() - started) * 1000

    def describe(store: Any) -> Any:
        return service.describe_tuning_job(store, BOOKKEEPING_JOB)

    def page(store: Any) -> Any:
        return service.list_training_jobs_for_tuning_job(store, BOOKKEEPING_JOB, max_results=100)

    return {
        "describe_ms": median_of(repeat, lambda: in_process(describe, 2))[0],
        "page_ms": median_of(repeat, lambda: in_process(page, 2))[0],
        "describe_first_ms": median_of(repeat, lambda: in_process(describe))[0],
        "page_first_ms": median_of(repeat, lambda: in_process(page))[0],
        "describe_command_ms": median_of(repeat, lambda: command("describe", BOOKKEEPING_JOB))[0],
        "jobs_json_command_ms": median_of(
            repeat, lambda: command("jobs", BOOKKEEPING_JOB, "--json")
        )[0],
        "cli_import_ms": median_of(repeat, _cli_import_ms)[0],
    }


def _tunesmith_command() -> list[str]:
    script = Path(sys.executable).parent / "tunesmith"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from tunesmith.cli import main; main()"]


def _cli_import_ms() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tunesmith.cli"], check=True)
    return (time.perf_counter() - started) * 1000


# -- the run ----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--launches", type=int, default=10, help="launches per start mode")
    parser.add_argument("--digits-jobs", type=int, default=50)
    parser.add_argument("--digits-cold", action="store_true",
                        help="also run the digits job with every training job started cold")
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--optuna-trials", type=int, default=1_000,
                        help="trials of each Optuna storage run (its cost per trial only grows "
                             "with the count, so fewer trials flatter it)")
    parser.add_argument("--parts", default="launch,digits,bookkeeping",
                        help="what to measure again (reading is measured with bookkeeping); "
                             "the other figures are kept from the last results")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    os.nice(NICE)
    load_before = load()
    started = time.time()
    figures: dict[str, Any] = {}
    if parts != {"launch", "digits", "bookkeeping"}:
        figures = json.loads((RESULTS / "overhead.json").read_text())
    figures.update(load_before=load_before, repeat=args.repeat)
    with tempfile.TemporaryDirectory(prefix="tunesmith-overhead-") as folder:
        work = Path(folder)
        if "launch" in parts:
            measure_launches(figures, work, args)
        if "digits" in parts:
            measure_digits(figures, work, args)
        if "bookkeeping" in parts:
            measure_bookkeeping(figures, work, args)
        elif "reading" in parts:
            bookkeeping_tunesmith(work / "books-0", args.trials)
            figures["reading"] = reading_latency(work / "books-0", max(args.repeat, 5))
            figures["load_reading"] = load()
    figures["load_after"] = load()
    figures["seconds"] = time.time() - started
    report = render(figures, args)
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "overhead.md").write_text(report)
    (RESULTS / "overhead.json").write_text(json.dumps(figures, indent=2) + "\n")


def measure_launches(figures: dict[str, Any], work: Path, args: argparse.Namespace) -> None:
    print("launch overhead ...", flush=True)
    figures["launch"] = medians(
        [launch_overhead(work / f"launch-{i}", args.launches) for i in range(args.repeat)]
    )
    figures["load_launch"] = load()


def measure_digits(figures: dict[str, Any], work: Path, args: argparse.Namespace) -> None:
    print("digits ...", flush=True)
    source = digits_source(work)

    def tunesmith_runs(mode: str) -> dict[str, float]:
        return medians([digits_tunesmith(work, source, args.digits_jobs, mode, i)
                        for i in range(args.repeat)])

    figures["digits"] = tunesmith_runs("pool")
    digits_tunesmith(work, source, args.digits_jobs, "warm", -1)  # leaves its server ready
    figures["digits_warm"] = tunesmith_runs("warm")
    if args.digits_cold:
        figures["digits_cold"] = tunesmith_runs("cold")
    figures["digits_optuna"] = medians(
        [digits_optuna(source, args.digits_jobs) for _ in range(args.repeat)]
    )
    figures["load_digits"] = load()


def measure_bookkeeping(figures: dict[str, Any], work: Path, args: argparse.Namespace) -> None:
    print("bookkeeping ...", flush=True)
    figures["bookkeeping"] = medians(
        [bookkeeping_tunesmith(work / f"books-{i}", args.trials) for i in range(args.repeat)]
    )
    for kind in ("rdb", "journal"):
        figures[f"bookkeeping_optuna_{kind}"] = medians(
            [bookkeeping_optuna(work, args.optuna_trials, kind) for _ in range(args.repeat)]
        )

    figures["optuna_trials"] = args.optuna_trials
    figures["load_bookkeeping"] = load()
    print("reading ...", flush=True)
    figures["reading"] = reading_latency(work / "books-0", max(args.repeat, 5))


def render(f: dict[str, Any], args: argparse.Namespace) -> str:
    launch, digits, optuna = f["launch"], f["digits"], f["digits_optuna"]
    books, reading = f["bookkeeping"], f["reading"]
    rdb, journal = f["bookkeeping_optuna_rdb"], f["bookkeeping_optuna_journal"]
    rows = [
        ("launch, pool / cold (s per job)", launch["pool"], launch["cold"],
         launch["ratio"], f"≤ {GOAL_LAUNCH_RATIO:g}"),
        (f"digits {args.digits_jobs} jobs, wall / physical limit (s)", digits["wall"],
         digits["physical_limit"], digits["wall"] / digits["physical_limit"],
         f"≤ {GOAL_PHYSICAL_RATIO:g}"),
        ("digits, wall / Optuna in-process n_jobs=2 (s)", digits["wall"], optuna["wall"],
         digits["wall"] / optuna["wall"], f"≤ {GOAL_OPTUNA_RATIO:g}"),
        *([("digits, fork server left ready by an earlier job, wall / physical limit (s)",
            warm["wall"], warm["physical_limit"], warm["wall"] / warm["physical_limit"],
            f"≤ {GOAL_PHYSICAL_RATIO:g}")] if (warm := f.get("digits_warm")) else []),
        ("bookkeeping per trial, wall / Optuna RDB SQLite (ms)", books["wall_ms"],
         rdb["wall_ms"], books["wall_ms"] / rdb["wall_ms"], f"≤ {GOAL_BOOKKEEPING_RATIO:.2f}"),
        ("bookkeeping per trial, wall / Optuna JournalStorage (ms)", books["wall_ms"],
         journal["wall_ms"], books["wall_ms"] / journal["wall_ms"], ""),
        ("bookkeeping per trial, CPU / Optuna RDB SQLite (ms)", books["cpu_ms"],
         rdb["cpu_ms"], books["cpu_ms"] / rdb["cpu_ms"], ""),
        (f"describe at {args.trials} trials, in process (ms)", reading["describe_ms"],
         GOAL_DESCRIBE_MS, reading["describe_ms"] / GOAL_DESCRIBE_MS, "≤ 1 (goal 50 ms)"),
        ("page of 100 training jobs, in process (ms)", reading["page_ms"], GOAL_PAGE_MS,
         reading["page_ms"] / GOAL_PAGE_MS, "≤ 1 (goal 100 ms)"),
    ]
    lines = [
        f"# Overhead (median of {args.repeat}; nice {NICE})",
        "",
        f"Load average before: {f['load_before']}; after: {f['load_after']}.",
        *(f"Load average, {part} figures: {f[f'load_{part}']}." for part in
          ("launch", "digits", "bookkeeping", "reading") if f"load_{part}" in f),
        "",
        "| measure | tunesmith | reference | ratio | goal |",
        "|---|---:|---:|---:|---|",
        *(f"| {m} | {a:.4g} | {b:.4g} | {r:.3f} | {g} |" for m, a, b, r, g in rows),
        "",
        f"- Launch: cold {launch['cold'] * 1000:.0f} ms, pool {launch['pool'] * 1000:.0f} ms per "
        f"job; the pool's first job (its server importing scikit-learn) took "
        f"{launch['pool_first']:.2f} s.",
        f"- Digits: sum of the scripts' fit times {digits['fit_sum']:.1f} s (physical limit "
        f"{digits['physical_limit']:.1f} s at 2 in parallel); Optuna's fits summed "
        f"{optuna['fit_sum']:.1f} s.",
    ]
    if "first_fit" in digits:
        after = digits["wall"] - digits["first_fit"]
        lines.append(
            f"- Digits: the first fit started {digits['first_fit']:.2f} s after the job was "
            f"created (the pool's server importing the script's modules); from there to the end "
            f"{after:.1f} s, {after / digits['physical_limit']:.2f} × the physical limit."
        )
    if "digits_warm" in f:
        warm = f["digits_warm"]
        lines.append(
            f"- Digits with the fork server an earlier tuning job of the process left ready: "
            f"first fit {warm['first_fit']:.2f} s after the job was created, "
            f"{warm['wall']:.1f} s in all."
        )
    if "digits_cold" in f:
        cold = f["digits_cold"]
        lines.append(f"- Digits with every training job started cold: {cold['wall']:.1f} s "
                     f"({cold['wall'] / cold['physical_limit']:.2f} × its physical limit).")
    lines += [
        f"- Bookkeeping: tunesmith over {args.trials} trials; Optuna over "
        f"{f.get('optuna_trials', args.optuna_trials)} trials per storage (its cost per trial "
        "grows with the count). "
        f"Journal: {journal['wall_ms']:.2f} ms per trial.",
        f"- In process, the first call on a newly opened store (connecting, compiling its "
        f"statements): describe {reading['describe_first_ms']:.0f} ms, a page "
        f"{reading['page_first_ms']:.0f} ms; the table shows the next call.",
        f"- Whole commands at {args.trials} trials: `tunesmith describe` "
        f"{reading['describe_command_ms']:.0f} ms, `tunesmith jobs --json` (every page) "
        f"{reading['jobs_json_command_ms']:.0f} ms; `import tunesmith.cli` alone "
        f"{reading['cli_import_ms']:.0f} ms.",
        f"- {f['seconds']:.0f} s in all.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
