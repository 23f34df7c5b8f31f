"""The warm worker pool: a forked training job looks, runs and ends as ``python train.py``."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from runner_support import Recorder, log_text, spec_for, survivors, write_script

from helpers import process_running, wait_for
from tunesmith.runner.base import TrainingJobEnded, TrainingJobSpec
from tunesmith.runner.local import LocalRunner
from tunesmith.runner.pool import preload_modules

INTERPRETER_VIEW = '''
"""The script's docstring."""
import json, os, resource, signal, sys
import numpy

view = {
    "argv": sys.argv, "orig_argv": sys.orig_argv, "path": sys.path,
    "name": __name__, "file": __file__, "doc": __doc__, "package": __package__,
    "spec": repr(__spec__), "loader": type(__loader__).__name__, "cached": __cached__,
    "main_is_me": sys.modules["__main__"].__dict__ is globals(),
    "sid": os.getsid(0), "pgid": os.getpgid(0),
    "stdin": sys.stdin.read(), "stdout_tty": sys.stdout.isatty(),
    "stdout_encoding": sys.stdout.encoding, "line_buffering": sys.stdout.line_buffering,
    "fds": sorted(os.listdir("/proc/self/fd")),
    "handlers": {s.name: str(signal.getsignal(s)) for s in
                 (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD, signal.SIGHUP)},
    "nofile": resource.getrlimit(resource.RLIMIT_NOFILE), "umask": os.umask(0o22),
    "cwd": os.getcwd(), "env": {k: v for k, v in os.environ.items() if k != "TUNESMITH_POOL"},
    "random": numpy.random.random(),
}
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "view.json"), "w") as f:
    json.dump(view, f)
'''

WAIT_FOR_RELEASE = """
release = os.path.join(os.environ["SM_CHECKPOINT_DIR"], "release")
while not os.path.exists(release):
    time.sleep(0.02)
"""


def run_one(tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch, **fields: object) -> tuple[
    TrainingJobEnded, TrainingJobSpec
]:
    monkeypatch.setenv("TUNESMITH_POOL", "0" if mode == "cold" else "1")
    recorder = Recorder()
    runner = LocalRunner(recorder)
    spec = spec_for(tmp_path, f"{mode}-job", **fields)  # type: ignore[arg-type]
    runner.start(spec)
    ended = recorder.ended(spec.name, timeout=60)
    runner.close()
    return ended, spec


def group_leader(spec: TrainingJobSpec) -> int:
    """The process the runner recorded as leading the training job's process group."""
    return json.loads((Path(spec.directory) / "runner" / "process.json").read_text())["pid"]


def test_forked_script_sees_what_a_cold_one_sees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_script(tmp_path / "src", INTERPRETER_VIEW)
    views = {}
    for mode in ("cold", "pool"):
        ended, spec = run_one(tmp_path, mode, monkeypatch, source_dir=tmp_path / "src",
                              hyperparameters={"lr": "0.1"})
        assert ended.status == "Completed", ended.failure_reason
        views[mode] = json.loads((spec.directory / "output" / "data" / "view.json").read_text())
    cold, pool = views["cold"], views["pool"]
    assert cold.pop("random") != pool.pop("random")
    # Each runs in a session and group of its own (led by the shell when cold, by the script
    # itself when forked), apart from the runner's.
    for view in (cold, pool):
        sid, pgid = view.pop("sid"), view.pop("pgid")
        assert sid == pgid != os.getsid(0)
    for view in (cold, pool):  # the job's own folder and name differ between the two runs
        view["env"] = {k: v for k, v in view["env"].items()
                       if not k.startswith("SM_") and k != "TRAINING_JOB_NAME"}
    assert pool == cold
    assert cold["name"] == "__main__" and cold["doc"] == "The script's docstring."
    assert cold["path"][0] == str(tmp_path / "src") and cold["argv"][1:] == ["--lr", "0.1"]


@pytest.mark.parametrize(
    ("source", "code", "reason"),
    [
        ("import sys\nsys.exit(3)\n", 3, "exit code 3"),
        ("import sys\nsys.exit('bad configuration')\n", 1, 'ErrorMessage "bad configuration"'),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n", -15, "signal SIGTERM"),
        ("raise KeyboardInterrupt\n", -2, '\nKeyboardInterrupt"'),
        ("def f():\n    raise ValueError('deep')\nf()\n", 1, "\nValueError: deep\""),
    ],
)
def test_exit_status_and_failure_reason_match_a_cold_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, code: int, reason: str
) -> None:
    write_script(tmp_path / "src", source)
    ends = [run_one(tmp_path, mode, monkeypatch, source_dir=tmp_path / "src")[0]
            for mode in ("cold", "pool")]
    for ended in ends:
        assert (ended.status, ended.exit_code) == ("Failed", code)
        assert (ended.failure_reason or "").endswith(reason)
    assert ends[0].failure_reason == ends[1].failure_reason  # the same traceback, line for line


@pytest.mark.parametrize("mode", ["cold", "pool"])
def test_threads_and_exit_handlers_finish_before_the_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    ended, spec = run_one(tmp_path, mode, monkeypatch, source="""
        import atexit, threading, time
        atexit.register(lambda: print("exit handler", flush=True))
        def late():
            time.sleep(0.3)
            print("thread done", flush=True)
        threading.Thread(target=late).start()
        print("main done", flush=True)
    """)
    assert ended.status == "Completed"
    assert log_text(spec).splitlines() == ["main done", "thread done", "exit handler"]


def _preload_library(tmp_path: Path, name: str, source: str) -> dict[str, str]:
    library = tmp_path / "lib"
    write_script(library, source, f"{name}.py")
    return {"PYTHONPATH": str(library), "TUNESMITH_PRELOAD": name}


@pytest.mark.parametrize(
    ("module", "source", "why"),
    [
        ("spinner", "import threading, time\n"
                    "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n",
         "started 1 Python thread(s)"),
        ("tensorflow", "VERSION = 'fake'\n", "imported tensorflow"),
    ],
)
def test_a_server_unsafe_to_fork_falls_back_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, source: str, why: str
) -> None:
    environment = _preload_library(tmp_path, module, source)
    ended, spec = run_one(tmp_path, "pool", monkeypatch, environment=environment, source="""
        import os
        print("parent", os.getppid())
    """)
    assert ended.status == "Completed"
    note, output = log_text(spec).splitlines()
    assert "not started from the warm worker pool" in note and why in note
    assert output == f"parent {group_leader(spec)}"  # the shell a cold start runs under


def test_a_server_that_could_not_start_is_tried_again_by_the_next_tuning_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    imports = tmp_path / "imports"
    environment = _preload_library(tmp_path, "crasher", f"""
        import os
        with open({str(imports)!r}, "a") as f:
            f.write("x")
        os._exit(3)
    """)
    monkeypatch.setenv("TUNESMITH_POOL", "1")
    monkeypatch.setenv("TUNESMITH_POOL_IDLE", "600")
    recorder = Recorder()
    for i in range(2):
        runner = LocalRunner(recorder)
        specs = [spec_for(tmp_path, f"crash-{i}-{j}", source="print('ran')\n",
                          environment=environment) for j in range(2)]
        for spec in specs:
            runner.start(spec)
            assert recorder.ended(spec.name, timeout=60).status == "Completed"
        runner.close()
        for spec in specs:
            note, output = log_text(spec).splitlines()
            assert "its server ended before it was ready" in note and output == "ran"
    # Once per runner (each tuning job tries again), not once per training job.
    assert imports.read_text() == "xx"


def test_shell_programs_and_a_disabled_pool_start_cold_without_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ended, spec = run_one(tmp_path, "pool", monkeypatch, program="train.sh",
                          source='echo "parent $PPID"\n')
    assert ended.status == "Completed" and log_text(spec) == f"parent {group_leader(spec)}\n"
    ended, spec = run_one(tmp_path, "cold", monkeypatch,
                          source="import os\nprint('parent', os.getppid())\n")
    assert ended.status == "Completed" and log_text(spec) == f"parent {group_leader(spec)}\n"


def test_jobs_of_one_server_share_the_preloaded_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = _preload_library(tmp_path, "counter", "import os\nLOADED_BY = os.getpid()\n")
    monkeypatch.setenv("TUNESMITH_POOL", "1")
    recorder = Recorder()
    runner = LocalRunner(recorder)
    source = "import os, counter\nprint(counter.LOADED_BY != os.getpid(), os.getppid())\n"
    specs = [spec_for(tmp_path, f"shared-{i}", source=source, environment=environment)
             for i in range(3)]
    for spec in specs:
        runner.start(spec)
    lines = {log_text(s).strip() for s in specs if recorder.ended(s.name).status == "Completed"}
    runner.close()
    assert len(lines) == 1 and lines.pop().startswith("True ")


def test_each_training_job_runs_in_a_child_forked_ahead_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fork is off the job's path: a spare child waits, in a session of its own, and the
    next job runs in it; a spare killed while it waits is replaced."""
    monkeypatch.setenv("TUNESMITH_POOL", "1")
    recorder = Recorder()
    runner = LocalRunner(recorder)
    source = "import os\nprint(os.getppid())\n"
    count = iter(range(100))

    def run() -> TrainingJobSpec:
        spec = spec_for(tmp_path, f"job-{next(count)}", source=source)
        runner.start(spec)
        assert recorder.ended(spec.name, timeout=60).status == "Completed", log_text(spec)
        return spec

    def spare_of(server: psutil.Process, besides: int = 0) -> psutil.Process:
        return wait_for(lambda: [
            p for p in server.children() if p.pid != besides and process_running(p.pid)
        ] or None, timeout=30)[0]

    server = psutil.Process(int(log_text(run())))
    spare = spare_of(server)
    assert os.getsid(spare.pid) == spare.pid
    assert group_leader(run()) == spare.pid
    spare = spare_of(server, besides=spare.pid)
    spare.kill()
    wait_for(lambda: not process_running(spare.pid), timeout=30)
    replaced = run()
    assert group_leader(replaced) != spare.pid and int(log_text(replaced)) == server.pid
    runner.close()


FORKS_A_CHILD_THAT_RETURNS = """
import os, sys, time
read, write = os.pipe()
if os.fork() == 0:
    os.close(read)
    sys.exit()  # the forked child ends through the interpreter's exit, as a cold one would
os.close(write)
os.read(read, 1)  # until that child is gone
os.waitpid(-1, 0)
print("child gone", flush=True)
""" + WAIT_FOR_RELEASE + """
print("released", flush=True)
sys.exit(5)
"""


def test_only_the_script_process_itself_tells_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child the script forks that returns from the script ends itself, not the job."""
    monkeypatch.setenv("TUNESMITH_POOL", "1")
    recorder = Recorder()
    runner = LocalRunner(recorder)
    forks = spec_for(tmp_path, "forks", source=FORKS_A_CHILD_THAT_RETURNS)
    runner.start(forks)
    wait_for(lambda: "child gone" in log_text(forks), timeout=30)
    # Another job of the same server (the same imports) wakes it while the first still runs.
    other = spec_for(tmp_path, "other", source="import os, sys, time\n")
    runner.start(other)
    assert recorder.ended(other.name, timeout=60).status == "Completed"
    (forks.directory / "checkpoints" / "release").touch()
    ended = recorder.ended(forks.name, timeout=60)
    runner.close()
    assert (ended.status, ended.exit_code) == ("Failed", 5)
    assert log_text(forks).splitlines() == ["child gone", "released"]

def test_a_child_tells_its_server_its_exit_status_before_it_is_taken_down() -> None:
    """What the server reports as the end comes from the child while it still lives; a child
    whose server went away signals no one (its pid may name another process by then)."""
    probe = """
import mmap, os, signal, sys
from tunesmith.runner import fork_server

signal.pthread_sigmask(signal.SIG_BLOCK, {fork_server.END_SIGNAL})
for server_pid, code in ((os.getpid(), 7), (1, 9)):
    word, (hold, release) = mmap.mmap(-1, 2), os.pipe()
    child = os.fork()
    if child == 0:
        fork_server._give_end(word, server_pid, code)
        os.read(hold, 1)
        os._exit(0)
    while word[0] == 0:
        pass
    alive = os.waitpid(child, os.WNOHANG) == (0, 0)
    os.write(release, b"x")
    os.waitpid(child, 0)  # whatever it sends, it sent before it exited
    signalled = fork_server.END_SIGNAL in signal.sigpending()
    if signalled:
        signal.sigwait({fork_server.END_SIGNAL})
    print(signalled, word[1], alive)
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                filter(None, [str(Path(__file__).parents[2] / "src"),
                                              os.environ.get("PYTHONPATH")]))})
    assert result.stdout.splitlines() == ["True 7 True", "False 9 True"], result.stderr

def test_runners_of_one_process_share_servers_kept_while_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tuning jobs run by one process (a server, a notebook) fork from one server, which stays
    ready between them for ``TUNESMITH_POOL_IDLE`` seconds and is replaced if it dies."""
    monkeypatch.setenv("TUNESMITH_POOL", "1")
    monkeypatch.setenv("TUNESMITH_POOL_IDLE", "600")
    source = "import os\nprint(os.getppid())\n"
    count = iter(range(100))

    def servers_of(*runners: LocalRunner, recorder: Recorder) -> list[int]:
        specs = [spec_for(tmp_path, f"job-{next(count)}", source=source) for _ in runners]
        for runner, spec in zip(runners, specs, strict=True):
            runner.start(spec)
        for spec in specs:
            assert recorder.ended(spec.name, timeout=60).status == "Completed", log_text(spec)
            assert "warm worker pool" not in log_text(spec)
        return [int(log_text(spec)) for spec in specs]

    recorder = Recorder()
    first, second = LocalRunner(recorder), LocalRunner(recorder)
    shared = servers_of(first, second, recorder=recorder)
    assert shared[0] == shared[1]
    first.close()
    second.close()
    server = psutil.Process(shared[0])
    assert server.is_running() and server.status() != psutil.STATUS_ZOMBIE

    third = LocalRunner(recorder)
    assert servers_of(third, recorder=recorder) == [server.pid]
    third.close()
    server.kill()
    assert survivors([server], timeout=30) == []

    fourth = LocalRunner(recorder)
    [replacement] = servers_of(fourth, recorder=recorder)
    assert replacement != server.pid
    monkeypatch.setenv("TUNESMITH_POOL_IDLE", "0.2")
    fourth.close()
    assert survivors([psutil.Process(replacement)], timeout=30) == []


def test_preload_list_is_declared_or_read_from_the_top_level_imports(tmp_path: Path) -> None:
    script = write_script(tmp_path / "src", """
        from __future__ import annotations
        import os, sklearn.ensemble
        from pandas import DataFrame
        from . import sibling
        import helper, torch
        try:
            import xgboost
        except ImportError:
            xgboost = None
        def later():
            import scipy
    """)
    (tmp_path / "src" / "helper.py").write_text("")
    assert preload_modules(script, {}) == ("os", "pandas", "sklearn.ensemble", "xgboost")
    # The script's own modules are read too, and the modules they import, in turn.
    (tmp_path / "src" / "helper.py").write_text("import scipy.stats, torch\nimport model.net\n")
    (tmp_path / "src" / "model").mkdir()
    (tmp_path / "src" / "model" / "__init__.py").write_text("import json\n")
    (tmp_path / "src" / "model" / "net.py").write_text("from sklearn import svm\nimport helper\n")
    assert preload_modules(script, {}) == (
        "json", "os", "pandas", "scipy.stats", "sklearn", "sklearn.ensemble", "xgboost"
    )
    declared = {"TUNESMITH_PRELOAD": "pandas, sklearn.ensemble,,"}
    assert preload_modules(script, declared) == ("pandas", "sklearn.ensemble")
    script.write_text("this is not python")
    assert preload_modules(script, {}) == ()


def test_preload_lists_read_by_many_threads_at_once_agree(tmp_path: Path) -> None:
    """Supervisors of training jobs started together read their scripts' imports at once. A
    garbage collection during a parse may run a finaliser that lets another thread in, which is
    how concurrent parses meet: finalisers that yield make it happen on every run."""

    class Yielding:
        def __init__(self) -> None:
            self.cycle = self

        def __del__(self) -> None:
            time.sleep(0)

    def read(index: int) -> tuple[str, ...] | str:
        try:
            lists = set()
            for script in scripts[3 * index : 3 * index + 3]:
                Yielding(), Yielding()
                lists.add(preload_modules(script, {}))
            return lists.pop() if len(lists) == 1 else str(lists)
        except SystemError as error:
            return str(error)

    body = "\n".join(f"def f{i}(x):\n    return [[(x, {i}, (1, (2, [3]))) for x in x] for _ in x]"
                      for i in range(300))
    # Scripts that differ, so that each is parsed (a script read before is not parsed again).
    scripts = [write_script(tmp_path / f"src-{n}", f"import os\nimport json\n# {n}\n{body}")
               for n in range(3 * 64)]
    threshold = gc.get_threshold()
    gc.set_threshold(50)
    try:
        with ThreadPoolExecutor(8) as threads:
            lists = list(threads.map(read, range(64)))
    finally:
        gc.set_threshold(*threshold)
    assert lists == [("json", "os")] * 64


RUNNER_THAT_DIES = """
import os, signal, sys
sys.path.insert(0, {support!r})
from pathlib import Path
from runner_support import Recorder, spec_for
from tunesmith.runner.local import LocalRunner

recorder = Recorder()
runner = LocalRunner(recorder)
spec = spec_for(Path({tmp!r}), source={source!r}, metrics={{"score": "score: (\\d+)"}})
runner.start(spec)
print(recorder.started(spec.name).pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
WAITS_FOR_RELEASE = """
import os, subprocess, sys, time
subprocess.Popen(["sleep", "1000"])  # left behind in the job's process group
print("score: 1", flush=True)
""" + WAIT_FOR_RELEASE + """
print("score: 2", flush=True)
sys.exit(3)
"""


def _runner_dies(tmp_path: Path) -> tuple[psutil.Process, psutil.Process, TrainingJobSpec]:
    """A runner that starts a forked training job, then dies: the job, its fork server and its
    spec."""
    source = RUNNER_THAT_DIES.format(support=str(Path(__file__).parent), tmp=str(tmp_path),
                                     source=WAITS_FOR_RELEASE)
    died = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True,
                          env={**os.environ, "TUNESMITH_POOL": "1"}, timeout=120)
    assert died.returncode == -9, died.stderr
    training = psutil.Process(int(died.stdout.split()[0]))
    server = training.parent()
    assert server is not None and "fork_server" in " ".join(server.cmdline())
    spec = spec_for(tmp_path, metrics={"score": r"score: (\d+)"})
    wait_for(lambda: "score: 1" in (spec.directory / "runner" / "output").read_text(),
             timeout=30)
    return training, server, spec


def test_a_forked_training_job_outlives_its_runner_and_is_adopted(tmp_path: Path) -> None:
    training, server, spec = _runner_dies(tmp_path)
    leftover = next(p for p in training.children() if p.name() == "sleep")
    assert survivors([training, server, leftover], timeout=0.5) == [training, server, leftover]
    recorder = Recorder()
    runner = LocalRunner(recorder)
    runner.adopt(spec, None)
    assert recorder.started(spec.name).pid == training.pid
    (spec.directory / "checkpoints" / "release").touch()
    ended = recorder.ended(spec.name, timeout=30)
    runner.close()
    # Followed to its end as if this runner had started it: all its output, its exit status.
    assert (ended.status, ended.exit_code) == ("Failed", 3)
    assert recorder.metrics(spec.name) == [("score", 1.0), ("score", 2.0)]
    assert log_text(spec).splitlines() == ["score: 1", "score: 2"]
    assert survivors([training, server, leftover], timeout=30) == []


def test_a_forked_training_job_whose_runner_never_comes_back_just_finishes(
    tmp_path: Path,
) -> None:
    training, server, spec = _runner_dies(tmp_path)
    leftover = next(p for p in training.children() if p.name() == "sleep")
    (spec.directory / "checkpoints" / "release").touch()
    # Its server writes the exit status, ends what is left of the job's group, then itself.
    assert survivors([training, server, leftover], timeout=30) == []
    assert (spec.directory / "runner" / "exit-status").read_text() == "3\n"
    assert "score: 2" in (spec.directory / "runner" / "output").read_text()


def test_an_idle_fork_server_ends_with_its_runner(tmp_path: Path) -> None:
    source = RUNNER_THAT_DIES.format(support=str(Path(__file__).parent), tmp=str(tmp_path),
                                     source="import os\nprint(os.getppid())\n").replace(
        "print(recorder.started(spec.name).pid, flush=True)",
        "print(recorder.ended(spec.name).exit_code, flush=True)")
    died = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True,
                          env={**os.environ, "TUNESMITH_POOL": "1"}, timeout=120)
    assert died.returncode == -9 and died.stdout.split() == ["0"], died.stderr
    server_pid = int(log_text(spec_for(tmp_path)))
    try:
        server = psutil.Process(server_pid)
        spares = server.children()
    except psutil.NoSuchProcess:
        return  # already gone
    assert survivors([server, *spares], timeout=30) == []
