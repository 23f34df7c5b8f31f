"""The charts of a tuning job for the dashboard: tunesmith.viz's report as a Vega-Lite spec.

Building a report takes a good part of a second, and dashboards poll. A report is rebuilt only
when its tuning job changed (a cheap query over the job's rows tells), and at most once per
``min_age`` seconds while the job keeps changing; every caller in between gets the kept one.
Each report carries a version, so a page that holds it already is told so in a few bytes.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from sqlalchemy import func, select

from tunesmith.store import Store
from tunesmith.store.schema import metric_values, training_jobs, tuning_jobs
from tunesmith.viz import build_report, tuning_job_data
from tunesmith.viz.export import vega_lite_spec

MIN_AGE_SECONDS = 2.0
MAX_KEPT = 32
"""Reports kept at most (the least recently built go first)."""


@dataclass(frozen=True)
class Report:
    version: str
    """Changes whenever the spec does (an HTTP entity tag)."""
    spec: bytes
    """The Vega-Lite spec, as JSON."""
    built: float


def job_state(store: Store, name: str) -> Hashable:
    """Whatever a report of the tuning job is drawn from changes this value."""
    jobs, trials, values = tuning_jobs.c, training_jobs.c, metric_values.c
    of_job = select(trials.name).where(trials.tuning_job == name).scalar_subquery()
    with store.read() as conn:
        job = conn.execute(
            select(jobs.created, jobs.last_modified, jobs.status).where(jobs.name == name)
        ).first()
        rows = conn.execute(
            select(
                trials.status,
                func.count(),
                func.max(trials.start_time),
                func.max(trials.end_time),
                func.count(trials.final_objective),
            )
            .where(trials.tuning_job == name)
            .group_by(trials.status)
            .order_by(trials.status)
        ).all()
        series = conn.execute(
            select(func.count(), func.max(values.id)).where(values.training_job.in_(of_job))
        ).first()
    return (tuple(job or ()), tuple(map(tuple, rows)), tuple(series or ()))


def build_spec(store: Store, name: str) -> bytes:
    """The full linked report of one tuning job, as the ``tunesmith report`` command draws it."""
    chart = build_report([tuning_job_data(store, name)], advanced=True)
    return json.dumps(vega_lite_spec(chart), separators=(",", ":"), allow_nan=False).encode()


class Reports:
    """The reports of tuning jobs of one store, rebuilt as their jobs change."""

    def __init__(
        self,
        store: Store,
        min_age: float = MIN_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.min_age = min_age
        self.clock = clock
        self._kept: OrderedDict[str, tuple[Hashable, Report]] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}

    def get(self, name: str) -> Report:
        """The report of the tuning job ``name`` (``ResourceNotFound`` if there is none)."""
        kept = self._young(name)
        if kept is not None:
            return kept
        with self._lock:
            building = self._building.setdefault(name, threading.Lock())
        # One build per job at a time: the others wait for it rather than repeat it.
        with building:
            kept = self._young(name)
            if kept is not None:
                return kept
            state = job_state(self.store, name)
            with self._lock:
                previous = self._kept.get(name)
            if previous is not None and previous[0] == state:
                report = Report(previous[1].version, previous[1].spec, self.clock())
            else:
                spec = build_spec(self.store, name)
                report = Report(hashlib.sha256(spec).hexdigest()[:32], spec, self.clock())
            with self._lock:
                self._kept[name] = (state, report)
                self._kept.move_to_end(name)
                while len(self._kept) > MAX_KEPT:
                    self._kept.popitem(last=False)
        return report

    def _young(self, name: str) -> Report | None:
        with self._lock:
            kept = self._kept.get(name)
        if kept is not None and self.clock() - kept[1].built < self.min_age:
            return kept[1]
        return None
