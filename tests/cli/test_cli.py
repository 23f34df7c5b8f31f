"""The tunesmith command, run as a user runs it: a real process per command."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import time
from pathlib import Path

import yaml

import tunesmith
from helpers import process_running, tunesmith_command, tuning_document, wait_for
from tunesmith.api import Workspace
from tunesmith.cli import global_options_first
from tunesmith.training import training_job_directory, tuning_job_directory


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*tunesmith_command(), *args], capture_output=True, text=True, timeout=timeout
    )


def write_spec(path: Path, document: dict, as_yaml: bool = True) -> Path:
    path.write_text(yaml.safe_dump(document) if as_yaml else json.dumps(document))
    return path


def test_tune_then_inspect(home, script_dir, tmp_path) -> None:
    spec = write_spec(tmp_path / "job.yaml", tuning_document("clijob", script_dir(), max_jobs=3))
    result = cli("tune", str(spec))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # Piped, progress comes as a line per change, and the outcome's lines are not folded.
    progress = [line for line in lines if line.startswith("clijob ") and "training jobs" in line]
    assert re.fullmatch(
        r"clijob Completed \d+:\d\d:\d\d: training jobs 3/3 done, 0 running, 0 failed, "
        r"0 stopped; best score [-0-9.e]+ \(clijob-\d{3}-[0-9a-f]{8}\)",
        progress[-1],
    )
    assert any(line.startswith("Tuning job clijob ended Completed") for line in lines)
    best = next(line for line in lines if line.startswith("Best training job"))
    assert len(best) > 80 and " x=" in best and " n=" in best

    described = cli("describe", "clijob", "--json")
    document = json.loads(described.stdout)
    assert document["HyperParameterTuningJobStatus"] == "Completed"
    assert document["TrainingJobStatusCounters"]["Completed"] == 3
    assert (
        document["BestTrainingJob"]["TrainingJobName"]
        == (
            tunesmith.describe_tuning_job("clijob", home=home)["BestTrainingJob"]["TrainingJobName"]
        )
    )

    readable = cli("describe", "clijob")
    assert "Best training job" in readable.stdout and "score" in readable.stdout

    listed = json.loads(cli("list", "--json").stdout)
    assert [
        s["HyperParameterTuningJobName"] for s in listed["HyperParameterTuningJobSummaries"]
    ] == ["clijob"]

    jobs = json.loads(
        cli(
            "jobs",
            "clijob",
            "--json",
            "--sort-by",
            "FinalObjectiveMetricValue",
            "--sort-order",
            "Descending",
        ).stdout
    )["TrainingJobSummaries"]
    values = [j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for j in jobs]
    assert values == sorted(values, reverse=True) and len(values) == 3

    # Names are what the other commands take: shown whole, even in a narrow terminal.
    narrow = subprocess.run(
        [*tunesmith_command(), "jobs", "clijob"], capture_output=True, text=True, timeout=120,
        env={**os.environ, "COLUMNS": "50"},
    ).stdout
    assert all(j["TrainingJobName"] in narrow.split() for j in jobs), narrow

    first = jobs[0]["TrainingJobName"]
    training_job = json.loads(cli("describe-training-job", first, "--json").stdout)
    shown = subprocess.run(
        [*tunesmith_command(), "describe-training-job", first], capture_output=True, text=True,
        timeout=120, env={**os.environ, "COLUMNS": "60"},
    ).stdout
    assert "Completed" in shown and "score" in shown and "x" in shown, shown
    model = training_job["ModelArtifacts"]["S3ModelArtifacts"]
    assert model.replace(" ", "") in "".join(shown.split()), shown  # folded, never cut

    logs = cli("logs", jobs[0]["TrainingJobName"])
    assert logs.returncode == 0 and "score:" in logs.stdout


def test_logs_follow_a_training_job_to_its_end_across_a_rotation(
    home, script_dir, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("TUNESMITH_LOG_MAX_BYTES", "400")  # the second half rotates the log
    release = tmp_path / "release"
    script = script_dir(
        "import os, time\n"
        "for i in range(10):\n    print(f'first half, line {i:02d}', flush=True)\n"
        f"while not os.path.exists({str(release)!r}):\n    time.sleep(0.02)\n"
        "for i in range(20):\n    print(f'second half, line {i:02d}', flush=True)\n"
        "print('score: 1', flush=True)\n"
    )
    spec = write_spec(tmp_path / "job.yaml", tuning_document("tail", script, max_jobs=1))
    assert cli("tune", str(spec), "--detach", timeout=30).returncode == 0
    store = Workspace.open(home).store
    name = wait_for(lambda: [r.name for r in store.training_jobs("tail")], timeout=60)[0]
    follower = subprocess.Popen(
        [*tunesmith_command(), "logs", name, "--follow"], stdout=subprocess.PIPE, text=True
    )
    assert follower.stdout is not None
    first = [follower.stdout.readline() for _ in range(10)]  # blocks until they are written
    assert first == [f"first half, line {i:02d}\n" for i in range(10)]
    assert follower.poll() is None  # still following: the script has not ended

    release.touch()
    rest, _ = follower.communicate(timeout=60)
    assert follower.returncode == 0
    assert rest.splitlines() == [f"second half, line {i:02d}" for i in range(20)] + ["score: 1"]
    assert store.get_training_job(name).status == "Completed"
    logs = training_job_directory(home, name, "tail") / "logs"
    assert (logs / "training.log.1").exists()  # it did rotate while followed


def test_delete_forgets_ended_tuning_jobs_and_frees_their_files(
    home, script_dir, tmp_path
) -> None:
    source = script_dir()
    for name in ("keep", "drop"):
        spec = write_spec(tmp_path / f"{name}.yaml", tuning_document(name, source, max_jobs=2))
        assert cli("tune", str(spec)).returncode == 0
    folder = tuning_job_directory(home, "drop")
    assert folder.is_dir() and any(folder.iterdir())
    running = write_spec(tmp_path / "busy.yaml", tuning_document(
        "busy", script_dir("import time\nprint('score: 1', flush=True)\ntime.sleep(60)\n"),
        max_jobs=2,
    ))
    assert cli("tune", str(running), "--detach", timeout=30).returncode == 0

    deleted = cli("delete", "drop")
    assert deleted.returncode == 0 and "2 training jobs" in deleted.stdout, deleted
    assert not folder.exists()
    assert "ResourceNotFound" in cli("describe", "drop").stderr
    assert json.loads(cli("describe", "keep", "--json").stdout)["TrainingJobStatusCounters"][
        "Completed"] == 2
    assert any(tuning_job_directory(home, "keep").iterdir())

    in_use = cli("delete", "busy")
    lines = in_use.stderr.strip().splitlines()
    assert in_use.returncode == 1 and len(lines) == 1 and "ResourceInUse" in lines[0], in_use
    assert cli("describe", "busy").returncode == 0 and tuning_job_directory(home, "busy").exists()
    assert cli("stop", "busy").returncode == 0
    store = Workspace.open(home).store
    wait_for(lambda: store.get_tuning_job("busy").status == "Stopped", timeout=60)


def test_name_override_and_resource_in_use(home, script_dir, tmp_path) -> None:
    spec = write_spec(
        tmp_path / "job.json", tuning_document("base", script_dir(), max_jobs=1), as_yaml=False
    )
    assert cli("tune", str(spec), "--name", "renamed").returncode == 0
    again = cli("tune", str(spec), "--name", "renamed")
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == [
        "error: ResourceInUse: Hyperparameter tuning job 'renamed' already exists."
    ]


def test_invalid_document_gives_one_line(home, script_dir, tmp_path) -> None:
    document = tuning_document("bad", script_dir(), max_jobs=1)
    document["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = 0
    spec = write_spec(tmp_path / "bad.yaml", document)
    result = cli("tune", str(spec))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ValidationException:")
    assert "MaxParallelTrainingJobs" in lines[0]
    assert "Traceback" not in result.stderr
    assert cli("list", "--json").stdout.count("bad") == 0


def test_unreadable_document_gives_one_line(home, tmp_path) -> None:
    spec = tmp_path / "garbage.yaml"
    spec.write_text("{not: [valid")
    result = cli("tune", str(spec))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "ValidationException" in result.stderr


def test_global_options_may_follow_the_command(home, script_dir, tmp_path) -> None:
    elsewhere = tmp_path / "elsewhere"
    spec = write_spec(tmp_path / "job.yaml", tuning_document("anywhere", script_dir(), max_jobs=1))
    assert cli("tune", str(spec), "--home", str(elsewhere)).returncode == 0
    assert cli("describe", "anywhere", f"--home={elsewhere}").returncode == 0
    assert cli("--home", str(elsewhere), "describe", "anywhere").returncode == 0
    assert "ResourceNotFound" in cli("describe", "anywhere").stderr  # not in the usual home
    assert global_options_first(["logs", "x", "--backend", "ray", "--", "--home", "h"]) == [
        "--backend", "ray", "logs", "x", "--", "--home", "h"]


def test_unknown_names_give_one_line(home) -> None:
    for args in (
        ("describe", "ghost"),
        ("jobs", "ghost"),
        ("stop", "ghost"),
        ("logs", "ghost-001"),
    ):
        result = cli(*args)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines()[0].startswith("error: ResourceNotFound:")
        assert len(result.stderr.strip().splitlines()) == 1


def test_usage_errors_give_one_line_naming_the_help(home, tmp_path) -> None:
    for args, expected in (
        (("tune", str(tmp_path / "missing.yaml")), "does not exist"),
        (("describe",), "Missing argument"),
        (("--bogus",), "No such option"),
        (("serve", "--port", "many"), "valid integer"),
        (("describe", "job", "--home"), "'--home' requires an argument"),
    ):
        result = cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0] and "--help" in lines[0], lines


def test_detach_returns_at_once_and_stop_from_another_shell(home, script_dir, tmp_path) -> None:
    sleepy = script_dir("import time\nprint('score: 1', flush=True)\ntime.sleep(60)\n")
    spec = write_spec(tmp_path / "job.yaml", tuning_document("bg", sleepy, max_jobs=5))
    result = cli("tune", str(spec), "--detach", timeout=30)
    assert result.returncode == 0 and "bg" in result.stdout
    store = Workspace.open(home).store
    wait_for(lambda: any(r.pid for r in store.training_jobs("bg")), timeout=60)
    assert cli("stop", "bg").returncode == 0
    wait_for(lambda: store.get_tuning_job("bg").status == "Stopped", timeout=60)
    stopped_again = cli("stop", "bg")
    assert stopped_again.returncode == 1 and "ValidationException" in stopped_again.stderr


def orphan(name: str, home: Path, script_dir, tmp_path: Path) -> Path:
    """Start the tuning job ``name`` detached, its training jobs running until the returned
    path exists, and kill its engine; training jobs outlive their engine."""
    release = tmp_path / "release"
    held = script_dir(
        "import os, time\nprint('score: 1', flush=True)\n"
        f"while not os.path.exists({str(release)!r}):\n    time.sleep(0.02)\n"
    )
    spec = write_spec(tmp_path / "job.yaml", tuning_document(name, held, max_jobs=3))
    store = Workspace.open(home).store
    assert cli("tune", str(spec), "--detach", timeout=30).returncode == 0
    engine = wait_for(lambda: store.get_tuning_job(name).engine_pid, timeout=60)
    wait_for(lambda: len([r for r in store.training_jobs(name) if r.pid]) == 2, timeout=60)
    live = cli("describe", name)
    assert live.returncode == 0 and "resume" not in live.stdout, live.stdout
    os.kill(engine, signal.SIGKILL)
    wait_for(lambda: not process_running(engine), timeout=30)
    return release


def test_a_tuning_job_whose_engine_died_says_so_until_resumed(
    home, script_dir, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("TUNESMITH_ENGINE_SILENCE_SECONDS", "1")
    release = orphan("orphaned", home, script_dir, tmp_path)
    store = Workspace.open(home).store
    lost = cli("describe", "orphaned")
    said = " ".join(lost.stdout.split())  # as wrapped to the terminal's width
    assert lost.returncode == 0 and "InProgress" in said
    assert "tunesmith resume orphaned" in said, lost.stdout
    assert "InProgress (no engine)" in cli("list").stdout
    held = next(r.name for r in store.training_jobs("orphaned") if r.pid)
    follower = subprocess.Popen([*tunesmith_command(), "logs", held, "-f"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert select.select([follower.stderr], [], [], 60)[0], "no note from logs -f"
        assert "tunesmith resume orphaned" in follower.stderr.readline()

        release.touch()
        assert cli("resume", "orphaned", timeout=120).returncode == 0
        assert store.get_tuning_job("orphaned").status == "Completed"
        out, _ = follower.communicate(timeout=60)  # the end the resumed engine recorded
        assert follower.returncode == 0 and "score: 1" in out
    finally:
        follower.kill()
        follower.wait()
    ended = cli("describe", "orphaned").stdout
    assert "resume" not in ended and "(no engine)" not in cli("list").stdout


def test_stopping_a_tuning_job_whose_engine_died_stops_its_training_jobs(
    home, script_dir, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("TUNESMITH_ENGINE_SILENCE_SECONDS", "1")
    orphan("unstoppable", home, script_dir, tmp_path)
    store = Workspace.open(home).store
    running = [r.pid for r in store.training_jobs("unstoppable") if r.pid]
    assert running and all(process_running(pid) for pid in running)

    stopped = cli("stop", "unstoppable")
    assert stopped.returncode == 0 and "started one" in stopped.stdout, stopped

    wait_for(lambda: store.get_tuning_job("unstoppable").status == "Stopped", timeout=60)
    assert {r.status for r in store.training_jobs("unstoppable")} == {"Stopped"}
    wait_for(lambda: not any(process_running(pid) for pid in running), timeout=30)


def test_ctrl_c_stops_training_jobs_and_leaves_no_orphan(home, script_dir, tmp_path) -> None:
    sleepy = script_dir("import time\nprint('score: 1', flush=True)\ntime.sleep(120)\n")
    spec = write_spec(tmp_path / "job.yaml", tuning_document("ctrlc", sleepy, max_jobs=5))
    process = subprocess.Popen(
        [*tunesmith_command(), "tune", str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = Workspace.open(home).store
    wait_for(lambda: len([r for r in store.training_jobs("ctrlc") if r.pid]) == 2, timeout=60)
    pids = [r.pid for r in store.training_jobs("ctrlc")]
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert store.get_tuning_job("ctrlc").status == "Stopped"
    assert {r.status for r in store.training_jobs("ctrlc")} == {"Stopped"}
    deadline = time.monotonic() + 10
    while any(process_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(process_running(p) for p in pids)


def test_two_shells_tune_at_once_on_one_home(home, script_dir, tmp_path) -> None:
    source = script_dir()
    specs = [
        write_spec(tmp_path / f"{n}.yaml", tuning_document(n, source, max_jobs=6))
        for n in ("left", "right")
    ]
    processes = [
        subprocess.Popen(
            [*tunesmith_command(), "tune", str(s)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for s in specs
    ]
    for process in processes:
        _, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        assert "database is locked" not in err
    for name in ("left", "right"):
        assert (
            tunesmith.describe_tuning_job(name, home=home)["TrainingJobStatusCounters"]["Completed"]
            == 6
        )
