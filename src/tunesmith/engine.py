"""The tuning loop: one engine runs one tuning job from start to end.

The engine keeps ``MaxParallelTrainingJobs`` slots busy with configurations from the strategy,
turns the runner's events into store updates (one transaction per burst of events), checks the
completion criteria after every finished training job, and honours stop requests made from any
process through the store. It sleeps on its event queue, waking for events, for the deadline of
the tuning job's own runtime limit, or for its heartbeat.
"""

from __future__ import annotations

import dataclasses
import math
import os
import queue
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection

from tunesmith.completion import Completion, CompletionCriteria, Progress, no_success
from tunesmith.model.errors import ConflictException
from tunesmith.model.names import training_job_arn
from tunesmith.recording import advance, record_ended, record_started, transition
from tunesmith.runner.base import (
    MetricsObserved,
    Runner,
    RunnerEvent,
    TrainingJobEnded,
    TrainingJobSpec,
    TrainingJobStarted,
)
from tunesmith.runner.resources import this_machine, training_job_resources
from tunesmith.service import engine_alive
from tunesmith.space import Config, SearchSpace
from tunesmith.store import Store, TrainingJobRecord, TuningJobRecord
from tunesmith.strategies import Strategy, Trial, create_strategy
from tunesmith.training import training_job_directory, training_job_spec
from tunesmith.warm_start import inherited_trials

HEARTBEAT_SECONDS = 1.0
EVENT_BATCH = 1024
REPLACES = "Launching the training job in place of "
"""How a replacement of a lost training job starts its status transitions (and is known so)."""
_CLAIMS: set[tuple[str, str]] = set()
"""(store URL, tuning job) of the engines running in this process, which share one pid."""
_CLAIMS_LOCK = threading.Lock()


class Stopper(Protocol):
    """Decides, from intermediate objective values, whether a running training job stops."""

    def report(self, trial_id: str, step: int, loss: float) -> str | None: ...

    def tell(self, trials: Sequence[Trial]) -> None: ...

    objective_name: str
    objective_sign: float


RunnerFactory = Callable[[Callable[[RunnerEvent], None]], Runner]


def local_runner(sink: Callable[[RunnerEvent], None]) -> Runner:
    from tunesmith.runner.local import LocalRunner

    return LocalRunner(sink)


@dataclass
class _Running:
    config: Config
    transitions: list[dict[str, Any]]
    last_objective: float | None = None
    steps: int = 0
    """How many objective values the script printed: its resource steps so far."""
    started: bool = False
    attempt: int = 1


@dataclass
class _Best:
    loss: float = math.inf
    name: str | None = None
    end_time: float = 0.0
    not_improving: int = 0
    failure_reasons: list[str] = field(default_factory=list)


class _Wake:
    """Queue item that only wakes the loop (a stop request from a signal handler)."""


class TuningEngine:
    """Runs the tuning job ``name`` that the store already holds (status ``InProgress``)."""

    def __init__(
        self,
        store: Store,
        name: str,
        *,
        home: Path,
        runner_factory: RunnerFactory = local_runner,
        backend_record: str | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.home = home
        self.backend_record = backend_record
        """What runs its training jobs, kept with the job for the engines that resume it."""
        self.job = store.get_tuning_job(name)
        request = self.job.request
        self.config: dict[str, Any] = request["HyperParameterTuningJobConfig"]
        self.definition: dict[str, Any] = request["TrainingJobDefinition"]
        self.maximize = self.job.objective_type == "Maximize"
        self.space = SearchSpace.from_parameter_ranges(self.config.get("ParameterRanges") or {})
        self.strategy: Strategy = create_strategy(
            self.job.strategy,
            self.space,
            seed=self.config.get("RandomSeed"),
            **_strategy_options(request),
        )
        # Whoever may stop a running training job on its intermediate objective values.
        self.stoppers: list[Stopper] = [self.strategy]
        if self.config.get("TrainingJobEarlyStoppingType") == "Auto":
            from tunesmith.early_stopping import MedianStoppingRule

            self.stoppers.append(MedianStoppingRule())
        for stopper in self.stoppers:
            stopper.objective_name = self.job.objective_metric
            stopper.objective_sign = -1.0 if self.maximize else 1.0
        self.criteria = CompletionCriteria.from_config(self.config, self.strategy.capacity)
        self.convergence = None
        if self.criteria.complete_on_convergence:
            from tunesmith.convergence import ConvergenceDetector

            self.convergence = ConvergenceDetector(self.space, seed=self.config.get("RandomSeed"))
        self.max_parallel = int(self.config["ResourceLimits"]["MaxParallelTrainingJobs"])
        self.events: queue.Queue[RunnerEvent | _Wake] = queue.Queue()
        self.runner = runner_factory(self.events.put)
        # Never more training jobs at once than the backend has resources for.
        slots = self.runner.slots(training_job_resources(self.definition, len(this_machine().gpus)))
        if slots is not None:
            self.max_parallel = min(self.max_parallel, slots)
        self.running: dict[str, _Running] = {}
        self.created = 0
        self.finished = 0
        self.succeeded = 0
        self.best = _Best()
        self.completion: Completion | None = None
        self._stop_requested = threading.Event()
        self._stopping_sent: set[str] = set()
        self._next_heartbeat = 0.0
        self._claimed = False

    # -- public ------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop the tuning job (thread- and signal-safe)."""
        self._stop_requested.set()
        self.events.put(_Wake())

    def run(self) -> str:
        """Run until the tuning job ends; returns its final status. Another engine already
        running the job is a ``ConflictException``, raised before anything has changed."""
        try:
            self._claim()
            self._restore()
            while True:
                self._tick()
                if self.completion is None:
                    self._launch()
                if self.completion is not None and not self.running:
                    return self._finish()
                self._handle(self._next_events())
        finally:
            self.runner.close()
            self._handle(self._drain())
            if self._claimed:
                with _CLAIMS_LOCK:
                    _CLAIMS.discard((self.store.url, self.name))

    # -- state -------------------------------------------------------------------------------

    def _restore(self) -> None:
        """Rebuild counters and the strategy from the store (a restarted engine continues)."""
        records = self.store.training_jobs(self.name)
        replaced = {_replaced(r.transitions) for r in records} - {None}
        # A lost training job's replacement took its place under MaxNumberOfTrainingJobs.
        self.created = len(records) - len(replaced)
        self.strategy.n_asked = self.created
        trials = []
        unfinished = []
        for record in sorted(records, key=lambda r: (r.end_time or math.inf, r.seq)):
            if record.status in ("InProgress", "Stopping"):
                unfinished.append(record)
                continue
            if record.name in replaced:
                continue
            value = record.final_objective if record.objective_status == "Succeeded" else None
            trials.append(
                self._account(record.name, record.hyperparameters, value, record.failure_reason)
            )
        self._replay_curves()
        for record in unfinished:
            self._adopt(record)
        # Warm start: the ancestors' results come first, for the strategy alone (the job's own
        # counters and completion criteria count only its own training jobs).
        inherited = inherited_trials(self.store, self.name, self.space, self.maximize)
        warm_start = self.job.request.get("WarmStartConfig") or {}
        if warm_start.get("WarmStartType") == "TransferLearning":
            self.strategy.prior_sources = frozenset(t.source for t in inherited)
        self.strategy.tell(inherited)
        for stopper in self.stoppers:
            stopper.tell(trials)

    def _claim(self) -> None:
        """Take the tuning job for this engine: of several engines started for one job (two
        hosts resuming it at once, say), exactly one gets it; the others change nothing."""
        key, me = (self.store.url, self.name), (socket.gethostname(), os.getpid())

        def may_take(job: TuningJobRecord) -> bool:
            # Its launcher may have recorded this process as its engine already.
            return (job.engine_host, job.engine_pid) == me or not engine_alive(job)

        with _CLAIMS_LOCK:
            now = time.time()
            recorded = {} if self.backend_record is None else {"backend": self.backend_record}
            if key in _CLAIMS or not self.store.claim_tuning_job(
                self.name, may_take, engine_pid=me[1], engine_host=me[0], heartbeat=now,
                last_modified=now, **recorded,
            ):
                job = self.store.get_tuning_job(self.name)
                raise ConflictException(
                    f"The hyperparameter tuning job '{self.name}' is already being run by engine "
                    f"process {job.engine_pid} on {job.engine_host}."
                )
            _CLAIMS.add(key)
            self._claimed = True

    def _adopt(self, record: TrainingJobRecord) -> None:
        """Take over a training job the engine that died was running: the runner follows its
        process if it still runs, finishes it from its exit status if it ended, and reports
        it lost (to be retried or replaced) if it left no trace of its end."""
        series = self.store.metric_series(record.name, self.job.objective_metric)
        running = _Running(
            self.space.from_hyperparameters(record.hyperparameters),
            list(record.transitions),
            last_objective=series[-1].value if series else None,
            steps=len(series),
            started=record.start_time is not None,
            attempt=_attempt(record.transitions),
        )
        self.running[record.name] = running
        spec = self._spec(record.name, record.hyperparameters, running)
        self.runner.adopt(spec, record.log_offset)
        if record.status == "Stopping":
            self._stop_training_job(record.name, record.failure_reason or "Stopped by request")

    def _spec(self, name: str, tuned: dict[str, str], running: _Running) -> TrainingJobSpec:
        spec = training_job_spec(
            self.definition,
            name=name,
            directory=training_job_directory(self.home, name, self.name),
            tuned=tuned,
            objective_metric=self.job.objective_metric,
            tuning_job_name=self.name,
        )
        # MaxRuntimeInSeconds bounds all attempts together, from the first one's start.
        first = next((t["StartTime"] for t in running.transitions if t["Status"] == "Training"),
                     None)
        limit = spec.max_runtime_seconds
        if limit is not None and first is not None:
            limit = max(0.0, limit - (time.time() - first))
        return dataclasses.replace(spec, attempt=running.attempt, max_runtime_seconds=limit)

    def _replay_curves(self) -> None:
        """Give the stoppers the learning curves of the training jobs already run."""
        steps: dict[str, int] = {}
        for point in self.store.metric_values_of_tuning_job(self.name):
            if point.metric == self.job.objective_metric:
                steps[point.training_job] = step = steps.get(point.training_job, 0) + 1
                for stopper in self.stoppers:
                    stopper.report(point.training_job, step, self._loss(point.value))

    def _loss(self, objective: float) -> float:
        return -objective if self.maximize else objective

    def _account(
        self, name: str, tuned: dict[str, str], objective: float | None, failure: str | None
    ) -> Trial:
        """Count a finished training job and return it as the strategy's trial."""
        self.finished += 1
        loss = None if objective is None else self._loss(objective)
        if loss is not None:
            self.succeeded += 1
        elif failure:
            self.best.failure_reasons.append(failure)
        if loss is not None and loss < self.best.loss:
            self.best.loss, self.best.name = loss, name
            self.best.not_improving = 0
        else:
            self.best.not_improving += 1
        config = self.space.from_hyperparameters(tuned)
        return Trial(trial_id=name, config=config, loss=loss, source=self.name)

    def _progress(self) -> Progress:
        return Progress(
            created=self.created,
            finished=self.finished,
            succeeded=self.succeeded,
            elapsed_seconds=time.time() - self.job.created,
            best_objective=None
            if self.best.name is None
            else (-self.best.loss if self.maximize else self.best.loss),
            not_improving=self.best.not_improving if self.best.name else 0,
            failure_reasons=self.best.failure_reasons,
        )

    # -- the loop ----------------------------------------------------------------------------

    def _tick(self) -> None:
        """Heartbeat, stop requests from other processes, the tuning job's own clock."""
        now = time.time()
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + HEARTBEAT_SECONDS
            self.store.update_tuning_job(self.name, heartbeat=now)
            if self.store.get_tuning_job(self.name).status == "Stopping":
                self._stop_requested.set()
        if self._stop_requested.is_set() and (
            self.completion is None or self.completion.status != "Stopped"
        ):
            self.store.update_tuning_job(
                self.name, status="Stopping", last_modified=now, only_if_status=["InProgress"]
            )
            self._complete(Completion("Stopped", "Stopped by request", stop_running=True))
        elif self.completion is None or not self.completion.stop_running:
            # Reaching MaxNumberOfTrainingJobs lets running jobs finish; a criterion that stops
            # them (the tuning job's runtime limit, say) still applies while they run.
            completion = self.criteria.check(self._progress())
            if completion is not None and (self.completion is None or completion.stop_running):
                self._complete(completion)

    def _complete(self, completion: Completion) -> None:
        self.completion = completion
        if completion.stop_running:
            for name in list(self.running):
                self._stop_training_job(name, completion.reason)

    def _stop_training_job(self, name: str, reason: str) -> None:
        if name in self.running and name not in self._stopping_sent:
            self._stopping_sent.add(name)
            # The reason is kept for an engine that takes the stop over after a crash.
            self.store.update_training_job(name, status="Stopping", failure_reason=reason)
            self.runner.stop(name, reason)

    def _launch(self) -> None:
        free = self.max_parallel - len(self.running)
        if free <= 0 or not self.criteria.may_launch(self._progress()):
            return
        if self.criteria.max_training_jobs is not None:
            free = min(free, self.criteria.max_training_jobs - self.created)
        pending = [r.config for r in self.running.values()]
        configs = self.strategy.ask(free, pending)
        if not configs and not self.running:
            self._complete(
                Completion(
                    "Completed",
                    f"{self.strategy.name} strategy proposed every configuration it can",
                    stop_running=False,
                )
            )
        if not configs:
            return
        # One transaction for the round's training job records, then the processes.
        with self.store.write() as conn:
            specs = [self._create(config, conn) for config in configs]
        for spec in specs:
            self.runner.start(spec)

    def _create(
        self, config: Config, conn: Connection, message: str = "Launching the training job"
    ) -> TrainingJobSpec:
        tuned = self.space.to_hyperparameters(config)
        now = time.time()
        template = f"{self.name}-{{seq:03d}}-{secrets.token_hex(4)}"
        transitions = [transition("Starting", now, message)]
        seq = self.store.create_training_job(
            conn,
            name=template,
            arn=training_job_arn(template),
            tuning_job=self.name,
            status="InProgress",
            secondary_status="Starting",
            hyperparameters=tuned,
            created=now,
            objective_status="Pending",
            notes=[],
            transitions=transitions,
        )
        name = template.format(seq=seq)
        self.created += 1
        self.running[name] = running = _Running(config, transitions)
        return self._spec(name, tuned, running)

    def _timeout(self) -> float:
        timeout = max(0.0, self._next_heartbeat - time.time())
        if self.completion is not None and self.completion.stop_running:
            return timeout  # the runtime limit has nothing more to end
        left = self.criteria.seconds_left(time.time() - self.job.created)
        return timeout if left is None else min(timeout, left)

    def _next_events(self) -> list[RunnerEvent | _Wake]:
        try:
            first = self.events.get(timeout=self._timeout())
        except queue.Empty:
            return []
        return [first, *self._drain()]

    def _drain(self) -> list[RunnerEvent | _Wake]:
        batch: list[RunnerEvent | _Wake] = []
        while len(batch) < EVENT_BATCH:
            try:
                batch.append(self.events.get_nowait())
            except queue.Empty:
                break
        return batch

    def _handle(self, batch: list[RunnerEvent | _Wake]) -> None:
        """Apply a burst of runner events in one transaction, then tell the strategy."""
        if not batch:
            return
        trials: list[Trial] = []
        to_stop: dict[str, str] = {}
        with self.store.write() as conn:
            metrics: dict[str, list[tuple[str, float, float]]] = {}
            offsets: dict[str, int] = {}
            for event in batch:
                if isinstance(event, MetricsObserved):
                    self._on_metrics(event, metrics, to_stop)
                    if event.log_offset is not None and event.name in self.running:
                        offsets[event.name] = event.log_offset
            for name, values in metrics.items():
                self.store.add_metric_values(name, values, conn)
            # With the values, in one transaction: a resumed engine reads on from there.
            for name, offset in offsets.items():
                self.store.update_training_job(name, conn, log_offset=offset)
            for event in batch:
                if isinstance(event, TrainingJobStarted):
                    self._on_started(event, conn)
                elif isinstance(event, TrainingJobEnded) and event.name in self.running:
                    if self._retry(event, conn) or self._replace(event, conn):
                        continue
                    trials.append(self._on_ended(event, conn))
        for name, reason in to_stop.items():
            self._stop_training_job(name, reason)
        if trials:
            for stopper in self.stoppers:
                stopper.tell(trials)
            self._check_convergence()

    def _on_started(self, event: TrainingJobStarted, conn: Connection) -> None:
        running = self.running.get(event.name)
        if running is not None and not running.started:
            running.started = True
            record_started(self.store, conn, event, running.transitions)

    def _on_metrics(
        self,
        event: MetricsObserved,
        metrics: dict[str, list[tuple[str, float, float]]],
        to_stop: dict[str, str],
    ) -> None:
        running = self.running.get(event.name)
        if running is None:
            return
        values = metrics.setdefault(event.name, [])
        for v in event.values:
            values.append((v.metric, v.timestamp, v.value))
            if v.metric != self.job.objective_metric:
                continue
            running.last_objective = v.value
            running.steps += 1
            for stopper in self.stoppers:
                reason = stopper.report(event.name, running.steps, self._loss(v.value))
                if reason is not None and event.name not in to_stop:
                    to_stop[event.name] = reason

    def _retry(self, event: TrainingJobEnded, conn: Connection) -> bool:
        """Run a training job again after an infrastructure failure, while ``RetryStrategy``
        allows: the same training job, its attempts told by its secondary status transitions
        (``Restarting``, then ``Starting`` again), as SageMaker shows them."""
        running = self.running[event.name]
        retries = (self.definition.get("RetryStrategy") or {}).get("MaximumRetryAttempts", 0)
        stopping = self.completion is not None and self.completion.stop_running
        if event.status != "Failed" or not event.retryable or running.attempt > retries \
                or stopping:
            return False
        running.attempt += 1
        message = f"Attempt {running.attempt - 1} failed: {event.failure_reason or 'Failed'}"
        advance(running.transitions, "Restarting", event.time, message[:1024])
        advance(running.transitions, "Starting", event.time,
                f"Launching attempt {running.attempt} of {retries + 1}")
        # The failed attempt's values are not results; its output stays in the log.
        self.store.delete_metric_values(event.name, conn)
        self.store.update_training_job(
            event.name, conn, status="InProgress", secondary_status="Starting",
            transitions=running.transitions, log_offset=None, pid=None, exit_code=None,
        )
        running.last_objective, running.steps, running.started = None, 0, False
        tuned = self.space.to_hyperparameters(running.config)
        self.runner.start(self._spec(event.name, tuned, running))
        return True

    def _replace(self, event: TrainingJobEnded, conn: Connection) -> bool:
        """End a lost training job ``Failed`` and start a new one with its hyperparameters in
        its place under MaxNumberOfTrainingJobs (unless the tuning job is stopping its training
        jobs): nothing is known of the lost one's result, so it is neither counted nor told to
        the strategy."""
        if not event.lost or (self.completion is not None and self.completion.stop_running):
            return False
        running = self.running.pop(event.name)
        spec = self._create(running.config, conn, f"{REPLACES}{event.name}, whose process was lost")
        self.created -= 1
        reason = f"{event.failure_reason}; replaced by training job {spec.name}"
        record_ended(self.store, conn, dataclasses.replace(event, failure_reason=reason),
                     running.transitions, objective=None,
                     objective_metric=self.job.objective_metric)
        self.runner.start(spec)
        return True

    def _on_ended(self, event: TrainingJobEnded, conn: Connection) -> Trial:
        running = self.running.pop(event.name)
        # A failed job's objective values are not results (AMT counts it failed).
        objective = running.last_objective if event.status != "Failed" else None
        failure = record_ended(
            self.store,
            conn,
            event,
            running.transitions,
            objective=objective,
            objective_metric=self.job.objective_metric,
        )
        tuned = self.space.to_hyperparameters(running.config)
        return self._account(event.name, tuned, objective, failure)

    def _check_convergence(self) -> None:
        if self.convergence is None or self.completion is not None:
            return
        reason = self.convergence.check(self.strategy.trials)
        if reason is not None:
            now = time.time()
            self.store.update_tuning_job(self.name, convergence_time=now, last_modified=now)
            self._complete(
                Completion("Completed", f"Convergence detected: {reason}", stop_running=True)
            )

    def _finish(self) -> str:
        completion = self.completion
        assert completion is not None
        if completion.status == "Completed" and self.succeeded == 0 and self.finished > 0:
            completion = no_success(self.finished, self.best.failure_reasons)
        now = time.time()
        self.store.update_tuning_job(
            self.name,
            status=completion.status,
            end_time=now,
            last_modified=now,
            completion_reason=completion.reason,
            failure_reason=completion.reason if completion.status == "Failed" else None,
            engine_pid=None,
        )
        return completion.status


def _replaced(transitions: list[dict[str, Any]]) -> str | None:
    """The lost training job a training job replaces, if it is a replacement."""
    message = transitions[0].get("StatusMessage", "") if transitions else ""
    return message[len(REPLACES):].split(",")[0] if message.startswith(REPLACES) else None


def _attempt(transitions: list[dict[str, Any]]) -> int:
    """Which attempt of a training job runs: one more than its restarts."""
    return 1 + sum(1 for t in transitions if t["Status"] == "Restarting")


def _strategy_options(request: dict[str, Any]) -> dict[str, Any]:
    """Strategy-specific settings from the document (Hyperband's resources)."""
    if request["HyperParameterTuningJobConfig"].get("Strategy") != "Hyperband":
        return {}
    from tunesmith.model import hyperband_resources

    min_resource, max_resource = hyperband_resources(request)
    return {"min_resource": min_resource, "max_resource": max_resource}
