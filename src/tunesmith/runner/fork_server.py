"""The fork server of the warm worker pool: a program run by the training jobs' interpreter.

It imports the modules named on its command line once, then forks one child per training job
and runs the job's Python script in it as ``python script.py`` would: its own argv, environment,
working folder, standard streams, session and process group, a fresh ``__main__`` module and
``sys.path[0]`` set to the script's folder. It uses only the standard library, because the
training jobs' interpreter need not have tunesmith installed.

Protocol (``SOCK_SEQPACKET``, one JSON object per message). The control socket, inherited as
file descriptor ``argv[1]``, first carries ``{"ready": ..., "unsafe": reason|null}`` from the
server; then each start request, carrying the job's stdin, stdout and stderr descriptors and
one end of a socket of the job's own. On the job's socket the server answers ``{"pid": n}`` (or
``{"error": text}``), reports ``{"exited": true}`` when the child exits (leaving it unreaped so
its process group id stays taken), and, asked ``{"reap": true}``, reaps it and answers
``{"returncode": n}`` (negative for death by a signal, as ``subprocess`` reports it).

Training jobs outlive their runner, as cold ones do. Before the child may run the script, the
server writes the request's process record (``record.fields`` with the child's ``pid`` and
``start_ticks``, into ``record.path``), so a later runner can adopt it; when the child exits
the server writes its exit status into ``status`` as a shell reports it (the code, or 128 + the
signal). A child whose job socket closes (its runner died) is reaped by the server as soon as it
exits, after what is left of its process group has been killed. The server stops taking requests
when the control socket closes, and ends once no child is left.
"""

from __future__ import annotations

import array
import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
import threading

MAX_MESSAGE = 1 << 20
NOT_RELEASED = 70
"""The exit code of a child the server could not record, which ran nothing."""
# Libraries that keep GPU driver state or thread pools a forked child cannot use.
# jemalloc's background thread (pyarrow's allocator): jemalloc stops and restarts it around a
# fork.
FORK_AWARE_THREAD = "jemalloc_bg_thd"
FORK_UNSAFE_MODULES = ("tensorflow", "jax", "cupy", "mxnet", "paddle", "tensorrt", "numba.cuda")


def main() -> None:
    # Run as a program, this file's folder heads sys.path; a script's own folder replaces it.
    del sys.path[0]
    control = socket.socket(fileno=int(sys.argv[1]))
    failed = _preload([m for m in sys.argv[2].split(",") if m])
    unsafe = _fork_unsafe()
    control.send(json.dumps({"ready": True, "failed": failed, "unsafe": unsafe}).encode())
    if unsafe is not None:
        return
    gc.freeze()  # keep the imported modules' pages shared with the children
    _Server(control).serve()


def _preload(modules: list[str]) -> list[str]:
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except BaseException:  # the script meets the same error when it imports it itself
            failed.append(name)
    return failed


def _fork_unsafe() -> str | None:
    """Why forking this process would be unsafe, or None."""
    if threading.active_count() > 1:
        return f"the preloaded modules started {threading.active_count() - 1} Python thread(s)"
    for name in FORK_UNSAFE_MODULES:
        if name in sys.modules:
            return f"the preloaded modules imported {name}, which is not safe to fork"
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        return "the preloaded modules initialised CUDA, which is not safe to fork"
    threads = os.listdir("/proc/self/task")
    named = [_thread_name(t) for t in threads]
    extra = len(threads) - 1 - _blas_workers(len(threads)) - named.count(FORK_AWARE_THREAD)
    if extra > 0:
        return f"the preloaded modules started {extra} native thread(s)"
    return None


def _thread_name(thread: str) -> str:
    try:
        with open(f"/proc/self/task/{thread}/comm") as comm:
            return comm.read().strip()
    except OSError:  # it ended meanwhile
        return ""


def _blas_workers(threads: int) -> int:
    """Worker threads of OpenBLAS pools, which stop themselves around a fork."""
    if threads == 1:
        return 0
    try:
        import threadpoolctl
    except ImportError:
        return 0
    return sum(
        info["num_threads"] - 1
        for info in threadpoolctl.threadpool_info()
        if info.get("internal_api") == "openblas" and info.get("threading_layer") == "pthreads"
    )


class _Server:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_write, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_write)
        self.jobs: dict[int, socket.socket] = {}
        """Job socket by child pid, for children not yet reaped."""
        self.exited: set[int] = set()
        self.orphans: set[int] = set()
        """Children whose supervisor went away: reaped as soon as they exit."""
        self.status_files: dict[int, str] = {}
        """Where a released child's exit status goes."""

    def serve(self) -> None:
        poller = select.poll()
        poller.register(self.control, select.POLLIN)
        poller.register(self.wake_read, select.POLLIN)
        by_fd: dict[int, int] = {}
        accepting = True
        while accepting or self.jobs or self.orphans:
            for fd, _ in poller.poll():
                if fd == self.control.fileno():
                    started = self._start()
                    if started is None:
                        accepting = False
                        poller.unregister(self.control)
                        continue
                    pid, job = started
                    if pid:
                        by_fd[job.fileno()] = pid
                        poller.register(job, select.POLLIN)
                elif fd == self.wake_read:
                    os.read(fd, 4096)
                else:
                    pid = by_fd[fd]
                    if self._reap_requested(pid):
                        poller.unregister(fd)
                        del by_fd[fd]
            self._notice_exits()

    def _start(self) -> tuple[int, socket.socket] | None:
        fds = array.array("i")
        try:
            data, ancillary, _, _ = self.control.recvmsg(
                MAX_MESSAGE, socket.CMSG_SPACE(4 * fds.itemsize)
            )
        except ConnectionError:
            return None
        if not data:
            return None
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
        stdin, stdout, stderr, job_fd = fds
        job = socket.socket(fileno=job_fd)
        request = json.loads(data)
        sys.stdout.flush()
        sys.stderr.flush()
        go_read, go_write = os.pipe()
        try:
            pid = os.fork()
        except OSError as error:
            job.send(json.dumps({"error": str(error)}).encode())
            pid = 0
        else:
            if pid == 0:
                os.close(go_write)
                self._become_child(request, stdin, stdout, stderr, job, go_read)
            self.jobs[pid] = job
            self._release(pid, request, go_write)
        os.close(go_read)
        os.close(go_write)
        for fd in (stdin, stdout, stderr):
            os.close(fd)
        if not pid:
            job.close()
        return pid, job

    def _release(self, pid: int, request: dict, go: int) -> None:
        """Record the child where a later runner finds it, then let it run the script; a child
        that cannot be recorded never runs it (it exits when ``go`` closes)."""
        try:
            record = {**request["record"]["fields"], "pid": pid, "start_ticks": _start_ticks(pid)}
            _write_atomically(request["record"]["path"], json.dumps(record))
            os.write(go, b"g")
        except OSError as error:
            _send(self.jobs[pid], {"error": f"cannot record the training job: {error}"})
            return
        self.status_files[pid] = request["status"]
        _send(self.jobs[pid], {"pid": pid})

    def _notice_exits(self) -> None:
        for pid in [*self.jobs, *self.orphans]:
            if pid in self.exited:
                continue
            try:
                info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                info = None
                self.exited.add(pid)
            if info is not None:
                self.exited.add(pid)
                self._write_status(pid, info)
            if pid in self.exited and pid in self.jobs:
                _send(self.jobs[pid], {"exited": True})
        for pid in self.orphans & self.exited:
            # No runner follows it: end what is left of its group, as a runner would.
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:  # nothing is left
                pass
            _reap(pid, 0)
            self._forget(pid)

    def _write_status(self, pid: int, info: os.waitid_result) -> None:
        path = self.status_files.get(pid)
        if path is None:  # never released: it ran nothing
            return
        code = info.si_status if info.si_code == os.CLD_EXITED else 128 + info.si_status
        try:
            _write_atomically(path, f"{code}\n")
        except OSError:  # its folder is gone: no one will ask
            pass

    def _forget(self, pid: int) -> None:
        self.orphans.discard(pid)
        self.exited.discard(pid)
        self.status_files.pop(pid, None)

    def _reap_requested(self, pid: int) -> bool:
        """Handle a message on a job's socket; whether the job is done with."""
        job = self.jobs[pid]
        try:
            data = job.recv(MAX_MESSAGE)
        except ConnectionError:
            data = b""
        if data and not json.loads(data).get("reap"):
            return False
        del self.jobs[pid]
        if data:  # asked after the exit was reported, so this does not block
            returncode = _reap(pid, 0)
            _send(job, {"returncode": -signal.SIGKILL if returncode is None else returncode})
            self._forget(pid)
        else:
            self.orphans.add(pid)
        job.close()
        return True

    # -- in the child ------------------------------------------------------------------------

    def _become_child(
        self, request: dict, stdin: int, stdout: int, stderr: int, job: socket.socket, go: int
    ) -> None:
        code = 1
        try:
            os.setsid()
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for own in (self.control, job, *self.jobs.values()):
                os.close(own.detach())
            os.close(self.wake_read)
            os.close(self.wake_write)
            released = os.read(go, 1) == b"g"
            os.close(go)
            if not released:
                code = NOT_RELEASED
                return
            for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
                os.dup2(fd, target)
                os.close(fd)
            _run_script(request)
        except BaseException:  # the server's own bookkeeping failed: say so, as exec would
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)


def _reap(pid: int, options: int) -> int | None:
    """Reap a child: its return code, None while it runs (with ``WNOHANG``)."""
    try:
        reaped, status = os.waitpid(pid, options)
    except ChildProcessError:
        return -signal.SIGKILL
    return os.waitstatus_to_exitcode(status) if reaped else None


def _start_ticks(pid: int) -> int | None:
    """When the process started, in clock ticks since boot (field 22 of ``/proc/<pid>/stat``)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rpartition(")")[2].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _write_atomically(path: str, text: str) -> None:
    partial = path + ".partial"
    with open(partial, "w") as file:
        file.write(text)
    os.replace(partial, path)


def _send(job: socket.socket, message: dict) -> None:
    try:
        job.send(json.dumps(message).encode())
    except OSError:  # the supervisor went away; the reap still follows on its socket's end
        pass


def _run_script(request: dict) -> None:
    """Become ``python script.py args...`` and end as the interpreter would."""
    argv: list[str] = request["argv"]
    script = argv[1]
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = argv[1:]
    sys.orig_argv = list(argv)
    sys.path.insert(0, os.path.dirname(os.path.realpath(script)))
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        # Each cold process seeds numpy's global generator afresh; forked ones must too.
        numpy_random.seed()
    os._exit(_execute(script))


def _execute(script: str) -> int:
    import builtins
    import types
    from importlib.machinery import SourceFileLoader

    path = os.path.abspath(script)
    main_module = types.ModuleType("__main__")
    main_module.__dict__.update(
        __file__=path,
        __builtins__=builtins,
        __cached__=None,
        __loader__=SourceFileLoader("__main__", path),
    )
    sys.modules["__main__"] = main_module
    status = 0
    try:
        with open(script, "rb") as source:
            code = compile(source.read(), script, "exec", dont_inherit=True)
        exec(code, main_module.__dict__)
    except SystemExit as exit_request:
        status = _exit_status(exit_request)
    except KeyboardInterrupt:
        _print_exception()
        _finalise()
        # The interpreter re-raises an uncaught SIGINT so that its parent sees the signal.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        _print_exception()
        status = 1
    return _finalise(status)


def _exit_status(exit_request: SystemExit) -> int:
    code = exit_request.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except Exception:
        pass
    return 1


def _print_exception() -> None:
    kind, value, tb = sys.exc_info()
    if tb is not None and value is not None:
        # The traceback starts in the script, as with ``python script.py`` (the printer reads
        # the exception's own traceback, so that is where the server's frame is cut off).
        tb = tb.tb_next
        value.__traceback__ = tb
    sys.excepthook(kind, value, tb)


def _finalise(status: int = 1) -> int:
    """What the interpreter does before exiting: join threads, run atexit, flush streams."""
    try:
        threading._shutdown()  # type: ignore[attr-defined]
    except BaseException:
        pass
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            status = 120 if status == 0 else status
    return status


if __name__ == "__main__":
    main()
