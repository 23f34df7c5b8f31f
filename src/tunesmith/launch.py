"""Running an engine: in this process, or detached in a process of its own.

A detached engine outlives the command or notebook that created the tuning job, as a SageMaker
tuning job outlives the notebook that started it. Its own output goes to
``<home>/jobs/<tuning-job>/engine.log``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tunesmith.model.errors import ConflictException, TunesmithError
from tunesmith.runner.backend import Backend
from tunesmith.store import TERMINAL_STATUSES, Store
from tunesmith.training import tuning_job_directory

if TYPE_CHECKING:  # the engine (strategies, numpy) loads when a job runs
    from tunesmith.engine import TuningEngine


def run_engine(
    store: Store,
    name: str,
    home: Path,
    *,
    on_start: Callable[[TuningEngine], None] = lambda _: None,
    backend: Backend | None = None,
) -> str:
    """Run the tuning job to its end here; an unexpected error fails the job with its reason
    instead of leaving it ``InProgress`` forever. ``on_start`` receives the engine first (to
    route stop requests to it). Without a ``backend``, the one chosen by the environment, else
    the one the job's last engine recorded, else local."""
    try:
        from tunesmith.engine import TuningEngine

        chosen = backend or Backend.choose(recorded=store.get_tuning_job(name).backend)
        engine = TuningEngine(
            store, name, home=home, runner_factory=chosen.runner_factory(),
            backend_record=chosen.record(),
        )
        on_start(engine)
        return engine.run()
    except ConflictException:
        raise  # another engine runs the job: it is not this one's to fail
    except Exception as error:
        traceback.print_exc()
        now = time.time()
        if isinstance(error, TunesmithError):  # the document asks for what cannot be had here
            reason = f"{error.code}: {error.message}"
        else:
            reason = f"InternalFailure: the tuning engine failed: {type(error).__name__}: {error}"
        store.update_tuning_job(
            name,
            status="Failed",
            failure_reason=reason[:1024],
            completion_reason=reason[:1024],
            end_time=now,
            last_modified=now,
            engine_pid=None,
            only_if_status=["InProgress", "Stopping"],
        )
        return "Failed"


def engine_log(home: Path, name: str) -> Path:
    return tuning_job_directory(home, name) / "engine.log"


def spawn_engine(name: str, home: Path, store_url: str, backend: Backend | None = None) -> int:
    """Start a detached engine process for the tuning job and return its process id."""
    log = engine_log(home, name)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tunesmith.launch",
                name,
                "--home",
                str(home),
                "--store",
                store_url,
                *(backend.arguments() if backend else []),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return process.pid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tunesmith.launch")
    parser.add_argument("name")
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--backend")
    parser.add_argument("--ray-address")
    args = parser.parse_args(argv)
    store = Store(args.store)
    backend = Backend.given(args.backend, args.ray_address)

    def on_start(engine: TuningEngine) -> None:
        # `kill` of a detached engine stops its tuning job the way `tunesmith stop` does.
        signal.signal(signal.SIGTERM, lambda *_: engine.request_stop())

    try:
        status = run_engine(store, args.name, args.home, on_start=on_start, backend=backend)
    except TunesmithError as error:
        print(f"error: {error.code}: {error.message}", file=sys.stderr)
        return 1
    return 0 if status in TERMINAL_STATUSES else 1


if __name__ == "__main__":
    sys.exit(main())
