"""Long runs and shared stores: 2,000 trivial training jobs read by 4 concurrent readers end
with exact counters; several engines and a server on one SQLite home, and on one PostgreSQL
database, while others describe, list and stop hit no lock error and lose no update."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability_support import fork_engine, kill_and_reap, record_figures, training_processes
from serving import boto3_tuning_document, client, start_server

from helpers import tuning_document, wait_for
from tunesmith import service
from tunesmith.api import Workspace
from tunesmith.store import TERMINAL_STATUSES, Store

TRIVIAL = "echo score: 1\n"
SOAK_TRAINING_JOBS = 2000
READERS = 4


def _readers(store_url: str, names: list[str], stop: threading.Event, errors: list[str],
             reads: list[int]) -> list[threading.Thread]:
    """Threads that describe and list the tuning jobs until told to stop, each with a store
    of its own, as separate clients would."""

    def read(index: int) -> None:
        store = Store(store_url)
        count = 0
        while not stop.is_set():
            name = names[count % len(names)]
            try:
                service.describe_tuning_job(store, name)
                service.list_training_jobs_for_tuning_job(store, name, max_results=100,
                                                          sort_by="CreationTime")
                service.list_tuning_jobs(store)
            except Exception as error:
                errors.append(f"{type(error).__name__}: {error}")
            count += 1
        reads[index] = count
        store.close()

    return [threading.Thread(target=read, args=(i,), daemon=True) for i in range(READERS)]


def _api_reader(url: str, names: list[str], stop: threading.Event, errors: list[str],
                reads: list[int]) -> threading.Thread:
    """A thread that describes and lists the tuning jobs through the server with boto3."""

    def read() -> None:
        sagemaker = client(url)
        count = 0
        while not stop.is_set():
            name = names[count % len(names)]
            try:
                sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
                sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
                    HyperParameterTuningJobName=name, MaxResults=100)
                sagemaker.list_hyper_parameter_tuning_jobs()
            except Exception as error:
                errors.append(f"{type(error).__name__}: {error}")
            count += 1
        reads.append(count)

    return threading.Thread(target=read, daemon=True)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_2000_training_jobs_with_4_readers_end_with_exact_counters(home, script_dir) -> None:
    source = script_dir(TRIVIAL, "train.sh")
    document = tuning_document("soak", source, program="train.sh", strategy="Random",
                               max_jobs=SOAK_TRAINING_JOBS, parallel=8)
    store = Workspace.open(home).store
    service.create_tuning_job_record(store, document)
    stop = threading.Event()
    errors: list[str] = []
    reads = [0] * READERS
    readers = _readers(store.url, ["soak"], stop, errors, reads)
    started = time.monotonic()
    engine = fork_engine(store.url, "soak", Path(home).resolve())
    for reader in readers:
        reader.start()
    wait_for(lambda: store.get_tuning_job("soak").status in TERMINAL_STATUSES, timeout=850,
             interval=0.5)
    duration = time.monotonic() - started
    stop.set()
    for reader in readers:
        reader.join()
    kill_and_reap(engine)
    doc = service.describe_tuning_job(store, "soak")
    record_figures("soak", {"training_jobs": SOAK_TRAINING_JOBS, "readers": READERS,
                            "reads": sum(reads), "read_errors": len(errors),
                            "seconds": round(duration, 1)})
    assert errors == []
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    assert doc["TrainingJobStatusCounters"] == {
        "Completed": SOAK_TRAINING_JOBS, "InProgress": 0, "RetryableError": 0,
        "NonRetryableError": 0, "Stopped": 0,
    }
    assert doc["ObjectiveStatusCounters"]["Succeeded"] == SOAK_TRAINING_JOBS
    assert len(store.training_jobs("soak")) == SOAK_TRAINING_JOBS
    assert training_processes("soak-") == []


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_store(request: pytest.FixtureRequest, home: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The home's own SQLite store, or a fresh PostgreSQL database (which a server over the
    home then uses too)."""
    if request.param == "sqlite":
        yield Workspace.open(home).store
        return
    url = request.getfixturevalue("postgres_url")
    monkeypatch.setenv("TUNESMITH_STORE", url)
    store = Store(url)
    yield store
    store.close()


@pytest.mark.slow
def test_engines_and_a_server_sharing_a_store_with_readers_and_a_stop_hit_no_lock(
    home, script_dir, shared_store: Store
) -> None:
    """Four engines started by hand and one started by a server run a tuning job each, while
    four store readers and a boto3 reader describe and list them and the server stops one."""
    source = script_dir(TRIVIAL, "train.sh")
    store = shared_store
    names = [f"shared-{i}" for i in range(4)]
    for name in names:
        # The one to be stopped has far more training jobs than it can run before the stop.
        service.create_tuning_job_record(store, tuning_document(
            name, source, program="train.sh", strategy="Random",
            max_jobs=1000 if name == names[-1] else 40, parallel=3))
    server = start_server(Path(home).resolve())
    served = "shared-served"
    document = boto3_tuning_document(served, source, Path(home) / "output", program="train.sh",
                                     strategy="Random", max_jobs=40, parallel=3)
    all_names = [*names, served]
    stop = threading.Event()
    errors: list[str] = []
    reads = [0] * READERS
    readers = [*_readers(store.url, all_names, stop, errors, reads),
               _api_reader(server.url, all_names, stop, errors, reads)]
    sagemaker = client(server.url)
    sagemaker.create_hyper_parameter_tuning_job(**document)
    engines = [fork_engine(store.url, name, Path(home).resolve()) for name in names]
    for reader in readers:
        reader.start()
    wait_for(lambda: store.counters(names[-1]).completed >= 3, timeout=120)
    sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=names[-1])
    wait_for(lambda: all(store.get_tuning_job(n).status in TERMINAL_STATUSES for n in all_names),
             timeout=300, interval=0.2)
    stop.set()
    for reader in readers:
        reader.join()
    server.stop()
    for engine in engines:
        kill_and_reap(engine)
    section = "shared_home" if store.url.startswith("sqlite") else "shared_postgresql"
    record_figures(section, {"engines": len(all_names), "readers": len(readers),
                             "reads": sum(reads), "lock_errors": len(errors)})
    assert errors == []
    assert [store.get_tuning_job(n).status for n in all_names] == (
        ["Completed"] * 3 + ["Stopped", "Completed"])
    for name in [*names[:3], served]:
        assert store.counters(name).completed == 40
    for name in all_names:
        assert store.get_tuning_job(name).failure_reason is None
    assert training_processes("shared-") == []
