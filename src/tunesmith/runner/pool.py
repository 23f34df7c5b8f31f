"""The warm worker pool: Python training scripts forked from an interpreter that has already
imported what they need.

A cold ``python train.py`` spends most of a short training job importing scikit-learn or pandas.
The pool keeps one fork server (:mod:`tunesmith.runner.fork_server`) per interpreter, preload
list and environment; the server imports the modules once and forks a child per training job,
which becomes ``python train.py`` with the job's own argv, environment, folder, streams and
session. The runner follows, stops and reaps a :class:`PooledProcess` as it does a
``subprocess.Popen``: its ``pid`` names the child's process group, and the child is left unreaped
after its exit until the runner has killed what is left of that group. Like a cold start, a
forked training job outlives its runner: the server records it before it runs and writes its
exit status, so a later runner adopts it.

Modules to preload come from the job's ``TUNESMITH_PRELOAD`` (comma-separated), else from the
script's top-level imports (leaving out the script's own modules and GPU libraries, which must be
imported after the fork). ``TUNESMITH_POOL=0`` turns the pool off. Programs that are not Python
scripts start cold; so does every job of a server that would be unsafe to fork (threads, GPU
libraries), with a note in the job's log.

The servers belong to the process, not to a runner: the tuning jobs an API server or a notebook
runs at once or one after another fork from the same server while their key (interpreter,
preload list, environment) matches, and a server no runner uses ends after
``TUNESMITH_POOL_IDLE`` seconds (default 300; 0 ends it with its last runner).
"""

from __future__ import annotations

import ast
import atexit
import functools
import json
import logging
import os
import socket
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tunesmith.runner import fork_server
from tunesmith.runner.contract import TrainingProcess

log = logging.getLogger(__name__)

POOL_ENV = "TUNESMITH_POOL"
PRELOAD_ENV = "TUNESMITH_PRELOAD"
IDLE_ENV = "TUNESMITH_POOL_IDLE"
IDLE_SECONDS = 300.0
"""How long a server no runner uses stays ready for the next tuning job of this process."""
MAX_OWN_MODULES = 32
"""How many of the script's own modules are read for imports to preload (a folder of many
files is not all the script's)."""
READY_SECONDS = 600.0
"""How long a server may take to import its preload list (a busy host, a large library)."""
SERVER_EXIT_SECONDS = 5.0
# The environment of one training job alone; the server starts with everything else.
PER_JOB_ENV_PREFIXES = ("SM_",)
PER_JOB_ENV = frozenset({"TRAINING_JOB_NAME", "CUDA_VISIBLE_DEVICES", "PWD"})
_PARSE_LOCK = threading.Lock()
"""Supervisors parse scripts from their own threads, and Python 3.11's parser keeps a recursion
counter that concurrent parses corrupt (``SystemError: AST constructor recursion depth mismatch``,
CPython gh-106905): one parse at a time."""
# Imported by the child itself: their state does not survive a fork.
AFTER_FORK_MODULES = frozenset(
    {"torch", *(m.split(".")[0] for m in fork_server.FORK_UNSAFE_MODULES)}
)


@dataclass(frozen=True)
class ProcessFiles:
    """Where the fork server records a training job's process for a runner that adopts it
    later: ``record`` gets ``record_fields`` with the child's ``pid`` and ``start_ticks`` before
    the child runs the script, ``exit_status`` the script's status as a shell reports it."""

    record: Path
    record_fields: dict[str, Any]
    exit_status: Path


class PooledProcess:
    """A training job's process forked by a fork server, used like ``subprocess.Popen``."""

    def __init__(
        self, pid: int, job: socket.socket, stdout: IO[bytes] | None, stderr: IO[bytes] | None
    ) -> None:
        self.pid = pid
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None
        self._job = job
        self._lock = threading.Lock()
        self._exited = False
        self.server_gone = False
        """The server went away: it reports nothing more, the process's pidfd still does."""

    def fileno(self) -> int:
        """Readable when the server has news: the script's end, or the server's own."""
        return self._job.fileno()

    def take_news(self) -> bool:
        """Read the server's news without waiting; whether the script has ended."""
        with self._lock:
            if not self._exited and not self.server_gone:
                try:
                    self._hear(_receive(self._job, socket.MSG_DONTWAIT))
                except BlockingIOError:
                    pass
                except OSError:
                    self._hear(None)
            return self._exited and not self.server_gone

    def wait_exited(self) -> None:
        """Block until the script ends, leaving the process unreaped: its pid keeps naming its
        process group until :meth:`wait`."""
        with self._lock:
            while not self._exited:
                self._hear(_receive(self._job))

    def _hear(self, message: dict[str, Any] | None) -> None:
        # A server that went away reports no more; the runner kills what is left.
        self.server_gone = message is None
        self._exited = self.server_gone or bool(message and message.get("exited"))

    def wait(self) -> int:
        """Wait for the exit, reap the process and return its return code (negative: the
        signal that ended it)."""
        self.wait_exited()
        with self._lock:
            if self.returncode is None:
                try:
                    self._job.send(json.dumps({"reap": True}).encode())
                    message = _receive(self._job)
                except OSError:
                    message = None
                if message is None or "returncode" not in message:
                    log.warning("the fork server of process %d went away; its exit status is lost",
                                self.pid)
                    message = {"returncode": -9}
                self.returncode = int(message["returncode"])
                self._job.close()
            return self.returncode


@dataclass(frozen=True)
class _Key:
    interpreter: str
    preload: tuple[str, ...]
    env: frozenset[tuple[str, str]]


class _Server:
    """One fork server process and its control socket."""

    def __init__(self, key: _Key, cwd: Path) -> None:
        self.key = key
        self.lock = threading.Lock()
        self.unusable: str | None = None
        self.failed = False
        """It was ready, then went away or stopped answering: a new one takes its place."""
        self.control: socket.socket | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._cwd = cwd

    def ensure_started(self) -> None:
        """Start the server and wait until it has imported its modules (once)."""
        with self.lock:
            if self.control is not None or self.unusable is not None:
                return
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                self.process = subprocess.Popen(
                    [self.key.interpreter, fork_server.__file__, str(theirs.fileno()),
                     ",".join(self.key.preload)],
                    env=dict(self.key.env),
                    cwd=self._cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    pass_fds=(theirs.fileno(),),
                    start_new_session=True,
                )
            except OSError as error:
                ours.close()
                self.unusable = f"its server cannot start: {error}"
                return
            finally:
                theirs.close()
            ours.settimeout(READY_SECONDS)
            try:
                ready = _receive(ours)
            except OSError:
                ready = None
            ours.settimeout(None)
            if ready is None:
                self.unusable = "its server ended before it was ready"
            elif ready.get("unsafe"):
                self.unusable = str(ready["unsafe"])
            if self.unusable is not None:
                ours.close()
                self._end_process()
                return
            self.control = ours
            log.info("fork server %d ready (preloaded %s)", self.process.pid,
                     ", ".join(self.key.preload) or "nothing")

    def start(
        self, process: TrainingProcess, stdin: int, stdout: int, stderr: int, files: ProcessFiles
    ) -> tuple[int, socket.socket] | None:
        """Fork the training job's child; its pid and socket, or None if the server failed."""
        assert self.control is not None
        job, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        request = {"argv": list(process.argv), "env": process.env, "cwd": str(process.cwd),
                   "record": {"path": str(files.record), "fields": files.record_fields},
                   "status": str(files.exit_status)}
        try:
            with self.lock:
                socket.send_fds(
                    self.control, [json.dumps(request).encode()],
                    [stdin, stdout, stderr, theirs.fileno()],
                )
            reply = _receive(job)
        except OSError as error:
            reply = {"error": str(error)}
        finally:
            theirs.close()
        if reply is None or "pid" not in reply:
            job.close()
            with self.lock:
                self.unusable = "its server failed: " + str((reply or {}).get("error", "ended"))
                self.failed = True
            return None
        return int(reply["pid"]), job

    def replaceable(self) -> bool:
        """Whether it failed or ended after it was ready (killed by hand, by the OOM killer).
        Read without the lock, which a server importing its modules holds for seconds."""
        process = self.process
        ended = self.control is not None and process is not None and process.poll() is not None
        return self.failed or ended

    def close(self) -> None:
        with self.lock:
            if self.control is not None:
                self.control.close()  # the server's signal to exit
                self.control = None
            self._end_process()

    def _end_process(self) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(SERVER_EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class _Servers:
    """The fork servers of this process by key, counted by the runners using them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: dict[_Key, _Server] = {}
        self._users: dict[_Key, int] = {}
        self._idle: dict[_Key, threading.Timer] = {}

    def acquire(self, key: _Key) -> None:
        """A runner starts using ``key``'s server; one that could not be used (it failed to
        start, or was unsafe to fork) is tried again for the new runner's tuning job."""
        with self._lock:
            timer = self._idle.pop(key, None)
            if timer is not None:
                timer.cancel()
            self._users[key] = self._users.get(key, 0) + 1
            unusable = self._servers.get(key)
            if unusable is None or unusable.unusable is None:
                return
            del self._servers[key]
        unusable.close()

    def server(self, key: _Key, cwd: Path) -> _Server:
        """The key's server, a new one in place of one that failed."""
        replaced = None
        with self._lock:
            server = self._servers.get(key)
            if server is None or server.replaceable():
                replaced = server
                server = self._servers[key] = _Server(key, cwd)
        if replaced is not None:
            replaced.close()
        return server

    def release(self, key: _Key) -> None:
        with self._lock:
            self._users[key] -= 1
            if self._users[key] > 0:
                return
            del self._users[key]
            if key not in self._servers:
                return
            idle = _idle_seconds()
            if idle > 0:
                timer = self._idle[key] = threading.Timer(idle, self._expire, (key,))
                timer.daemon = True
                timer.start()
                return
            server = self._servers.pop(key)
        server.close()

    def _expire(self, key: _Key) -> None:
        with self._lock:
            if key in self._users or key not in self._servers:
                return  # taken again meanwhile
            self._idle.pop(key, None)
            server = self._servers.pop(key)
        server.close()

    def close_all(self) -> None:
        """At exit: tell every server to end once its training jobs have (without waiting)."""
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            if server.control is not None:
                server.control.close()

    def forget_after_fork(self) -> None:
        """In a forked child: the servers are the parent's; hold none of their sockets open."""
        self._lock = threading.Lock()
        for server in self._servers.values():
            if server.control is not None:
                server.control.close()
        self._servers, self._users, self._idle = {}, {}, {}


_SERVERS = _Servers()
atexit.register(_SERVERS.close_all)
os.register_at_fork(after_in_child=_SERVERS.forget_after_fork)


def _idle_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get(IDLE_ENV, IDLE_SECONDS)))
    except ValueError:
        log.warning("%s=%r is not a number of seconds; using %s", IDLE_ENV,
                    os.environ[IDLE_ENV], IDLE_SECONDS)
        return IDLE_SECONDS


class WarmPool:
    """One runner's use of this process's fork servers, from first use until :meth:`close`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: set[_Key] = set()
        self._closed = False

    def prepare(self, process: TrainingProcess) -> None:
        """Make the server for ``process`` ready, if the pool may run it (this can take the
        time of importing the preload list, so it is kept apart from :meth:`start`)."""
        server = self._server(process)
        if server is not None:
            server.ensure_started()

    def start(
        self, process: TrainingProcess, *, stdout: int | IO[Any], stderr: int | IO[Any],
        files: ProcessFiles,
    ) -> PooledProcess | None:
        """Fork ``process`` from a warm server; None when it must start cold.

        ``stdout`` and ``stderr`` are what ``subprocess.Popen`` takes: ``subprocess.PIPE`` (the
        read ends become the result's ``stdout``/``stderr``), a file descriptor or a file. The
        server writes the process record and the exit status into ``files``.
        """
        server = self._server(process)
        if server is None:
            return None
        server.ensure_started()
        if server.unusable is not None:
            _note(process, server.unusable)
            return None
        ends = _Ends(stdout, stderr)
        try:
            started = server.start(process, ends.stdin, ends.child_stdout, ends.child_stderr,
                                   files)
        finally:
            ends.close_child_ends()
        if started is None:
            ends.close_parent_ends()
            _note(process, server.unusable or "its server failed")
            return None
        pid, job = started
        return PooledProcess(pid, job, ends.parent_stdout, ends.parent_stderr)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            keys, self._keys = self._keys, set()
        for key in keys:
            _SERVERS.release(key)

    def _server(self, process: TrainingProcess) -> _Server | None:
        if not _poolable(process):
            return None
        key = _Key(
            interpreter=process.argv[0],
            preload=preload_modules(Path(process.argv[1]), process.env),
            env=frozenset(_server_env(process.env).items()),
        )
        with self._lock:
            if self._closed:
                return None
            if key not in self._keys:
                self._keys.add(key)
                _SERVERS.acquire(key)
        return _SERVERS.server(key, process.cwd)


class _Ends:
    """The child's standard streams as file descriptors to send, and the runner's pipe ends."""

    def __init__(self, stdout: int | IO[Any], stderr: int | IO[Any]) -> None:
        self._to_close: list[int] = []
        self.stdin = self._own(os.open(os.devnull, os.O_RDONLY))
        self.parent_stdout, self.child_stdout = self._stream(stdout)
        self.parent_stderr, self.child_stderr = self._stream(stderr)

    def _own(self, fd: int) -> int:
        self._to_close.append(fd)
        return fd

    def _stream(self, target: int | IO[Any]) -> tuple[IO[bytes] | None, int]:
        if target == subprocess.PIPE:
            read, write = os.pipe()
            return open(read, "rb"), self._own(write)
        return None, target if isinstance(target, int) else target.fileno()

    def close_child_ends(self) -> None:
        for fd in self._to_close:
            os.close(fd)

    def close_parent_ends(self) -> None:
        for stream in (self.parent_stdout, self.parent_stderr):
            if stream is not None:
                stream.close()


def _poolable(process: TrainingProcess) -> bool:
    """A Python script run by an interpreter named by its path, with the pool not turned off."""
    if process.env.get(POOL_ENV) == "0":
        return False
    if len(process.argv) < 2 or not process.argv[1].endswith(".py"):
        return False
    interpreter = process.argv[0]
    return (
        os.path.isabs(interpreter)
        and os.access(interpreter, os.X_OK)
        and Path(interpreter).name.startswith("python")
        and os.path.isfile(process.argv[1])
    )


def _server_env(env: Mapping[str, str]) -> dict[str, str]:
    return {
        k: v for k, v in env.items()
        if k not in PER_JOB_ENV and not k.startswith(PER_JOB_ENV_PREFIXES)
    }


def preload_modules(script: Path, env: Mapping[str, str]) -> tuple[str, ...]:
    """The modules a server imports for ``script``: ``TUNESMITH_PRELOAD`` if set, else the
    top-level imports of the script, and of the script's own modules it imports (followed
    through its folder), that are neither its own modules nor GPU libraries."""
    declared = env.get(PRELOAD_ENV)
    if declared is not None:
        return tuple(sorted({m.strip() for m in declared.split(",") if m.strip()}))
    folder = script.parent
    try:
        own = {p.stem for p in folder.iterdir() if p.suffix == ".py" or p.is_dir()}
        imported = list(_script_imports(script.read_bytes()))
    except OSError:
        return ()  # the script shows its own error when it runs
    found: set[str] = set()
    followed: set[str] = set()
    while imported:
        name = imported.pop()
        root = name.split(".")[0]
        if root in own:
            # A training script split over files imports its libraries in the other files.
            if name not in followed and len(followed) < MAX_OWN_MODULES:
                followed.add(name)
                imported.extend(_own_module_imports(folder, name))
                if "." in name:  # importing ``package.module`` runs the package's ``__init__``
                    imported.append(name.rpartition(".")[0])
        elif root not in AFTER_FORK_MODULES and root != "__future__":
            found.add(name)
    return tuple(sorted(found))


def _own_module_imports(folder: Path, name: str) -> tuple[str, ...]:
    """The top-level imports of the script's own module ``name`` (a file or a package in the
    script's folder); none when it cannot be read."""
    base = folder.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        try:
            return _script_imports(path.read_bytes())
        except OSError:
            continue
    return ()


@functools.lru_cache(maxsize=64)
def _script_imports(source: bytes) -> tuple[str, ...]:
    """A script's top-level imports, parsed once per content: every training job of a tuning
    job runs the same script."""
    try:
        with _PARSE_LOCK:
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return ()
    return tuple(_top_level_imports(tree.body))


def _top_level_imports(body: list[ast.stmt]) -> list[str]:
    """Modules imported at module level, also under ``if``/``try``/``with`` (not in functions,
    which may never run)."""
    names: list[str] = []
    for node in body:
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for block in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, block, []):
                    inner = child.body if isinstance(child, ast.ExceptHandler) else [child]
                    names.extend(_top_level_imports(inner))
    return names


def _note(process: TrainingProcess, reason: str) -> None:
    """Tell the job's log why it starts cold."""
    text = f"[tunesmith] not started from the warm worker pool ({reason}): starting a new process\n"
    try:
        with open(process.paths.log, "a", encoding="utf-8") as log_file:
            log_file.write(text)
    except OSError:
        log.warning("%s", text.strip())



def _receive(channel: socket.socket, flags: int = 0) -> dict[str, Any] | None:
    """One message from a server; None when the server has gone."""
    data = channel.recv(fork_server.MAX_MESSAGE, flags)
    return json.loads(data) if data else None
