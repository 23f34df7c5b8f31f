"""Reads of the store that only the server's operations need: every training job (tuning jobs'
and standalone ones) with ``ListTrainingJobs`` filters, and resources by ARN."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import and_, func, select

from tunesmith.store import Store
from tunesmith.store.schema import training_jobs, tuning_jobs

ResourceKind = Literal["hyper-parameter-tuning-job", "training-job"]


@dataclass(frozen=True)
class TrainingJobRow:
    """The columns of a training job that listing and supervising it need."""

    name: str
    arn: str
    status: str
    secondary_status: str
    created: float
    start_time: float | None
    end_time: float | None
    pid: int | None


_c = training_jobs.c
_ROW_COLUMNS = (_c.name, _c.arn, _c.status, _c.secondary_status, _c.created, _c.start_time,
                _c.end_time, _c.pid)


def list_all_training_jobs(
    store: Store,
    *,
    name_contains: str | None = None,
    status: str | None = None,
    created_after: float | None = None,
    created_before: float | None = None,
    modified_after: float | None = None,
    modified_before: float | None = None,
    sort_by: Literal["Name", "CreationTime", "Status"] = "CreationTime",
    descending: bool = True,
    offset: int = 0,
    limit: int | None = None,
) -> list[TrainingJobRow]:
    """Every training job matching the filters; a training job was last modified when it
    ended, else started, else was created."""
    c = training_jobs.c
    modified = func.coalesce(c.end_time, c.start_time, c.created)
    conditions = []
    if name_contains:
        conditions.append(func.lower(c.name).contains(name_contains.lower(), autoescape=True))
    if status:
        # A training job being stopped is still in progress for its clients.
        statuses = ["InProgress", "Stopping"] if status == "InProgress" else [status]
        conditions.append(c.status.in_(statuses))
    for column, bound, after in (
        (c.created, created_after, True), (c.created, created_before, False),
        (modified, modified_after, True), (modified, modified_before, False),
    ):
        if bound is not None:
            conditions.append(column > bound if after else column < bound)
    column = {"Name": c.name, "CreationTime": c.created, "Status": c.status}[sort_by]
    query = (
        select(*_ROW_COLUMNS)
        .where(and_(True, *conditions))
        .order_by(column.desc() if descending else column.asc(), c.name.asc())
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    with store.read() as conn:
        return [TrainingJobRow(*row) for row in conn.execute(query)]


def standalone_training_jobs(store: Store, statuses: list[str]) -> list[TrainingJobRow]:
    """Training jobs created by ``CreateTrainingJob`` (no tuning job) in one of ``statuses``."""
    query = select(*_ROW_COLUMNS).where(_c.tuning_job.is_(None), _c.status.in_(statuses))
    with store.read() as conn:
        return [TrainingJobRow(*row) for row in conn.execute(query)]


def resource_with_arn(store: Store, arn: str) -> ResourceKind | None:
    """Which kind of resource the ARN names, if it exists."""
    with store.read() as conn:
        if conn.execute(select(tuning_jobs.c.name).where(tuning_jobs.c.arn == arn)).first():
            return "hyper-parameter-tuning-job"
        if conn.execute(select(training_jobs.c.name).where(training_jobs.c.arn == arn)).first():
            return "training-job"
    return None
