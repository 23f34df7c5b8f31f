"""Local training job processes: outcomes, output, metrics, stops, limits, artifacts."""

from __future__ import annotations

import tarfile
import threading
from pathlib import Path

import psutil
import pytest
from runner_support import Recorder, log_text, spec_for, start_mode, survivors  # noqa: F401

from helpers import wait_for
from tunesmith.runner.base import MetricsObserved, TrainingJobEnded, TrainingJobStarted
from tunesmith.runner.local import LocalRunner

pytestmark = pytest.mark.usefixtures("start_mode")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def runner(recorder: Recorder):  # type: ignore[no-untyped-def]
    runner = LocalRunner(recorder)
    yield runner
    runner.close()


def test_completed_job_packs_model_and_output_data(
    tmp_path: Path, runner: LocalRunner, recorder: Recorder
) -> None:
    spec = spec_for(tmp_path, source="""
        import os
        with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as f:
            f.write("weights")
        os.makedirs(os.path.join(os.environ["SM_MODEL_DIR"], "sub"))
        open(os.path.join(os.environ["SM_MODEL_DIR"], "sub", "b.bin"), "wb").write(b"1")
        open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "report.txt"), "w").write("r")
    """, output_path=tmp_path / "out")
    runner.start(spec)
    ended = recorder.ended(spec.name)
    assert (ended.status, ended.secondary_status, ended.exit_code) == ("Completed", "Completed", 0)
    assert ended.failure_reason is None
    assert ended.model_artifacts == str(tmp_path / "out" / "model.tar.gz")
    with tarfile.open(ended.model_artifacts) as tar:
        assert sorted(tar.getnames()) == ["model.txt", "sub", "sub/b.bin"]
        assert tar.extractfile("model.txt").read() == b"weights"  # type: ignore[union-attr]
    with tarfile.open(tmp_path / "out" / "output.tar.gz") as tar:
        assert tar.getnames() == ["report.txt"]
    events = recorder.of(spec.name)
    assert isinstance(events[0], TrainingJobStarted) and isinstance(events[-1], TrainingJobEnded)
    assert events[0].pid > 0 and events[0].time <= ended.time
    assert runner.running() == []


def test_failure_file_is_the_failure_reason(
    tmp_path: Path, runner: LocalRunner, recorder: Recorder
) -> None:
    spec = spec_for(tmp_path, source="""
        import os, sys
        with open(os.path.join(os.environ["SM_OUTPUT_DIR"], "failure"), "w") as f:
            f.write("  learning rate diverged\\n" + "x" * 5000)
        sys.exit(3)
    """)
    runner.start(spec)
    ended = recorder.ended(spec.name)
    assert (ended.status, ended.exit_code) == ("Failed", 3)
    assert ended.failure_reason is not None
    assert ended.failure_reason.startswith("learning rate diverged\n")
    assert len(ended.failure_reason) == 1024
    assert ended.model_artifacts is None


def test_stderr_tail_is_the_failure_reason(
    tmp_path: Path, runner: LocalRunner, recorder: Recorder
) -> None:
    spec = spec_for(tmp_path, source="""
        import sys
        for i in range(1000):
            print(f"noise {i}", file=sys.stderr)
        raise ValueError("bad max_depth")
    """)
    runner.start(spec)
    ended = recorder.ended(spec.name)
    assert (ended.status, ended.secondary_status, ended.exit_code) == ("Failed", "Failed", 1)
    reason = ended.failure_reason or ""
    assert reason.startswith("AlgorithmError: ExecuteUserScriptError: exit code 1")
    assert reason.endswith('ValueError: bad max_depth"')
    assert "noise 0\n" not in reason and len(reason) <= 1024


def test_script_killed_by_a_signal(
    tmp_path: Path, runner: LocalRunner, recorder: Recorder
) -> None:
    spec = spec_for(tmp_path, source="import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    runner.start(spec)
    ended = recorder.ended(spec.name)
    assert (ended.status, ended.exit_code) == ("Failed", -9)
    expected = "AlgorithmError: ExecuteUserScriptError: killed by signal SIGKILL"
    assert ended.failure_reason == expected


def test_script_crashing_at_import(
    tmp_path: Path, runner: LocalRunner, recorder: Recorder
) -> None:
    spec = spec_for(tmp_path, source="import no_such_module_here\n")
    runner.start(spec)
    ended = recorder.ended(spec.name)
    assert ended.status == "Failed"
    assert "ModuleNotFoundError: No module named 'no_such_module_here'" in (
        ended.failure_reason or ""
    )


def test_missing_program_or_interpreter_is_a_failed_event(
    tmp_path: Path, runner: LocalRunner, recorder: Recorder
) -> None:
    (tmp_path / "empty").mkdir()
    missing = spec_for(tmp_path, "no-program", source_dir=tmp_path / "empty")
    runner.start(missing)
    ended = recorder.ended(missing.name)
    assert ended.status == "Failed" and "train.py does not exist" in (ended.failure_reason or "")
    no_python = spec_for(tmp_path, "no-python", source="print(1)\n",
                         interpreter=str(tmp_path / "bin" / "python"))
    runner.start(no_python)
    ended = recorder.ended(no_python.name)
    assert ended.status == "Failed" and "cannot execute" in (ended.failure_reason or "")
    assert [type(e) for e in recorder.events] == [TrainingJobEnded, TrainingJobEnded]


def test_metrics_from_both_streams_in_order_with_notes(
    tmp_path: Path, runner: LocalRunner, recorder: Recorder
) -> None:
    spec = spec_for(tmp_path, source="""
        import sys
        for epoch in range(3):
            print(f"epoch {epoch} train-loss={1.0 / (epoch + 1):.3f}")
            print(f"valid-f1: {0.5 + epoch / 10}", file=sys.stderr)
            sys.stdout.flush()
        print("valid-f1: abc", file=sys.stderr)
        print("partial line without newline train-loss=0.1", end="")
    """, metrics={"train-loss": r"train-loss=(\S+)", "valid-f1": r"valid-f1:\s*(\S+)"})
    runner.start(spec)
    ended = recorder.ended(spec.name)
    assert ended.status == "Completed"
    values = recorder.metrics(spec.name)
    assert [v for m, v in values if m == "train-loss"] == [1.0, 0.5, 0.333, 0.1]
    assert [v for m, v in values if m == "valid-f1"] == [0.5, 0.6, 0.7]
    assert ended.notes == ("metric valid-f1: regex matched 'abc', which is not a number",)
    log = (spec.directory / "logs" / "training.log").read_text().splitlines()
    assert "epoch 0 train-loss=1.000" in log and "valid-f1: 0.7" in log
    assert log[-1] == "partial line without newline train-loss=0.1"
    timestamps = [
        v.timestamp for e in recorder.of(spec.name) if isinstance(e, MetricsObserved)
        for v in e.values
    ]
    assert timestamps == sorted(timestamps) and timestamps[0] > 1e9


def test_runtime_limit_stops_the_job(
    tmp_path: Path, runner: LocalRunner, recorder: Recorder
) -> None:
    spec = spec_for(tmp_path, source="""
        import time
        print("score: 1", flush=True)
        time.sleep(120)
    """, max_runtime_seconds=0.5, metrics={"score": r"score: (\d+)"})
    runner.start(spec)
    ended = recorder.ended(spec.name)
    assert (ended.status, ended.secondary_status) == ("Stopped", "MaxRuntimeExceeded")
    assert "MaxRuntimeInSeconds" in (ended.failure_reason or "")
    assert recorder.metrics(spec.name) == [("score", 1.0)]
    assert ended.model_artifacts is not None  # a stopped job keeps its model, as in SageMaker


SPAWNS_CHILDREN = """
    import subprocess, sys, time
    subprocess.Popen(["sleep", "1000"])
    grandchild = "import subprocess, time; subprocess.Popen(['sleep', '1000']); time.sleep(1000)"
    subprocess.Popen([sys.executable, "-c", grandchild])
    print("ready", flush=True)
    time.sleep(1000)
"""


def _descendants(pid: int, count: int) -> list[psutil.Process]:
    def enough() -> list[psutil.Process] | None:
        found = psutil.Process(pid).children(recursive=True)
        return found if len(found) >= count else None

    return wait_for(enough, timeout=20)


def test_stop_kills_children_and_grandchildren(
    tmp_path: Path, runner: LocalRunner, recorder: Recorder
) -> None:
    spec = spec_for(tmp_path, source=SPAWNS_CHILDREN, stop_grace_seconds=0.5)
    runner.start(spec)
    started = recorder.started(spec.name)
    tree = [psutil.Process(started.pid), *_descendants(started.pid, 3)]
    assert runner.running() == [spec.name]
    runner.stop(spec.name, "Stopped by the early stopping rule")
    ended = recorder.ended(spec.name)
    assert (ended.status, ended.secondary_status) == ("Stopped", "Stopped")
    assert ended.failure_reason == "Stopped by the early stopping rule"
    assert survivors(tree) == []
    runner.stop(spec.name, "again")  # stopping an ended job does nothing
    assert len(recorder.of(spec.name)) == 2


def test_children_left_behind_by_a_finished_script_die_with_it(
    tmp_path: Path, runner: LocalRunner, recorder: Recorder
) -> None:
    spec = spec_for(tmp_path, "leaves-children", source="""
        import subprocess
        child = subprocess.Popen(["sleep", "1000"])
        print(child.pid, flush=True)
    """)
    runner.start(spec)
    ended = recorder.ended(spec.name)
    assert ended.status == "Completed"
    child = int((spec.directory / "logs" / "training.log").read_text().split()[0])
    try:
        leftover = [psutil.Process(child)]
    except psutil.NoSuchProcess:
        leftover = []
    assert survivors(leftover) == []


def test_sigterm_grace_lets_the_script_checkpoint(
    tmp_path: Path, runner: LocalRunner, recorder: Recorder
) -> None:
    spec = spec_for(tmp_path, source="""
        import os, signal, sys, time
        def save(signum, frame):
            time.sleep(0.2)
            with open(os.path.join(os.environ["SM_CHECKPOINT_DIR"], "last.ckpt"), "w") as f:
                f.write("epoch 7")
            with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as f:
                f.write("partial")
            sys.exit(0)
        signal.signal(signal.SIGTERM, save)
        print("ready", flush=True)
        time.sleep(1000)
    """, stop_grace_seconds=5.0)
    runner.start(spec)
    wait_for(lambda: "ready" in log_text(spec))
    runner.stop(spec.name, "user request")
    ended = recorder.ended(spec.name)
    assert ended.status == "Stopped"
    assert (spec.directory / "checkpoints" / "last.ckpt").read_text() == "epoch 7"
    with tarfile.open(ended.model_artifacts or "") as tar:
        assert tar.getnames() == ["model.txt"]


def test_sigkill_after_grace_when_sigterm_is_ignored(
    tmp_path: Path, runner: LocalRunner, recorder: Recorder
) -> None:
    spec = spec_for(tmp_path, source="""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(1000)
    """, stop_grace_seconds=0.3)
    runner.start(spec)
    wait_for(lambda: "ready" in log_text(spec))
    runner.stop(spec.name, "user request")
    ended = recorder.ended(spec.name)
    assert (ended.status, ended.exit_code) == ("Stopped", -9)


def test_close_stops_everything_and_reports_each_end(
    tmp_path: Path, recorder: Recorder
) -> None:
    runner = LocalRunner(recorder)
    specs = [
        spec_for(tmp_path, f"close-{i}", source=SPAWNS_CHILDREN, stop_grace_seconds=0.5)
        for i in range(2)
    ]
    for spec in specs:
        runner.start(spec)
    trees = []
    for spec in specs:
        pid = recorder.started(spec.name).pid
        trees += [psutil.Process(pid), *_descendants(pid, 3)]
    runner.close()
    assert runner.running() == []
    assert [recorder.ended(s.name, timeout=0).status for s in specs] == ["Stopped", "Stopped"]
    assert survivors(trees) == []
    with pytest.raises(RuntimeError):
        runner.start(specs[0])


def test_start_and_stop_from_several_threads(tmp_path: Path, recorder: Recorder) -> None:
    runner = LocalRunner(recorder)
    specs = [
        spec_for(tmp_path, f"many-{i}", source="import time\ntime.sleep(1000)\n",
                 stop_grace_seconds=0.5)
        for i in range(6)
    ]

    def start_then_stop(index: int) -> None:
        runner.start(specs[index])
        runner.stop(specs[index].name, "stopped at once")

    threads = [threading.Thread(target=start_then_stop, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ended = [recorder.ended(s.name) for s in specs]
    assert {(e.status, e.failure_reason) for e in ended} == {("Stopped", "stopped at once")}
    assert runner.running() == []
    runner.close()
