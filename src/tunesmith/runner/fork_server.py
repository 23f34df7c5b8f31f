"""The fork server of the warm worker pool: a program run by the training jobs' interpreter.

It imports the modules named on its command line once, then runs each training job's Python
script in a forked child as ``python script.py`` would: its own argv, environment, working
folder, standard streams, session and process group, a fresh ``__main__`` module and
``sys.path[0]`` set to the script's folder. The child is forked ahead of its job (the spare,
waiting in a session of its own), so the fork is not on the job's path. It uses only the
standard library, because the training jobs' interpreter need not have tunesmith installed.

Protocol (``SOCK_SEQPACKET``, one JSON object per message). The control socket, inherited as
file descriptor ``argv[1]``, first carries ``{"ready": ..., "unsafe": reason|null}`` from the
server; then each start request, carrying the job's stdin, stdout and stderr descriptors and
one end of a socket of the job's own. On the job's socket the server answers ``{"pid": n}`` (or
``{"error": text}``), reports ``{"exited": true}`` when the script has ended, and, asked
``{"reap": true}``, answers ``{"returncode": n}`` (negative for death by a signal, as
``subprocess`` reports it). The child leaves its script's exit status in memory it shares with
the server and signals it just before it exits, so the end is reported while the kernel still
takes a large process down, which takes milliseconds; a child that dies otherwise is reported
when the kernel says so. A child is reaped only once its end was reported and its reap asked
for, so its process group id stays taken until then.

Training jobs outlive their runner, as cold ones do. Before the child may run the script, the
server writes the request's process record (``record.fields`` with the child's ``pid`` and
``start_ticks``, into ``record.path``), so a later runner can adopt it; when the script ends
the server writes its exit status into ``status`` as a shell reports it (the code, or 128 + the
signal). A child whose job socket closes (its runner died) is reaped by the server as soon as it
ends, after what is left of its process group has been killed. The server stops taking requests
when the control socket closes, and ends once no child is left.
"""

from __future__ import annotations

import array
import contextlib
import gc
import importlib
import json
import mmap
import os
import select
import signal
import socket
import sys
import threading
from typing import NoReturn

MAX_MESSAGE = 1 << 20
END_SIGNAL = signal.SIGUSR1
"""Sent by a child to the server when its script has ended."""
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


class _Spare:
    """A child forked ahead of the next training job, in a session of its own, waiting on
    ``channel`` for the job: the fork is then off that job's path."""

    def __init__(self, pid: int, channel: socket.socket, word: mmap.mmap) -> None:
        self.pid = pid
        self.channel = channel
        self.word = word
        self.start_ticks = _start_ticks(pid)

    def close(self) -> None:
        self.channel.close()
        self.word.close()


class _Server:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_write, False)
        for woken_by in (signal.SIGCHLD, END_SIGNAL):
            signal.signal(woken_by, lambda *_: None)
        signal.set_wakeup_fd(self.wake_write)
        self.poller = select.poll()
        self.spare: _Spare | None = None
        self.jobs: dict[int, socket.socket] = {}
        """Job socket by child pid, for children whose supervisor has not collected them."""
        self.words: dict[int, mmap.mmap] = {}
        """By child pid, memory shared with the child, where it leaves its script's exit status
        (a flag, then the status) before it exits, and then signals the server."""
        self.codes: dict[int, int] = {}
        """Return codes of children that ended (negative: killed by that signal)."""
        self.orphans: set[int] = set()
        """Children whose supervisor went away: collected as soon as they end."""
        self.dying: set[int] = set()
        """Collected children the kernel is still taking down: reaped once it is done."""
        self.status_files: dict[int, str] = {}
        """Where a started child's exit status goes."""

    def serve(self) -> None:
        self.poller.register(self.control, select.POLLIN)
        self.poller.register(self.wake_read, select.POLLIN)
        by_socket: dict[int, int] = {}
        accepting = True
        while accepting or self.jobs or self.orphans or self.dying:
            if accepting and self.spare is None:
                with contextlib.suppress(OSError):  # forked on demand by the next request
                    self.spare = self._fork_spare()
            for fd, _ in self.poller.poll():
                if fd == self.control.fileno():
                    started = self._start()
                    if started is None:
                        accepting = False
                        self.poller.unregister(self.control)
                        self._drop_spare()
                    elif started:
                        pid, job = started
                        by_socket[job.fileno()] = pid
                        self.poller.register(job, select.POLLIN)
                elif fd == self.wake_read:
                    os.read(fd, 4096)
                elif fd in by_socket and self._reap_requested(by_socket[fd]):
                    del by_socket[fd]
            self._hear_ends()
            self._notice_exits()

    # -- starting --------------------------------------------------------------------------

    def _start(self) -> tuple[int, socket.socket] | tuple[()] | None:
        """Take one start request: the child and its job socket, ``()`` if the child could not
        be started (the request was answered with the error), None when the control socket
        closed."""
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
        try:
            pid = self._hand_over(json.loads(data), [stdin, stdout, stderr], job_fd)
        except OSError as error:
            _send(job, {"error": str(error)})
            job.close()
            return ()
        finally:
            for fd in (stdin, stdout, stderr):
                os.close(fd)
        self.jobs[pid] = job
        _send(job, {"pid": pid})
        return pid, job

    def _hand_over(self, request: dict, streams: list[int], job: int) -> int:
        """Record the spare child where a later runner finds it, then give it the job; a child
        that cannot be recorded is kept for the next request."""
        spare = self._take_spare(unshared=(*streams, job))
        record = {**request["record"]["fields"], "pid": spare.pid,
                  "start_ticks": spare.start_ticks}
        try:
            _write_atomically(request["record"]["path"], json.dumps(record))
        except OSError as error:
            self.spare = spare
            raise OSError(f"cannot record the training job: {error}") from error
        run = {key: request[key] for key in ("argv", "env", "cwd")}
        try:
            # Should the child have died meanwhile, the runner starts the job cold, and the
            # record it writes replaces this one.
            socket.send_fds(spare.channel, [json.dumps(run).encode()], streams)
        except OSError:
            spare.close()
            self.dying.add(spare.pid)
            raise
        spare.channel.close()
        self.words[spare.pid] = spare.word
        self.status_files[spare.pid] = request["status"]
        return spare.pid

    def _take_spare(self, unshared: tuple[int, ...]) -> _Spare:
        self._replace_dead_spare()
        spare, self.spare = self.spare, None
        return spare if spare is not None else self._fork_spare(unshared)

    def _replace_dead_spare(self) -> None:
        if self.spare is not None and _reap(self.spare.pid, os.WNOHANG) is not None:
            self.spare.close()  # killed while it waited
            self.spare = None

    def _fork_spare(self, unshared: tuple[int, ...] = ()) -> _Spare:
        """Fork a spare child; ``unshared``: descriptors of a request at hand, which the child
        must not keep."""
        channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        word = mmap.mmap(-1, 2)  # shared with the child, and no descriptor the script would see
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError:
            word.close()
            channel.close()
            theirs.close()
            raise
        if pid == 0:
            channel.close()
            for fd in unshared:
                os.close(fd)
            self._be_spare(theirs, word)
        theirs.close()
        return _Spare(pid, channel, word)

    def _drop_spare(self) -> None:
        if self.spare is not None:
            self.spare.close()  # it ends when its channel closes
            self.dying.add(self.spare.pid)
            self.spare = None

    # -- ending ----------------------------------------------------------------------------

    def _hear_ends(self) -> None:
        """The scripts that gave their exit status."""
        for pid, word in self.words.items():
            if word[0] and pid not in self.codes:
                self._ended(pid, word[1], word[1])

    def _ended(self, pid: int, status: int, returncode: int) -> None:
        """The script ended: its status file, and the word to its supervisor, which may collect
        it while the kernel still frees its memory."""
        self.codes[pid] = returncode
        path = self.status_files.get(pid)
        if path is not None:
            try:
                _write_atomically(path, f"{status}\n")
            except OSError:  # its folder is gone: no one will ask
                pass
        if pid in self.jobs:
            _send(self.jobs[pid], {"exited": True})

    def _notice_exits(self) -> None:
        self._replace_dead_spare()
        for pid in [*self.jobs, *self.orphans]:
            if pid in self.codes:
                continue
            try:
                info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                self.codes[pid] = -signal.SIGKILL
                if pid in self.jobs:
                    _send(self.jobs[pid], {"exited": True})
                continue
            if info is not None:
                exited = info.si_code == os.CLD_EXITED
                self._ended(pid, info.si_status if exited else 128 + info.si_status,
                            info.si_status if exited else -info.si_status)
        for pid in self.orphans & self.codes.keys():
            # No runner follows it: end what is left of its group, as a runner would.
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:  # nothing is left
                pass
            self._collect(pid)
        for pid in list(self.dying):
            if _reap(pid, os.WNOHANG) is not None:
                self.dying.discard(pid)

    def _collect(self, pid: int) -> None:
        """Forget an ended child; reap it now, or once the kernel has taken it down."""
        if _reap(pid, os.WNOHANG) is None:
            self.dying.add(pid)
        word = self.words.pop(pid, None)
        if word is not None:
            word.close()
        self.orphans.discard(pid)
        self.codes.pop(pid, None)
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
        self.poller.unregister(job)
        if data:  # asked after the end was reported, so only the kernel's part may be left
            returncode = self.codes.get(pid)
            if returncode is None:
                returncode = _reap(pid, 0)
            _send(job, {"returncode": -signal.SIGKILL if returncode is None else returncode})
            self._collect(pid)
        else:
            self.orphans.add(pid)
        job.close()
        return True

    # -- in the child ----------------------------------------------------------------------

    def _be_spare(self, channel: socket.socket, word: mmap.mmap) -> NoReturn:
        """Wait for a training job, run its script, leave its exit status in ``word``."""
        code = 0
        server, me = os.getppid(), os.getpid()
        try:
            os.setsid()
            signal.set_wakeup_fd(-1)
            for woken_by in (signal.SIGCHLD, END_SIGNAL):
                signal.signal(woken_by, signal.SIG_DFL)
            for own in (self.control, *self.jobs.values()):
                os.close(own.detach())
            for fd in (self.wake_read, self.wake_write):
                os.close(fd)
            for others in self.words.values():
                others.close()
            data, fds, _, _ = socket.recv_fds(channel, MAX_MESSAGE, 3)
            if not data:  # the server ended first
                return
            channel.close()
            for fd, target in zip(fds, (0, 1, 2), strict=True):
                os.dup2(fd, target)
                os.close(fd)
            code = _run_script(json.loads(data))
            if os.getpid() == me:  # not a child the script forked, ending the same way
                _give_end(word, server, code)
        except BaseException:  # the server's own bookkeeping failed: say so, as exec would
            import traceback

            traceback.print_exc()
            code = 1
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


def _run_script(request: dict) -> int:
    """Run the script as ``python script.py args...`` would; its exit status."""
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
    return _execute(script)


def _give_end(word: mmap.mmap, server: int, code: int) -> None:
    """Tell the server the script's exit status before the kernel takes the process down
    (which takes milliseconds for a large one): its supervisor need not wait for that."""
    word[1] = code & 0xFF
    word[0] = 1
    if os.getppid() == server:  # a server that died is not signalled: its pid may be reused
        with contextlib.suppress(OSError):  # it died meanwhile: nobody needs the word
            os.kill(server, END_SIGNAL)


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
