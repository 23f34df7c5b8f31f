"""A script that floods its output must not grow the runner's memory."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psutil
import pytest
from runner_support import Recorder, spec_for

from tunesmith.runner.base import MetricsObserved, TrainingJobEnded, TrainingJobSpec
from tunesmith.runner.local import MAX_LINE_CHARS, READ_BYTES, LocalRunner

MB = 1024 * 1024
ALLOWED_GROWTH = 8 * MB
METRICS = {"loss": r"loss=(\S+)", "acc": r".*acc:\s*(\S+)"}

FLOOD = """
import sys
line = "x" * 199 + "\\n"
block = line * 5000
for i in range({blocks}):
    sys.stdout.write(block)
    sys.stderr.write(block[:50000])
    print(f"epoch {{i}} loss={{i}}")
"""

ONE_LINE = """
import sys
block = "y" * 1000000
for i in range({blocks}):
    sys.stdout.write(block)
print(" acc: 0.5")
"""


def run_measured(runner: LocalRunner, recorder: Recorder, spec: TrainingJobSpec) -> tuple[
    TrainingJobEnded, int
]:
    """Run one job to its end; the peak growth of this process's RSS meanwhile."""
    me = psutil.Process()
    baseline = me.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.005):
            peak = max(peak, me.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    runner.start(spec)
    try:
        ended = recorder.ended(spec.name, timeout=120)
    finally:
        done.set()
        sampler.join()
    return ended, peak - baseline


@pytest.fixture
def warm_runner(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A runner that has already run a small flood, so first-use allocations are not counted."""
    recorder = Recorder()
    runner = LocalRunner(recorder)
    spec = spec_for(tmp_path, "warm-up", source=FLOOD.format(blocks=5), metrics=METRICS)
    runner.start(spec)
    assert recorder.ended(spec.name).status == "Completed"
    yield runner, recorder
    runner.close()


@pytest.mark.slow
def test_200_mb_of_lines_do_not_grow_memory(tmp_path: Path, warm_runner) -> None:  # type: ignore[no-untyped-def]
    runner, recorder = warm_runner
    spec = spec_for(tmp_path, "flood", source=FLOOD.format(blocks=200), metrics=METRICS)
    ended, growth = run_measured(runner, recorder, spec)
    assert ended.status == "Completed"
    print(f"RSS growth while 200 MB of lines flowed: {growth / MB:.2f} MB")
    assert growth < ALLOWED_GROWTH
    assert [v for _, v in recorder.metrics(spec.name)] == [float(i) for i in range(200)]
    log = spec.directory / "logs" / "training.log"
    assert log.stat().st_size == 200 * (5000 * 200 + 250 * 200) + sum(
        len(f"epoch {i} loss={i}\n") for i in range(200)
    )


@pytest.mark.slow
def test_a_line_of_100_mb_is_cut_not_buffered(tmp_path: Path, warm_runner) -> None:  # type: ignore[no-untyped-def]
    runner, recorder = warm_runner
    spec = spec_for(tmp_path, "one-line", source=ONE_LINE.format(blocks=100), metrics=METRICS)
    ended, growth = run_measured(runner, recorder, spec)
    assert ended.status == "Completed"
    print(f"RSS growth while a 100 MB line flowed: {growth / MB:.2f} MB")
    assert growth < ALLOWED_GROWTH
    assert recorder.metrics(spec.name) == [("acc", 0.5)]
    longest = 0
    with open(spec.directory / "logs" / "training.log") as log:
        for line in log:
            longest = max(longest, len(line))
    assert MAX_LINE_CHARS <= longest <= MAX_LINE_CHARS + READ_BYTES + 1


def test_metric_values_of_one_burst_form_one_event(tmp_path: Path) -> None:
    recorder = Recorder()
    runner = LocalRunner(recorder)
    # One write: the lines arrive in one read, so their values travel together.
    source = "import sys\nsys.stdout.write(''.join(f'loss={i}\\n' for i in range(50)))\n"
    spec = spec_for(tmp_path, source=source, metrics={"loss": r"loss=(\d+)"})
    runner.start(spec)
    recorder.ended(spec.name)
    runner.close()
    bursts = [e for e in recorder.of(spec.name) if isinstance(e, MetricsObserved)]
    assert len(bursts) == 1 and [v.value for v in bursts[0].values] == list(map(float, range(50)))
    assert len({v.timestamp for v in bursts[0].values}) == 1
    assert bursts[0].values[0].timestamp <= time.time()
