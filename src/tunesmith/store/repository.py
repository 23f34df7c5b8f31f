"""Reading and writing tuning jobs, training jobs and metric values.

Every change is one transaction. Records come back as frozen dataclasses so nothing above the
store holds a database row or session. A transaction that reads before it writes (the next
number of a series, whether an engine may take a tuning job) first locks the row it depends on
with ``SELECT … FOR UPDATE``: PostgreSQL then serialises exactly the writers that would conflict;
SQLite, which has no row locks, already serialises every writer with ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    Update,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from tunesmith.model.errors import ResourceInUse, ResourceNotFound
from tunesmith.store.database import open_database, store_url
from tunesmith.store.schema import metric_values, tags, training_jobs, tuning_jobs

TERMINAL_STATUSES = frozenset({"Completed", "Stopped", "Failed"})


@dataclass(frozen=True)
class TuningJobRecord:
    name: str
    arn: str
    status: str
    strategy: str
    objective_metric: str
    objective_type: str
    request: dict[str, Any]
    fingerprint: dict[str, Any] | None
    created: float
    last_modified: float
    end_time: float | None
    failure_reason: str | None
    completion_reason: str | None
    convergence_time: float | None
    engine_pid: int | None
    engine_host: str | None
    heartbeat: float | None
    backend: str | None
    """What its last engine ran its training jobs on (:meth:`Backend.record`)."""


@dataclass(frozen=True)
class TrainingJobRecord:
    name: str
    tuning_job: str | None
    seq: int
    arn: str
    status: str
    secondary_status: str
    hyperparameters: dict[str, str]
    created: float
    start_time: float | None
    end_time: float | None
    final_objective: float | None
    objective_status: str | None
    failure_reason: str | None
    exit_code: int | None
    pid: int | None
    model_artifacts: str | None
    notes: list[str]
    transitions: list[dict[str, Any]]
    definition: dict[str, Any] | None
    log_offset: int | None = None
    """Where the output not yet read into the store starts."""
    retryable: bool | None = None
    """Whether a failure was the infrastructure's (``RetryableError``), not the script's."""


@dataclass(frozen=True)
class MetricPoint:
    training_job: str
    metric: str
    step: int
    timestamp: float
    value: float


@dataclass(frozen=True)
class Counters:
    """``TrainingJobStatusCounters`` and ``ObjectiveStatusCounters`` of one tuning job."""

    completed: int = 0
    in_progress: int = 0
    stopped: int = 0
    failed: int = 0
    retryable_failed: int = 0
    """Of ``failed``: the ones the infrastructure failed."""
    objective_succeeded: int = 0
    objective_pending: int = 0
    objective_failed: int = 0

    @property
    def total(self) -> int:
        return self.completed + self.in_progress + self.stopped + self.failed

    @property
    def finished(self) -> int:
        return self.completed + self.stopped + self.failed


@dataclass(frozen=True)
class Listing:
    """Filters, order and page of a List operation (times in epoch seconds, bounds exclusive)."""

    name_contains: str | None = None
    status: str | None = None
    created_after: float | None = None
    created_before: float | None = None
    modified_after: float | None = None
    modified_before: float | None = None
    sort_by: Literal["Name", "CreationTime", "Status"] = "CreationTime"
    descending: bool = True
    offset: int = 0
    limit: int | None = None


def _listed(
    query: Select, listing: Listing, name: Any, status: Any, created: Any, modified: Any
) -> Select:
    conditions = []
    if listing.name_contains:
        conditions.append(func.lower(name).contains(listing.name_contains.lower(), autoescape=True))
    if listing.status:
        conditions.append(status == listing.status)
    for column, bound, after in (
        (created, listing.created_after, True),
        (created, listing.created_before, False),
        (modified, listing.modified_after, True),
        (modified, listing.modified_before, False),
    ):
        if bound is not None:
            conditions.append(column > bound if after else column < bound)
    column = {"Name": name, "CreationTime": created, "Status": status}[listing.sort_by]
    query = (
        query.where(and_(True, *conditions))
        .order_by(column.desc() if listing.descending else column.asc(), name.asc())
        .offset(listing.offset)
    )
    return query if listing.limit is None else query.limit(listing.limit)


_JSON_COLUMNS = {"request", "fingerprint", "hyperparameters", "notes", "transitions", "definition"}


def _record(cls: type, row: Any) -> Any:
    mapping = row._mapping
    values = {}
    for f in fields(cls):
        value = mapping[f.name]
        if f.name in _JSON_COLUMNS and value is not None:
            value = json.loads(value)
        elif f.name == "retryable" and value is not None:
            value = bool(value)
        values[f.name] = value
    return cls(**values)


def _encode(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: json.dumps(v) if k in _JSON_COLUMNS and v is not None else v for k, v in values.items()
    }


# Statements of the per-trial path, built once: building and keying a statement costs more
# than SQLite takes to run it. Parameters are bound per execution.
# Row locks on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises writers).
_LOCK_TUNING_JOB = (
    select(tuning_jobs.c.name)
    .where(tuning_jobs.c.name == bindparam("tuning_job"))
    .with_for_update()
)
_LOCK_TRAINING_JOB = (
    select(training_jobs.c.name)
    .where(training_jobs.c.name == bindparam("training_job"))
    .with_for_update()
)
_NEXT_SEQ = select(func.max(training_jobs.c.seq)).where(
    training_jobs.c.tuning_job == bindparam("tuning_job")
)
_INSERT_TRAINING_JOB = insert(training_jobs)
_NEXT_STEPS = (
    select(metric_values.c.metric, func.max(metric_values.c.step) + 1)
    .where(metric_values.c.training_job == bindparam("training_job"))
    .group_by(metric_values.c.metric)
)
_INSERT_METRIC_VALUES = insert(metric_values)
_training_job_updates: dict[frozenset[str], Update] = {}


def _training_job_update(columns: frozenset[str]) -> Update:
    """``UPDATE training_jobs SET <columns> WHERE name = :job_name``, one per column set."""
    statement = _training_job_updates.get(columns)
    if statement is None:
        statement = (
            update(training_jobs)
            .where(training_jobs.c.name == bindparam("job_name"))
            .values({column: bindparam(f"new_{column}") for column in columns})
        )
        _training_job_updates[columns] = statement
    return statement


class Store:
    """The single source of truth, shared by engines, the server and every command."""

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        self.url = url or store_url()
        self.engine = engine or open_database(self.url)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(write=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    # -- tuning jobs -------------------------------------------------------------------------

    def create_tuning_job(self, **values: Any) -> None:
        """Insert a tuning job; an existing name is ``ResourceInUse``."""
        try:
            with self.write() as conn:
                conn.execute(insert(tuning_jobs).values(**_encode(values)))
        except IntegrityError:
            raise ResourceInUse(
                f"Hyperparameter tuning job '{values['name']}' already exists."
            ) from None

    def get_tuning_job(self, name: str, conn: Connection | None = None) -> TuningJobRecord:
        query = select(tuning_jobs).where(tuning_jobs.c.name == name)
        if conn is None:
            with self.read() as conn:
                row = conn.execute(query).first()
        else:
            row = conn.execute(query).first()
        if row is None:
            raise ResourceNotFound(f"Amazon SageMaker can't find a tuning job with name {name}")
        return _record(TuningJobRecord, row)

    def list_tuning_jobs(self, listing: Listing) -> list[TuningJobRecord]:
        c = tuning_jobs.c
        query = _listed(select(tuning_jobs), listing, c.name, c.status, c.created, c.last_modified)
        with self.read() as conn:
            return [_record(TuningJobRecord, row) for row in conn.execute(query)]

    def update_tuning_job(
        self, name: str, *, only_if_status: Iterable[str] | None = None, **values: Any
    ) -> bool:
        """Change a tuning job; with ``only_if_status``, only while its status is one of those.
        Returns whether a row changed."""
        query = update(tuning_jobs).where(tuning_jobs.c.name == name)
        if only_if_status is not None:
            query = query.where(tuning_jobs.c.status.in_(list(only_if_status)))
        with self.write() as conn:
            return conn.execute(query.values(**_encode(values))).rowcount > 0

    def claim_tuning_job(
        self, name: str, may_take: Callable[[TuningJobRecord], bool], **values: Any
    ) -> bool:
        """Change a tuning job only if ``may_take`` accepts it as it is, deciding with its row
        locked, so that of several engines wanting one tuning job exactly one gets it. Returns
        whether the job was taken."""
        with self.write() as conn:
            row = conn.execute(
                select(tuning_jobs).where(tuning_jobs.c.name == name).with_for_update()
            ).first()
            if row is None:
                raise ResourceNotFound(f"Amazon SageMaker can't find a tuning job with name {name}")
            if not may_take(_record(TuningJobRecord, row)):
                return False
            conn.execute(
                update(tuning_jobs).where(tuning_jobs.c.name == name).values(**_encode(values))
            )
            return True

    def delete_tuning_job(self, name: str) -> None:
        with self.write() as conn:
            names = select(training_jobs.c.name).where(training_jobs.c.tuning_job == name)
            conn.execute(delete(metric_values).where(metric_values.c.training_job.in_(names)))
            conn.execute(delete(training_jobs).where(training_jobs.c.tuning_job == name))
            conn.execute(delete(tuning_jobs).where(tuning_jobs.c.name == name))

    # -- training jobs -----------------------------------------------------------------------

    def create_training_job(self, conn: Connection | None = None, **values: Any) -> int:
        """Insert a training job of a tuning job, numbering it after the last one (``seq``);
        returns the number. ``name`` may contain ``{seq}``, filled in here so that numbers and
        names stay consistent under concurrent writers."""
        if conn is None:
            with self.write() as conn:
                return self.create_training_job(conn, **values)
        seq = values.pop("seq", None)
        if seq is None:
            # The numbers of one tuning job follow each other whoever creates them.
            conn.execute(_LOCK_TUNING_JOB, {"tuning_job": values["tuning_job"]})
            seq = (conn.execute(_NEXT_SEQ, {"tuning_job": values["tuning_job"]}).scalar() or 0) + 1
        for key in ("name", "arn"):
            values[key] = values[key].format(seq=seq)
        try:
            # A savepoint, so a duplicate name leaves the caller's transaction usable.
            with conn.begin_nested():
                conn.execute(_INSERT_TRAINING_JOB, {"seq": seq, **_encode(values)})
        except IntegrityError:
            raise ResourceInUse(f"Training job '{values['name']}' already exists.") from None
        return seq

    def list_training_jobs(
        self, listing: Listing, *, standalone: bool = False
    ) -> list[TrainingJobRecord]:
        """Every training job, of tuning jobs or not (``ListTrainingJobs``); with
        ``standalone``, only those created by ``CreateTrainingJob``."""
        c = training_jobs.c
        modified = func.coalesce(c.end_time, c.start_time, c.created)
        selected = select(training_jobs)
        if standalone:
            selected = selected.where(c.tuning_job.is_(None))
        query = _listed(selected, listing, c.name, c.status, c.created, modified)
        with self.read() as conn:
            return [_record(TrainingJobRecord, row) for row in conn.execute(query)]

    def get_training_job(self, name: str) -> TrainingJobRecord:
        with self.read() as conn:
            row = conn.execute(select(training_jobs).where(training_jobs.c.name == name)).first()
        if row is None:
            raise ResourceNotFound(f"Training job '{name}' does not exist.")
        return _record(TrainingJobRecord, row)

    def update_training_job(self, name: str, conn: Connection | None = None, **values: Any) -> None:
        query = _training_job_update(frozenset(values))
        parameters = {"job_name": name, **{f"new_{k}": v for k, v in _encode(values).items()}}
        if conn is None:
            with self.write() as conn:
                conn.execute(query, parameters)
        else:
            conn.execute(query, parameters)

    def training_jobs(
        self,
        tuning_job: str,
        *,
        status: str | None = None,
        sort_by: Literal["Name", "CreationTime", "Status", "FinalObjectiveMetricValue"] = "Name",
        descending: bool = False,
        objective_type: str = "Maximize",
        offset: int = 0,
        limit: int | None = None,
    ) -> list[TrainingJobRecord]:
        """The training jobs of a tuning job. Sorting by objective puts jobs without one last,
        whatever the order, as SageMaker does."""
        c = training_jobs.c
        query = select(training_jobs).where(c.tuning_job == tuning_job)
        if status:
            query = query.where(c.status == status)
        if sort_by == "FinalObjectiveMetricValue":
            order = [
                c.final_objective.is_(None),
                c.final_objective.desc() if descending else c.final_objective.asc(),
                c.seq,
            ]
        else:
            column = {"Name": c.seq, "CreationTime": c.created, "Status": c.status}[sort_by]
            order = [column.desc() if descending else column.asc(), c.seq]
        query = query.order_by(*order).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self.read() as conn:
            return [_record(TrainingJobRecord, row) for row in conn.execute(query)]

    def counters(self, tuning_job: str, conn: Connection | None = None) -> Counters:
        c = training_jobs.c
        query = (
            select(c.status, c.objective_status, c.retryable, func.count())
            .where(c.tuning_job == tuning_job)
            .group_by(c.status, c.objective_status, c.retryable)
        )
        if conn is None:
            with self.read() as conn:
                rows = conn.execute(query).all()
        else:
            rows = conn.execute(query).all()
        status_counts = {"Completed": 0, "InProgress": 0, "Stopped": 0, "Failed": 0}
        objective_counts = {"Succeeded": 0, "Pending": 0, "Failed": 0}
        retryable_failed = 0
        for status, objective_status, retryable, count in rows:
            if status == "Failed" and retryable:
                retryable_failed += count
            # A job being stopped still runs, as SageMaker counts it.
            status_counts["InProgress" if status == "Stopping" else status] += count
            objective_counts[objective_status or "Pending"] += count
        return Counters(
            completed=status_counts["Completed"],
            in_progress=status_counts["InProgress"],
            stopped=status_counts["Stopped"],
            failed=status_counts["Failed"],
            retryable_failed=retryable_failed,
            objective_succeeded=objective_counts["Succeeded"],
            objective_pending=objective_counts["Pending"],
            objective_failed=objective_counts["Failed"],
        )

    def best_training_job(
        self, tuning_job: str, objective_type: str, conn: Connection | None = None
    ) -> TrainingJobRecord | None:
        """The training job with the best final objective (earliest first among equals)."""
        c = training_jobs.c
        order = (
            c.final_objective.desc() if objective_type == "Maximize" else c.final_objective.asc()
        )
        query = (
            select(training_jobs)
            .where(c.tuning_job == tuning_job, c.objective_status == "Succeeded")
            .order_by(order, c.seq)
            .limit(1)
        )
        if conn is None:
            with self.read() as conn:
                row = conn.execute(query).first()
        else:
            row = conn.execute(query).first()
        return None if row is None else _record(TrainingJobRecord, row)

    def finished_after(self, tuning_job: str, end_time: float) -> int:
        """How many of the tuning job's training jobs ended after ``end_time``."""
        c = training_jobs.c
        query = select(func.count()).where(c.tuning_job == tuning_job, c.end_time > end_time)
        with self.read() as conn:
            return int(conn.execute(query).scalar_one())

    def consumed_seconds(self, tuning_job: str, now: float) -> float:
        """Total run time of the tuning job's training jobs, running ones up to ``now``."""
        c = training_jobs.c
        query = select(func.sum(func.coalesce(c.end_time, now) - c.start_time)).where(
            c.tuning_job == tuning_job, c.start_time.is_not(None)
        )
        with self.read() as conn:
            return float(conn.execute(query).scalar() or 0.0)

    # -- metric values -----------------------------------------------------------------------

    def add_metric_values(
        self,
        training_job: str,
        values: Sequence[tuple[str, float, float]],
        conn: Connection | None = None,
    ) -> None:
        """Append ``(metric, timestamp, value)`` triples in order; steps continue each series."""
        if not values:
            return
        if conn is None:
            with self.write() as conn:
                return self.add_metric_values(training_job, values, conn)
        conn.execute(_LOCK_TRAINING_JOB, {"training_job": training_job})
        next_step = dict(conn.execute(_NEXT_STEPS, {"training_job": training_job}).all())
        rows = []
        for metric, timestamp, value in values:
            step = next_step.get(metric, 0)
            next_step[metric] = step + 1
            rows.append(
                {
                    "training_job": training_job,
                    "metric": metric,
                    "step": step,
                    "timestamp": timestamp,
                    "value": value,
                }
            )
        conn.execute(_INSERT_METRIC_VALUES, rows)

    def delete_metric_values(self, training_job: str, conn: Connection) -> None:
        """Forget a training job's metric values (those of an attempt that is run again)."""
        conn.execute(delete(metric_values).where(metric_values.c.training_job == training_job))

    def metric_series(self, training_job: str, metric: str | None = None) -> list[MetricPoint]:
        c = metric_values.c
        query = select(c.training_job, c.metric, c.step, c.timestamp, c.value).where(
            c.training_job == training_job
        )
        if metric is not None:
            query = query.where(c.metric == metric)
        with self.read() as conn:
            return [MetricPoint(*row) for row in conn.execute(query.order_by(c.metric, c.step))]

    def final_metrics(self, training_job: str) -> list[MetricPoint]:
        """The last value of each metric of a training job."""
        c = metric_values.c
        last = (
            select(c.metric, func.max(c.step).label("step"))
            .where(c.training_job == training_job)
            .group_by(c.metric)
            .subquery()
        )
        query = (
            select(c.training_job, c.metric, c.step, c.timestamp, c.value)
            .join(last, and_(c.metric == last.c.metric, c.step == last.c.step))
            .where(c.training_job == training_job)
            .order_by(c.metric)
        )
        with self.read() as conn:
            return [MetricPoint(*row) for row in conn.execute(query)]

    def metric_values_of_tuning_job(self, tuning_job: str) -> list[MetricPoint]:
        c = metric_values.c
        query = (
            select(c.training_job, c.metric, c.step, c.timestamp, c.value)
            .join(training_jobs, training_jobs.c.name == c.training_job)
            .where(training_jobs.c.tuning_job == tuning_job)
            .order_by(c.training_job, c.metric, c.step)
        )
        with self.read() as conn:
            return [MetricPoint(*row) for row in conn.execute(query)]

    # -- tags --------------------------------------------------------------------------------

    def resource_exists(self, arn: str) -> bool:
        """Whether a tuning job or a training job has the ARN (tags need an existing one)."""
        with self.read() as conn:
            return any(
                conn.execute(select(table.c.name).where(table.c.arn == arn)).first()
                for table in (tuning_jobs, training_jobs)
            )

    def add_tags(self, arn: str, pairs: Mapping[str, str]) -> None:
        with self.write() as conn:
            for key, value in pairs.items():
                conn.execute(delete(tags).where(tags.c.resource_arn == arn, tags.c.key == key))
                conn.execute(insert(tags).values(resource_arn=arn, key=key, value=value))

    def list_tags(self, arn: str) -> dict[str, str]:
        with self.read() as conn:
            rows = conn.execute(
                select(tags.c.key, tags.c.value)
                .where(tags.c.resource_arn == arn)
                .order_by(tags.c.key)
            )
            return dict(rows.all())

    def delete_tags(self, arn: str, keys: Iterable[str]) -> None:
        with self.write() as conn:
            conn.execute(delete(tags).where(tags.c.resource_arn == arn, tags.c.key.in_(list(keys))))
