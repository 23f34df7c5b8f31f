import multiprocessing
import sqlite3
import time
from pathlib import Path

import pytest

from tunesmith.model.errors import ResourceInUse, ResourceNotFound
from tunesmith.store import Store
from tunesmith.store.database import enable_wal
from tunesmith.store.schema import SCHEMA_VERSION


def _new_job(store: Store, name: str, objective_type: str = "Maximize") -> None:
    now = time.time()
    store.create_tuning_job(
        name=name,
        arn=f"arn:{name}",
        status="InProgress",
        strategy="Random",
        objective_metric="score",
        objective_type=objective_type,
        request={"name": name},
        created=now,
        last_modified=now,
    )


def _new_training_job(store: Store, tuning_job: str, **values: object) -> str:
    seq = store.create_training_job(
        name=f"{tuning_job}-{{seq:03d}}-abcd0123",
        arn="arn:{seq}",
        tuning_job=tuning_job,
        status="InProgress",
        secondary_status="Starting",
        hyperparameters={"x": "1"},
        created=time.time(),
        transitions=[],
        **values,
    )
    return f"{tuning_job}-{seq:03d}-abcd0123"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every store test runs on SQLite and on a real PostgreSQL server."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'tunesmith.db'}"


@pytest.fixture
def store(store_url: str) -> Store:
    return Store(store_url)


def test_sqlite_store_runs_in_wal_mode(tmp_path: Path) -> None:
    Store(f"sqlite:///{tmp_path / 'tunesmith.db'}")
    with sqlite3.connect(tmp_path / "tunesmith.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_store_of_the_previous_schema_is_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "tunesmith.db"
    store = Store(f"sqlite:///{path}")
    _new_job(store, "old")
    store.close()
    with sqlite3.connect(path) as conn:  # as version 2 left it
        conn.execute("ALTER TABLE tuning_jobs DROP COLUMN backend")
        conn.execute("UPDATE schema_version SET version = 2")

    reopened = Store(f"sqlite:///{path}")
    assert reopened.get_tuning_job("old").backend is None
    reopened.update_tuning_job("old", backend='{"name": "local"}')
    assert reopened.get_tuning_job("old").backend == '{"name": "local"}'
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION


def test_switching_a_new_file_to_wal_tries_again_when_refused() -> None:
    class Refusing:
        """A cursor whose database is switched by another process first: refused twice."""

        def __init__(self) -> None:
            self.tries = 0

        def execute(self, statement: str) -> None:
            assert statement == "PRAGMA journal_mode = WAL"
            self.tries += 1
            if self.tries < 3:
                raise sqlite3.OperationalError("database is locked")

    cursor = Refusing()
    enable_wal(cursor)
    assert cursor.tries == 3
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        enable_wal(_Failing())


class _Failing:
    def execute(self, statement: str) -> None:
        raise sqlite3.OperationalError("disk I/O error")  # not a lock: no second try


def test_duplicate_and_missing_tuning_jobs(store: Store) -> None:
    _new_job(store, "a")
    with pytest.raises(ResourceInUse, match="'a' already exists"):
        _new_job(store, "a")
    with pytest.raises(ResourceNotFound, match="nope"):
        store.get_tuning_job("nope")
    assert store.get_tuning_job("a").request == {"name": "a"}


def test_training_jobs_are_numbered_and_metric_steps_continue(store: Store) -> None:
    _new_job(store, "a")
    names = [_new_training_job(store, "a") for _ in range(3)]
    assert names == [f"a-{i:03d}-abcd0123" for i in (1, 2, 3)]
    store.add_metric_values(names[0], [("score", 1.0, 0.1), ("loss", 1.0, 9.0)])
    store.add_metric_values(names[0], [("score", 2.0, 0.2)])
    series = store.metric_series(names[0], "score")
    assert [(p.step, p.value) for p in series] == [(0, 0.1), (1, 0.2)]
    assert {p.metric: p.value for p in store.final_metrics(names[0])} == {"score": 0.2, "loss": 9.0}


@pytest.mark.parametrize("objective_type, best", [("Maximize", 0.9), ("Minimize", 0.1)])
def test_best_and_sorting_put_missing_objectives_last(
    store: Store, objective_type: str, best: float
) -> None:
    _new_job(store, "a", objective_type)
    for value in (0.5, None, 0.9, 0.1):
        name = _new_training_job(store, "a")
        store.update_training_job(
            name,
            status="Completed",
            final_objective=value,
            end_time=time.time(),
            objective_status="Succeeded" if value is not None else "Failed",
        )
    assert store.best_training_job("a", objective_type).final_objective == best
    ascending = [
        r.final_objective for r in store.training_jobs("a", sort_by="FinalObjectiveMetricValue")
    ]
    descending = [
        r.final_objective
        for r in store.training_jobs("a", sort_by="FinalObjectiveMetricValue", descending=True)
    ]
    assert ascending == [0.1, 0.5, 0.9, None]
    assert descending == [0.9, 0.5, 0.1, None]
    counters = store.counters("a")
    assert (counters.completed, counters.objective_succeeded, counters.objective_failed) == (
        4,
        3,
        1,
    )


def _writer(url: str, tuning_job: str, count: int) -> None:
    store = Store(url)
    for i in range(count):
        name = _new_training_job(store, tuning_job)
        store.add_metric_values(name, [("score", time.time(), float(i))] * 3)
        store.update_training_job(
            name,
            status="Completed",
            final_objective=float(i),
            objective_status="Succeeded",
            end_time=time.time(),
        )


def _reader(url: str, tuning_jobs: list[str], seconds: float) -> None:
    store = Store(url)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for name in tuning_jobs:
            store.counters(name)
            store.training_jobs(name, limit=10)


@pytest.mark.slow
def test_concurrent_writers_on_one_home_lose_nothing(store_url: str) -> None:
    url = store_url
    store = Store(url)
    for name in ("random", "bayesian"):
        _new_job(store, name)
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_writer, args=(url, "random", 150)),
        context.Process(target=_writer, args=(url, "random", 150)),
        context.Process(target=_writer, args=(url, "bayesian", 150)),
        context.Process(target=_reader, args=(url, ["random", "bayesian"], 3.0)),
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join(120)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    assert store.counters("random").completed == 300
    assert store.counters("bayesian").completed == 150
    seqs = [r.seq for r in store.training_jobs("random")]
    assert seqs == list(range(1, 301))
    assert len(store.metric_values_of_tuning_job("random")) == 900
