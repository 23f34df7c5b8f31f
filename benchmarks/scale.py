"""Many short training jobs on a Ray cluster: how much of the cluster's slot time goes to
training, tunesmith against Ray Tune.

Starts a local Ray cluster declared with ``--cpus`` CPUs (64 by default: the training jobs only
sleep, so the machine's real cores are not the limit), then

* tunesmith: one tuning job (Random strategy) of ``--jobs`` training jobs, ``--parallel`` at a
  time, on the Ray backend; each training job is a shell script sleeping the duration drawn
  for its ``duration`` hyperparameter (uniform between ``--min-sleep`` and ``--max-sleep``).
  Meanwhile another process asks DescribeHyperParameterTuningJob in a loop.
* Ray Tune: its Tuner with the same number of trials, concurrency and drawn durations, each
  trial a function sleeping that duration, with its actors reused.

Slot utilisation = busy slot-time / available slot-time, where busy is the sum of the drawn
sleep durations (the training itself) and available is parallel × wall time from the first
launch to the end of the last training job. Overhead per training job = (available − busy) /
jobs: what scheduling, starting, following and recording one training job costs in slot time.

Ray Tune runs for at most twice tunesmith's wall time (``--peer-budget``); the trials it
finished by then count. Prints a table against the goals (utilisation ≥ 0.95, overhead per job
≤ Ray Tune's) and writes it under benchmarks/results/.

    python benchmarks/scale.py [--jobs 2000] [--parallel 64] [--cpus 64] [--peer-budget 1800]
"""

from __future__ import annotations

import argparse
import bisect
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
GOAL_UTILISATION = 0.95
TRAIN = 'sleep "$SM_HP_DURATION"\necho "score: $SM_HP_DURATION"\n'


@dataclass
class Outcome:
    peer: str
    jobs: int
    wall_seconds: float
    busy_seconds: float
    parallel: int
    breakdown: dict[str, float] = field(default_factory=dict)

    @property
    def utilisation(self) -> float:
        return self.busy_seconds / (self.parallel * self.wall_seconds)

    @property
    def overhead_per_job(self) -> float:
        return (self.parallel * self.wall_seconds - self.busy_seconds) / self.jobs


def _describe_loop(home: str, name: str, stop_file: str, out_file: str) -> None:
    """In a process of its own: DescribeHyperParameterTuningJob until ``stop_file`` exists."""
    import tunesmith

    latencies = []
    while not os.path.exists(stop_file):
        started = time.perf_counter()
        try:
            tunesmith.describe_tuning_job(name, home=home)
        except tunesmith.TunesmithError:
            pass  # not created yet
        latencies.append(time.perf_counter() - started)
        time.sleep(0.05)
    Path(out_file).write_text(json.dumps(latencies))


def run_tunesmith(args: argparse.Namespace, folder: Path) -> tuple[Outcome, list[float]]:
    import tunesmith
    from tunesmith.api import Workspace

    source = folder / "source"
    source.mkdir()
    (source / "train.sh").write_text(TRAIN)
    home = folder / "home"
    document = {
        "HyperParameterTuningJobName": "scale",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "RandomSeed": 1,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "score"},
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": args.jobs,
                "MaxParallelTrainingJobs": args.parallel,
            },
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {
                        "Name": "duration",
                        "MinValue": str(args.min_sleep),
                        "MaxValue": str(args.max_sleep),
                    }
                ]
            },
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                "sagemaker_program": "train.sh",
                "sagemaker_submit_directory": str(source),
            },
            "AlgorithmSpecification": {
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "score", "Regex": r"score: ([0-9.]+)"}],
            },
        },
    }
    stop_file, out_file = folder / "stop-describing", folder / "describe.json"
    prober = multiprocessing.get_context("spawn").Process(
        target=_describe_loop, args=(str(home), "scale", str(stop_file), str(out_file))
    )
    prober.start()
    try:
        job = tunesmith.create_tuning_job(document, home=home, detach=False, backend="ray")
        described = job.wait()
    finally:
        stop_file.touch()
        prober.join(60)
    assert described["HyperParameterTuningJobStatus"] == "Completed", described
    records = Workspace.open(home).store.training_jobs("scale")
    first = min(r.created for r in records)
    last = max(r.end_time for r in records if r.end_time is not None)
    busy = sum(float(r.hyperparameters["duration"]) for r in records if r.status == "Completed")
    completed = sum(r.status == "Completed" for r in records)
    latencies = json.loads(out_file.read_text())
    outcome = Outcome("tunesmith", completed, last - first, busy, args.parallel)
    outcome.breakdown = breakdown(records, args.parallel)
    return outcome, latencies


def breakdown(records: list, parallel: int) -> dict[str, float]:
    """Where the slot time went, from the store's times (medians in seconds)."""
    records = sorted(records, key=lambda r: r.created)
    first = records[0].created
    ends = sorted(r.end_time for r in records)
    gaps = []
    for record in records[parallel:]:
        freed = bisect.bisect_right(ends, record.created)
        if freed:
            gaps.append(record.created - ends[freed - 1])
    later = records[parallel:] or records
    return {
        **phases(records, parallel),
        "first_start_mean": statistics.mean(r.start_time - first for r in records[:parallel]),
        "slot_freed_to_created": statistics.median(gaps) if gaps else float("nan"),
        "created_to_started": statistics.median(r.start_time - r.created for r in later),
        "started_to_ended_beyond_sleep": statistics.median(
            r.end_time - r.start_time - float(r.hyperparameters["duration"]) for r in records
        ),
    }


PHASES = ("ramp-up", "steady state", "drain")


def phases(records: list, parallel: int) -> dict[str, float]:
    """Slot time lost per training job, and utilisation, in each phase of the run (``records``
    in the order they were created): the ramp-up until every slot's first training job has
    started, the steady state until the last training job is created, the drain until the last
    one ends."""
    ramp_end = max(r.start_time for r in records[:parallel])
    drain_start = max(ramp_end, records[-1].created)
    windows = zip(PHASES, (records[0].created, ramp_end, drain_start),
                  (ramp_end, drain_start, max(r.end_time for r in records)), strict=True)
    out = {}
    for phase, start, end in windows:
        busy = sum(
            max(0.0, min(end, r.start_time + float(r.hyperparameters["duration"]))
                - max(start, r.start_time))
            for r in records if r.status == "Completed"
        )
        available = parallel * (end - start)
        out[f"{phase} seconds"] = end - start
        out[f"{phase} lost per job"] = (available - busy) / len(records)
        out[f"{phase} utilisation"] = busy / available if available else float("nan")
    return out


def run_ray_tune(args: argparse.Namespace, folder: Path, budget: float) -> Outcome:
    """Ray Tune's Tuner for at most ``budget`` seconds; counts the trials that finished."""
    from ray import tune

    def sleeper(config: dict) -> None:
        time.sleep(config["duration"])
        tune.report({"score": config["duration"]})

    tuner = tune.Tuner(
        tune.with_resources(sleeper, {"cpu": 1}),
        param_space={"duration": tune.uniform(args.min_sleep, args.max_sleep)},
        tune_config=tune.TuneConfig(
            num_samples=args.jobs,
            max_concurrent_trials=args.parallel,
            metric="score",
            mode="max",
            reuse_actors=True,  # Ray Tune at its fastest, as tunesmith reuses its actors
            time_budget_s=budget,
        ),
        run_config=tune.RunConfig(storage_path=str(folder / "ray-tune"), verbose=0),
    )
    started = time.time()
    results = tuner.fit()
    wall = time.time() - started
    finished = [r for r in results if r.error is None and "score" in (r.metrics or {})]
    busy = sum(r.config["duration"] for r in finished)
    return Outcome("Ray Tune", len(finished), wall, busy, args.parallel)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def report(args: argparse.Namespace, outcomes: list[Outcome], latencies: list[float]) -> str:
    lines = [
        f"{args.jobs} training jobs sleeping U({args.min_sleep:g}, {args.max_sleep:g}) s, "
        f"{args.parallel} at a time, on a local Ray cluster declared with {args.cpus} CPUs "
        f"({os.cpu_count()} real cores)",
        "",
        f"{'peer':<10} {'jobs':>6} {'wall s':>8} {'busy s':>9} {'utilisation':>12} "
        f"{'overhead s/job':>15}",
    ]
    for o in outcomes:
        if o.jobs < args.jobs:
            lines.append(f"({o.peer} finished {o.jobs} of {args.jobs} within its time budget)")
        lines.append(
            f"{o.peer:<10} {o.jobs:>6} {o.wall_seconds:>8.1f} {o.busy_seconds:>9.1f} "
            f"{o.utilisation:>12.3f} {o.overhead_per_job:>15.3f}"
        )
    ours = outcomes[0]
    if ours.breakdown:
        b = ours.breakdown
        lines += [
            "",
            "tunesmith's slot time: a slot's first training job started "
            f"{b['first_start_mean']:.1f} s after the first was created (mean); then, per "
            "training job "
            f"(medians): slot freed → next created {b['slot_freed_to_created']:.2f} s, created → "
            f"script started on the node {b['created_to_started']:.2f} s, started → end recorded "
            f"beyond the sleep {b['started_to_ended_beyond_sleep']:.2f} s",
        ]
        if "drain seconds" in b:
            lines.append("slot time lost per training job by phase: " + "; ".join(
                f"{phase} ({b[f'{phase} seconds']:.0f} s) {b[f'{phase} lost per job']:.2f} "
                f"slot-s, utilisation {b[f'{phase} utilisation']:.3f}" for phase in PHASES
            ))
    lines.append("")
    if len(outcomes) > 1:
        peer = outcomes[1]
        lines.append(
            f"ratios tunesmith/Ray Tune: utilisation {ours.utilisation / peer.utilisation:.3f}, "
            f"overhead per job {ours.overhead_per_job / peer.overhead_per_job:.3f}"
        )
        met_overhead = ours.overhead_per_job <= peer.overhead_per_job
        lines.append(f"goal overhead per job ≤ Ray Tune's: {'met' if met_overhead else 'not met'}")
    met = ours.utilisation >= GOAL_UTILISATION
    lines.append(
        f"goal utilisation ≥ {GOAL_UTILISATION}: {'met' if met else 'not met'} "
        f"(ratio to goal {ours.utilisation / GOAL_UTILISATION:.3f})"
    )
    lines.append(
        f"DescribeHyperParameterTuningJob during the run (another process, {len(latencies)} "
        f"calls): p50 {1000 * statistics.median(latencies):.1f} ms, "
        f"p99 {1000 * _percentile(latencies, 0.99):.1f} ms, "
        f"max {1000 * max(latencies):.1f} ms"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--parallel", type=int, default=64)
    parser.add_argument("--cpus", type=int, default=64)
    # Tens of seconds, as short training jobs take; sleeping, so the cores are not the limit.
    parser.add_argument("--min-sleep", type=float, default=30.0)
    parser.add_argument("--max-sleep", type=float, default=90.0)
    parser.add_argument("--no-peer", action="store_true", help="Leave Ray Tune out")
    parser.add_argument(
        "--peer-budget",
        type=float,
        help="Seconds Ray Tune may run (default: twice tunesmith's wall time); the trials it "
        "finished in them count",
    )
    args = parser.parse_args()

    import ray

    with tempfile.TemporaryDirectory(prefix="tunesmith-scale-") as temp:
        folder = Path(temp)
        ray.init(num_cpus=args.cpus, num_gpus=0, include_dashboard=False, log_to_driver=False)
        try:
            ours, latencies = run_tunesmith(args, folder)
            outcomes = [ours]
            print(report(args, outcomes, latencies), flush=True)
            if not args.no_peer:
                budget = args.peer_budget or 2 * ours.wall_seconds
                outcomes.append(run_ray_tune(args, folder, budget))
        finally:
            ray.shutdown()
    text = report(args, outcomes, latencies)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if (args.jobs, args.parallel) == (2000, 64) else f"_{args.jobs}x{args.parallel}"
    (RESULTS / f"scale{suffix}.txt").write_text(text + "\n")
    (RESULTS / f"scale{suffix}.json").write_text(
        json.dumps(
            {
                "arguments": vars(args),
                "outcomes": [
                    {
                        **asdict(o),
                        "utilisation": o.utilisation,
                        "overhead_per_job": o.overhead_per_job,
                    }
                    for o in outcomes
                ],
                "describe_seconds": {
                    "p50": statistics.median(latencies),
                    "p99": _percentile(latencies, 0.99),
                    "max": max(latencies),
                    "count": len(latencies),
                },
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
