"""The ``tunesmith`` command."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Column, Table
from rich.text import Text

from tunesmith import service
from tunesmith.api import (
    TrainingJob,
    Workspace,
    load_request,
    remove_tuning_job,
    request_stop,
)
from tunesmith.launch import run_engine, spawn_engine
from tunesmith.model.errors import TunesmithError
from tunesmith.runner.backend import Backend
from tunesmith.store import TERMINAL_STATUSES
from tunesmith.warm_start import lineage

if TYPE_CHECKING:  # the engine loads when a job runs here
    from tunesmith.engine import TuningEngine

app = typer.Typer(
    name="tunesmith",
    help="Automatic model tuning on your own machines, with the SageMaker tuning API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console()
REFRESH_SECONDS = 0.5


class _Options:
    home: Path | None = None
    store: str | None = None
    backend: Backend | None = None
    """The backend chosen by option or environment; None: a new tuning job runs locally, one
    resumed on what its last engine recorded."""

    @classmethod
    def workspace(cls) -> Workspace:
        return Workspace.open(cls.home, cls.store)


@app.callback()
def _global(
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            envvar="TUNESMITH_HOME",
            help="Folder of the store and the training jobs' files [default: ./.tunesmith]",
            show_default=False,
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            envvar="TUNESMITH_STORE",
            help="Store URL: sqlite:///PATH or postgresql://USER@HOST/DB, shared by engines and "
            "servers [default: the home's SQLite file]",
            show_default=False,
        ),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            envvar="TUNESMITH_BACKEND",
            help="What runs the training jobs: local (processes here) or ray [default: local]",
            show_default=False,
        ),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="HOST:PORT of the Ray cluster's head (implies --backend ray; default "
            "TUNESMITH_RAY_ADDRESS)",
            show_default=False,
        ),
    ] = None,
) -> None:
    _Options.home = home
    _Options.store = store
    _Options.backend = Backend.given(backend, ray_address)


# -- tune -------------------------------------------------------------------------------------


@app.command()
def tune(
    specs: Annotated[
        list[Path],
        typer.Argument(
            help="CreateHyperParameterTuningJob requests, JSON or YAML; several run side by side",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
            metavar="SPEC",
        ),
    ],
    name: Annotated[
        list[str] | None,
        typer.Option(help="Tuning job name overriding the file's; repeat it once per file"),
    ] = None,
    detach: Annotated[
        bool, typer.Option("--detach", help="Run in the background and return at once")
    ] = False,
    warm_start_from: Annotated[
        list[str] | None,
        typer.Option(help="Parent tuning job to start from (repeat for up to 5)"),
    ] = None,
    warm_start_type: Annotated[
        str, typer.Option(help="IdenticalDataAndAlgorithm or TransferLearning")
    ] = "IdenticalDataAndAlgorithm",
) -> None:
    """Run tuning jobs, showing their progress until they end."""
    if name and len(name) != len(specs):
        raise typer.BadParameter(
            f"got {len(name)} --name for {len(specs)} files; give one per file or none",
            param_hint="--name",
        )
    workspace = _Options.workspace()
    overrides = name or [None] * len(specs)
    requests = [
        load_request(spec, name=n, warm_start_from=warm_start_from, warm_start_type=warm_start_type)
        for spec, n in zip(specs, overrides, strict=True)
    ]
    names = [r["HyperParameterTuningJobName"] for r in requests]
    if len(set(names)) != len(names):
        raise typer.BadParameter("two files name the same tuning job", param_hint="--name")
    for request in requests:
        service.create_tuning_job_record(workspace.store, request)
    if detach:
        for job_name in names:
            pid = spawn_engine(job_name, workspace.home, workspace.store.url, _Options.backend)
            console.print(f"Tuning job {job_name} started in the background (engine pid {pid}).")
        console.print(f"Follow it with: tunesmith describe {names[0]}")
        return
    statuses = _run_with_progress(workspace, names)
    for job_name in names:
        _print_outcome(workspace, job_name)
    if any(status == "Failed" for status in statuses):
        raise typer.Exit(1)
    raise typer.Exit(130 if any(status == "Stopped" for status in statuses) else 0)


def _run_with_progress(workspace: Workspace, names: list[str]) -> list[str]:
    """Run the engines in threads of this process while showing their progress; Ctrl-C stops
    every job (their training jobs get their grace period) and waits for them to end."""
    engines: list[TuningEngine] = []
    finished = {job_name: threading.Event() for job_name in names}
    conflicts: list[TunesmithError] = []

    def run(job_name: str) -> None:
        try:
            run_engine(
                workspace.store, job_name, workspace.home, on_start=engines.append,
                backend=_Options.backend,
            )
        except TunesmithError as error:  # another engine runs the job
            conflicts.append(error)
        finally:
            finished[job_name].set()

    display = _LiveProgress(names) if console.is_terminal else _LineProgress(names)
    # Ctrl-C is caught from before the engines start: none may run on without being stopped.
    with _interrupts() as interrupted, display:
        for job_name in names:
            threading.Thread(target=run, args=(job_name,), name=f"tunesmith-{job_name}").start()
        stopping = False
        while not all(event.is_set() for event in finished.values()):
            next(e for e in finished.values() if not e.is_set()).wait(REFRESH_SECONDS)
            if interrupted.is_set() and not stopping:
                # An engine yet to start finds its tuning job stopping, and stops it.
                stopping = True
                for job_name in names:
                    workspace.store.update_tuning_job(
                        job_name, status="Stopping", only_if_status=["InProgress"]
                    )
                for engine in engines:
                    engine.request_stop()
                console.print("Stopping: the running training jobs are being stopped…")
            display.show(workspace)
        display.show(workspace)
    if conflicts:
        raise conflicts[0]
    return [workspace.store.get_tuning_job(job_name).status for job_name in names]


@contextlib.contextmanager
def _interrupts() -> Iterator[threading.Event]:
    """An event set by Ctrl-C (SIGINT) for the duration, instead of a KeyboardInterrupt.

    Raised at whatever line the main thread was on, a KeyboardInterrupt could cut a store
    transaction or the display short and leave this process waiting, without a stop requested,
    for engine threads that run to the end of their training jobs."""
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.set())
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass(frozen=True)
class _Progress:
    """What the progress display shows of one tuning job."""

    name: str
    status: str
    strategy: str
    elapsed: float
    total: int
    finished: int
    running: int
    failed: int
    stopped: int
    best: tuple[str, str] | None
    """``<metric> <value>`` and the best training job's name."""

    @classmethod
    def of(cls, workspace: Workspace, name: str) -> _Progress:
        doc = service.describe_tuning_job(workspace.store, name)
        ended = doc.get("HyperParameterTuningEndTime")
        counters = doc["TrainingJobStatusCounters"]
        failed = counters["RetryableError"] + counters["NonRetryableError"]
        finished = counters["Completed"] + counters["Stopped"] + failed
        limit = doc["HyperParameterTuningJobConfig"]["ResourceLimits"].get(
            "MaxNumberOfTrainingJobs"
        )
        best_job = doc.get("BestTrainingJob")
        best = None
        if best_job:
            metric = best_job["FinalHyperParameterTuningJobObjectiveMetric"]
            best = (f"{metric['MetricName']} {metric['Value']:.6g}", best_job["TrainingJobName"])
        return cls(
            name=name,
            status=doc["HyperParameterTuningJobStatus"],
            strategy=doc["HyperParameterTuningJobConfig"].get("Strategy", "Bayesian"),
            elapsed=((ended or datetime.now(UTC)) - doc["CreationTime"]).total_seconds(),
            total=limit or max(finished + counters["InProgress"], 1),
            finished=finished,
            running=counters["InProgress"],
            failed=failed,
            stopped=counters["Stopped"],
            best=best,
        )

    @property
    def counts(self) -> str:
        return (
            f"training jobs {self.finished}/{self.total} done, {self.running} running, "
            f"{self.failed} failed, {self.stopped} stopped"
        )

    def view(self) -> Group:
        header = Text.assemble(
            (f"{self.name} ", "bold"),
            (self.status, _status_style(self.status)),
            f"  {self.strategy}  {_duration(self.elapsed)}",
        )
        bar = Table.grid(padding=(0, 2))
        bar.add_row(ProgressBar(total=self.total, completed=self.finished, width=20), self.counts)
        if self.best is None:
            return Group(header, bar, Text("best —", style="dim"))
        value, job = self.best
        return Group(header, bar, Text.assemble("best ", (value, "bold green"), f"  ({job})"))


class _LiveProgress:
    """In a terminal: every job's progress, redrawn in place."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.live = Live(console=console, refresh_per_second=4)

    def __enter__(self) -> _LiveProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(*exc)  # type: ignore[arg-type]

    def show(self, workspace: Workspace) -> None:
        self.live.update(Group(*(_Progress.of(workspace, n).view() for n in self.names)))


class _LineProgress:
    """Piped to a file or a log: one line per job whenever its counts, status or best
    change, so that progress shows as it happens and the log stays readable."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.shown: dict[str, tuple] = {}

    def __enter__(self) -> _LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def show(self, workspace: Workspace) -> None:
        for name in self.names:
            progress = _Progress.of(workspace, name)
            state = (progress.status, progress.finished, progress.running, progress.best)
            if self.shown.get(name) == state:
                continue
            self.shown[name] = state
            best = f"; best {progress.best[0]} ({progress.best[1]})" if progress.best else ""
            console.print(
                f"{name} {progress.status} {_duration(progress.elapsed)}: {progress.counts}{best}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )


def _status_style(status: str) -> str:
    return {"Completed": "green", "Failed": "red", "Stopped": "yellow"}.get(status, "cyan")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _print_outcome(workspace: Workspace, name: str) -> None:
    # Whole lines (soft wrap): a terminal folds them itself, and a log keeps them greppable.
    job = workspace.store.get_tuning_job(name)
    doc = service.describe_tuning_job(workspace.store, name)
    console.print(
        f"Tuning job {name} ended [{_status_style(job.status)}]{job.status}[/]: "
        f"{job.completion_reason or ''}",
        highlight=False,
        soft_wrap=True,
    )
    if job.failure_reason and job.status == "Failed":
        console.print(
            f"Failure reason: {job.failure_reason}", highlight=False, markup=False, soft_wrap=True
        )
    if job.end_time is not None:
        parallel = doc["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"]
        busy = workspace.store.consumed_seconds(name, job.end_time)
        console.print(
            f"Wall time {job.end_time - job.created:.1f} s; the training jobs ran {busy:.1f} s in "
            f"all, {busy / parallel:.1f} s spread over {parallel} slots",
            highlight=False,
            soft_wrap=True,
        )
    if best := doc.get("BestTrainingJob"):
        metric = best["FinalHyperParameterTuningJobObjectiveMetric"]
        console.print(
            f"Best training job {best['TrainingJobName']}: {metric['MetricName']} = "
            f"{metric['Value']:.6g} with "
            + ", ".join(f"{k}={v}" for k, v in best["TunedHyperParameters"].items()),
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


# -- inspection -------------------------------------------------------------------------------


def _json(document: Any) -> None:
    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        raise TypeError(type(value).__name__)

    sys.stdout.write(json.dumps(document, indent=2, default=default) + "\n")


def _name_column(header: str, names: list[str]) -> Column:
    """A column that shows every name whole, however narrow the terminal: names are what the
    other commands take."""
    return Column(header, no_wrap=True, min_width=max(map(len, names), default=0))


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


@app.command()
def describe(
    name: str,
    as_json: Annotated[
        bool, typer.Option("--json", help="The DescribeHyperParameterTuningJob response")
    ] = False,
) -> None:
    """Show a tuning job: status, counters, best training job."""
    workspace = _Options.workspace()
    doc = service.describe_tuning_job(workspace.store, name)
    if as_json:
        _json(doc)
        return
    job = workspace.store.get_tuning_job(name)
    config = doc["HyperParameterTuningJobConfig"]
    objective = config["HyperParameterTuningJobObjective"]
    counters = doc["TrainingJobStatusCounters"]
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")  # paths and names whole
    table.add_row("Tuning job", name)
    table.add_row("Status", Text(job.status, style=_status_style(job.status)))
    if service.engine_lost(job):
        heard = "never" if job.heartbeat is None else _when(datetime.fromtimestamp(job.heartbeat))
        table.add_row(
            "Engine",
            Text(f"none runs it (last heard from: {heard}); `tunesmith resume {name}` "
                 "continues it", style="bold yellow"),
        )
    if job.completion_reason:
        table.add_row("Ended because", job.completion_reason)
    if doc.get("FailureReason"):
        table.add_row("Failure reason", Text(doc["FailureReason"]))
    table.add_row("Strategy", config.get("Strategy", "Bayesian"))
    ran_on = Backend.from_record(job.backend)
    if ran_on is not None and ran_on.name != "local":
        table.add_row("Backend", f"{ran_on.name} at {ran_on.ray_address or 'its default address'}")
    table.add_row("Objective", f"{objective['Type']} {objective['MetricName']}")
    table.add_row("Created", _when(doc["CreationTime"]))
    table.add_row("Ended", _when(doc.get("HyperParameterTuningEndTime")))
    table.add_row(
        "Training jobs",
        f"{counters['Completed']} completed, {counters['InProgress']} in progress, "
        f"{counters['Stopped']} stopped, "
        f"{counters['RetryableError'] + counters['NonRetryableError']} failed "
        f"(of at most {config['ResourceLimits'].get('MaxNumberOfTrainingJobs', '—')}, "
        f"{config['ResourceLimits']['MaxParallelTrainingJobs']} in parallel)",
    )
    table.add_row("Training time", f"{doc['ConsumedResources']['RuntimeInSeconds']} s")
    if warm := doc.get("WarmStartConfig"):
        parents = [p["HyperParameterTuningJobName"] for p in warm["ParentHyperParameterTuningJobs"]]
        table.add_row("Warm start from", f"{', '.join(parents)} ({warm['WarmStartType']})")
        ancestors = [a.name for a in lineage(workspace.store, name)]
        if len(ancestors) > len(parents):
            table.add_row("Lineage", " ← ".join([name, *ancestors]))
    if best := doc.get("BestTrainingJob"):
        metric = best["FinalHyperParameterTuningJobObjectiveMetric"]
        table.add_row("Best training job", best["TrainingJobName"])
        table.add_row(
            f"  {metric['MetricName']}", Text(f"{metric['Value']:.6g}", style="bold green")
        )
        for key, value in best["TunedHyperParameters"].items():
            table.add_row(f"  {key}", value)
    else:
        table.add_row("Best training job", "—")
    if (overall := doc.get("OverallBestTrainingJob")) and overall["TrainingJobName"] != (
        doc.get("BestTrainingJob") or {}
    ).get("TrainingJobName"):
        metric = overall["FinalHyperParameterTuningJobObjectiveMetric"]
        table.add_row(
            "Overall best",
            f"{overall['TrainingJobName']} of {overall['TuningJobName']}: "
            f"{metric['MetricName']} {metric['Value']:.6g}",
        )
    console.print(table)


@app.command("list")
def list_jobs(
    as_json: Annotated[
        bool, typer.Option("--json", help="The ListHyperParameterTuningJobs response")
    ] = False,
) -> None:
    """List tuning jobs, newest first."""
    workspace = _Options.workspace()
    summaries = service.all_pages(
        lambda token: service.list_tuning_jobs(workspace.store, next_token=token),
        "HyperParameterTuningJobSummaries",
    )
    if as_json:
        _json({"HyperParameterTuningJobSummaries": summaries})
        return
    table = Table(
        _name_column("Tuning job", [s["HyperParameterTuningJobName"] for s in summaries]),
        Column("Status", no_wrap=True), "Strategy", "Training jobs", "Created", box=None,
    )
    for s in summaries:
        c = s["TrainingJobStatusCounters"]
        done = c["Completed"] + c["Stopped"] + c["RetryableError"] + c["NonRetryableError"]
        most = s.get("ResourceLimits", {}).get("MaxNumberOfTrainingJobs", "—")
        name, status = s["HyperParameterTuningJobName"], s["HyperParameterTuningJobStatus"]
        lost = status not in TERMINAL_STATUSES and service.engine_lost(
            workspace.store.get_tuning_job(name)
        )
        table.add_row(
            name,
            Text(f"{status} (no engine)", style="bold yellow") if lost
            else Text(status, style=_status_style(status)),
            s["Strategy"],
            f"{done}/{most}",
            _when(s["CreationTime"]),
        )
    console.print(table)


@app.command()
def jobs(
    name: str,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="The ListTrainingJobsForHyperParameterTuningJob response"),
    ] = False,
    sort_by: Annotated[
        str, typer.Option(help="Name, CreationTime, Status or FinalObjectiveMetricValue")
    ] = "Name",
    sort_order: Annotated[str, typer.Option(help="Ascending or Descending")] = "Ascending",
    status: Annotated[str | None, typer.Option(help="Only training jobs with this status")] = None,
) -> None:
    """List the training jobs of a tuning job."""
    workspace = _Options.workspace()
    summaries = service.all_pages(
        lambda token: service.list_training_jobs_for_tuning_job(
            workspace.store,
            name,
            next_token=token,
            sort_by=sort_by,
            sort_order=sort_order,
            status_equals=status,
        ),
        "TrainingJobSummaries",
    )
    if as_json:
        _json({"TrainingJobSummaries": summaries})
        return
    table = Table(
        _name_column("Training job", [s["TrainingJobName"] for s in summaries]),
        Column("Status", no_wrap=True), "Objective", "Seconds",
        Column("Hyperparameters", overflow="fold"), box=None,
    )
    for s in summaries:
        metric = s.get("FinalHyperParameterTuningJobObjectiveMetric")
        seconds = ""
        if s.get("TrainingStartTime") and s.get("TrainingEndTime"):
            seconds = f"{(s['TrainingEndTime'] - s['TrainingStartTime']).total_seconds():.1f}"
        table.add_row(
            s["TrainingJobName"],
            Text(s["TrainingJobStatus"], style=_status_style(s["TrainingJobStatus"])),
            "—" if metric is None else f"{metric['Value']:.6g}",
            seconds,
            " ".join(f"{k}={v}" for k, v in s["TunedHyperParameters"].items()),
        )
    console.print(table)


@app.command()
def logs(
    training_job: str,
    metrics: Annotated[
        bool, typer.Option("--metrics", help="The metric values read from the output instead")
    ] = False,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Then what it writes, until it ends")
    ] = False,
) -> None:
    """Print a training job's output (stdout and stderr, in the order they were written)."""
    workspace = _Options.workspace()
    if metrics:
        workspace.store.get_training_job(training_job)  # an unknown name is an error, not ""
        table = Table("Metric", "Step", "Time", "Value", box=None)
        for point in workspace.store.metric_series(training_job):
            table.add_row(
                point.metric,
                str(point.step + 1),
                _when(datetime.fromtimestamp(point.timestamp).astimezone()),
                f"{point.value:.6g}",
            )
        console.print(table)
        return
    if follow:
        _warn_if_unrecorded(workspace, training_job)
    for chunk in TrainingJob(training_job, workspace).output(follow=follow):
        sys.stdout.buffer.write(chunk)
        sys.stdout.flush()


def _warn_if_unrecorded(workspace: Workspace, training_job: str) -> None:
    """Following a training job whose tuning job has lost its engine would wait past its end,
    which only an engine records: say so, and how to go on, before waiting."""
    owner = workspace.store.get_training_job(training_job).tuning_job
    if owner is not None and service.engine_lost(workspace.store.get_tuning_job(owner)):
        _to_stderr(
            f"note: no engine runs tuning job {owner}: this training job's end is recorded, and "
            f"following it ends, once `tunesmith resume {owner}` runs"
        )


@app.command("describe-training-job")
def describe_training_job(
    name: str,
    as_json: Annotated[
        bool, typer.Option("--json", help="The DescribeTrainingJob response")
    ] = False,
) -> None:
    """Show a training job: status, hyperparameters, final metrics, objective learning curve."""
    workspace = _Options.workspace()
    doc = service.describe_training_job(workspace.store, name)
    if as_json:
        _json(doc)
        return
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")  # paths and names whole
    table.add_row("Training job", name)
    status = doc["TrainingJobStatus"]
    table.add_row(
        "Status", Text(f"{status} ({doc['SecondaryStatus']})", style=_status_style(status))
    )
    if doc.get("FailureReason"):
        table.add_row("Reason", Text(doc["FailureReason"]))
    table.add_row("Started", _when(doc.get("TrainingStartTime")))
    table.add_row("Ended", _when(doc.get("TrainingEndTime")))
    for key, value in sorted(doc["HyperParameters"].items()):
        table.add_row(f"  {key}", value)
    for metric in doc.get("FinalMetricDataList", []):
        table.add_row(f"  {metric['MetricName']}", f"{metric['Value']:.6g} (last value)")
    record = workspace.store.get_training_job(name)
    if record.tuning_job:
        objective = workspace.store.get_tuning_job(record.tuning_job).objective_metric
        curve = [p.value for p in workspace.store.metric_series(name, objective)]
        if len(curve) > 1:
            table.add_row("Learning curve", f"{objective}, {len(curve)} steps: {_sparkline(curve)}")
            table.add_row("", "  ".join(f"{v:.4g}" for v in curve[-12:]))
    if doc["ModelArtifacts"]["S3ModelArtifacts"]:
        table.add_row("Model", doc["ModelArtifacts"]["S3ModelArtifacts"])
    console.print(table)


def _sparkline(values: list[float]) -> str:
    bars = "▁▂▃▄▅▆▇█"
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = max(1, len(values) // 60)
    return "".join(bars[int((v - low) / span * (len(bars) - 1))] for v in values[::step])


@app.command()
def report(
    names: Annotated[list[str], typer.Argument(help="Tuning jobs to chart side by side")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="report.html, .png, .svg or .pdf")
    ] = Path("report.html"),
    basic: Annotated[
        bool, typer.Option("--basic", help="Only the charts amtviz shows without advanced=True")
    ] = False,
    trials_only: Annotated[
        bool, typer.Option("--trials-only", help="Leave out the per-metric time series")
    ] = False,
) -> None:
    """Write the linked charts of tuning jobs to a self-contained file (no network needed)."""
    from tunesmith.viz import write_report

    workspace = _Options.workspace()
    path = write_report(
        names, output, advanced=not basic, trials_only=trials_only, home=workspace.home
    )
    console.print(f"Report written to {path.resolve()}", highlight=False)


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; anything but loopback needs access keys")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8765,
    keys_file: Annotated[
        Path | None,
        typer.Option(
            "--keys-file",
            envvar="TUNESMITH_KEYS_FILE",
            exists=True,
            dir_okay=False,
            readable=True,
            help="Key pairs clients sign with (AWS credentials file format); "
            "also TUNESMITH_ACCESS_KEYS=AKID:SECRET,...",
        ),
    ] = None,
) -> None:
    """Serve the SageMaker API (boto3: AWS_ENDPOINT_URL_SAGEMAKER) and the dashboard at /ui."""
    from tunesmith.server import serve as run_server

    run_server(host=host, port=port, home=_Options.home, keys_file=keys_file,
               store=_Options.store, backend=_Options.backend)


@app.command()
def resume(
    name: str,
    detach: Annotated[
        bool, typer.Option("--detach", help="Run in the background and return at once")
    ] = False,
) -> None:
    """Continue a tuning job whose engine stopped (a crash, a reboot): finished training jobs
    are kept, the search continues from them."""
    workspace = _Options.workspace()
    service.check_resumable(workspace.store, name)
    if detach:
        pid = spawn_engine(name, workspace.home, workspace.store.url, _Options.backend)
        console.print(f"Tuning job {name} resumed in the background (engine pid {pid}).")
        return
    status = _run_with_progress(workspace, [name])[0]
    _print_outcome(workspace, name)
    raise typer.Exit(0 if status == "Completed" else 130 if status == "Stopped" else 1)


@app.command()
def delete(
    names: Annotated[list[str], typer.Argument(help="Tuning jobs that have ended")],
) -> None:
    """Delete tuning jobs that have ended, their training jobs and their files under the home
    (models written to an OutputDataConfig path elsewhere stay)."""
    workspace = _Options.workspace()
    for name in names:
        deleted = remove_tuning_job(workspace, name)
        plural = "" if deleted == 1 else "s"
        console.print(f"Deleted tuning job {name} and its {deleted} training job{plural}.")


@app.command()
def stop(name: str) -> None:
    """Stop a tuning job: its running training jobs are stopped, it ends Stopped."""
    pid = request_stop(_Options.workspace(), name, _Options.backend)
    console.print(f"Stopping tuning job {name}.")
    if pid is not None:
        console.print(f"No engine ran it: started one (pid {pid}) to stop its training jobs.")


GLOBAL_OPTIONS = ("--home", "--store", "--backend", "--ray-address")


def global_options_first(arguments: list[str]) -> list[str]:
    """The command line with the global options moved to its front, where they are read, so
    that they may also follow the command (``tunesmith tune job.yaml --home H``)."""
    front: list[str] = []
    rest: list[str] = []
    position = 0
    while position < len(arguments):
        argument = arguments[position]
        if argument == "--":
            rest += arguments[position:]
            break
        if argument.split("=", 1)[0] not in GLOBAL_OPTIONS:
            rest.append(argument)
            position += 1
            continue
        taken = 1 if "=" in argument else 2
        if position + taken > len(arguments):
            # Its value is missing: alone, it is reported as such, not as an unknown command.
            return [argument]
        front += arguments[position : position + taken]
        position += taken
    return front + rest


def main() -> None:
    """Entry point: user errors become one line on stderr, never a traceback."""
    try:
        # Not standalone: click would print usage errors as three lines and exit itself.
        code = app(args=global_options_first(sys.argv[1:]), standalone_mode=False)
    except typer.TyperException as error:
        context = getattr(error, "ctx", None)
        where = context.command_path if context else "tunesmith"
        _to_stderr(f"error: {error.format_message()} (see '{where} --help')")
        sys.exit(error.exit_code)
    except typer.Abort:
        sys.exit(130)
    except TunesmithError as error:
        _to_stderr(f"error: {error.code}: {error.message}")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # its reader went away (`| head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except Exception as error:
        if os.environ.get("TUNESMITH_DEBUG"):
            raise
        _to_stderr(
            f"error: InternalFailure: {type(error).__name__}: {error} "
            "(set TUNESMITH_DEBUG=1 for details)"
        )
        sys.exit(1)
    if isinstance(code, int) and code:
        sys.exit(code)


def _to_stderr(line: str) -> None:
    """One line on stderr, as given: no markup, not wrapped."""
    Console(stderr=True).print(line, markup=False, highlight=False, soft_wrap=True)


if __name__ == "__main__":
    main()
