"""A training job's output as a file that outlives whoever reads it.

The training process writes both of its streams straight into a capture file (opened with
``O_APPEND``), so its output is neither lost nor blocked when the engine reading it dies. A
reader follows the file from a byte offset and cuts it into lines; the offset after the last
whole line read is what an engine stores with the metric values of those lines, and where the
next reader starts, so no line is read twice into the store.

Disk use stays bounded: the kept log (``logs/training.log``) is rotated at
:func:`log_max_bytes`, and the part of the capture file read long ago is released
(``FALLOC_FL_PUNCH_HOLE``) on filesystems that support it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
from pathlib import Path

READ_BYTES = 64 * 1024
MAX_LINE_CHARS = 64 * 1024
"""A longer line is cut (bytes count), so memory stays bounded whatever a script prints."""
BURST_BYTES = 256 * 1024
"""At most this much output is read before its lines are handed on."""
DEFAULT_LOG_MAX_BYTES = 256 * 1024 * 1024
KEEP_CAPTURE_BYTES = 16 * 1024 * 1024
"""The capture file's last bytes read are kept on disk: an engine that dies before storing
the offset of lines it read re-reads them from there."""
_PAGE = 4096


def log_max_bytes() -> int:
    """Size at which ``training.log`` is rotated to ``training.log.1`` (the earlier
    ``training.log.1`` is dropped): ``TUNESMITH_LOG_MAX_BYTES``, default 256 MiB."""
    return int(os.environ.get("TUNESMITH_LOG_MAX_BYTES") or DEFAULT_LOG_MAX_BYTES)


class CaptureReader:
    """Whole lines of a capture file from a byte offset on."""

    def __init__(self, path: Path, offset: int) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self.offset = offset
        """Where the first line not yet returned starts."""
        self._partial = b""
        self._released = offset - offset % _PAGE
        self._can_release = True

    def close(self) -> None:
        os.close(self.fd)

    def read(self, budget: int = BURST_BYTES) -> tuple[list[str], bool]:
        """Lines read from at most ``budget`` new bytes; whether the end of the file was
        reached."""
        lines: list[str] = []
        while budget > 0:
            data = os.pread(self.fd, READ_BYTES, self.offset + len(self._partial))
            if not data:
                self._release()
                return lines, True
            budget -= len(data)
            self._split(self._partial + data, lines)
        self._release()
        return lines, False

    def flush(self) -> list[str]:
        """The unfinished last line, once nothing more will be written."""
        rest, self._partial = self._partial, b""
        self.offset += len(rest)
        return [_decode(rest)] if rest else []

    def _split(self, data: bytes, lines: list[str]) -> None:
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            lines.append(_decode(data[start:end]))
            start = end + 1
        rest = data[start:]
        if len(rest) >= MAX_LINE_CHARS:
            lines.append(_decode(rest))
            start, rest = len(data), b""
        self.offset += start
        self._partial = rest

    def _release(self) -> None:
        """Free the disk blocks of output read long ago (offsets stay valid)."""
        end = self.offset - KEEP_CAPTURE_BYTES
        end -= end % _PAGE
        if not self._can_release or end - self._released < KEEP_CAPTURE_BYTES:
            return
        if _punch_hole(self.fd, self._released, end - self._released):
            self._released = end
        else:
            self._can_release = False


def _decode(line: bytes) -> str:
    return line.removesuffix(b"\r").decode("utf-8", errors="replace")


class RotatingLog:
    """``training.log``: the output's lines in order, rotated at :func:`log_max_bytes`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.max_bytes = log_max_bytes()
        self._file = open(path, "a", encoding="utf-8", errors="replace")
        self._size = self._file.tell()

    def write(self, lines: list[str]) -> None:
        chunk: list[str] = []
        size = 0
        for line in lines:
            length = len(line.encode("utf-8", errors="replace")) + 1
            if self._size + size + length > self.max_bytes and self._size + size > 0:
                self._append(chunk)
                self._rotate()
                chunk, size = [], 0
            chunk.append(line)
            size += length
        self._append(chunk)

    def _append(self, lines: list[str]) -> None:
        if lines:
            text = "\n".join(lines) + "\n"
            self._file.write(text)
            self._file.flush()
            self._size += len(text.encode("utf-8", errors="replace"))

    def _rotate(self) -> None:
        self._file.close()
        os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        self._file = open(self.path, "a", encoding="utf-8", errors="replace")
        self._size = 0

    def close(self) -> None:
        self._file.close()


class FileWatch:
    """A descriptor that becomes readable when a file is written to (inotify), so a follower
    sleeps until there is something to read; ``fd`` is ``None`` where inotify is unavailable
    (the follower then looks at the file periodically)."""

    _IN_MODIFY = 0x2
    _IN_NONBLOCK = os.O_NONBLOCK
    _IN_CLOEXEC = os.O_CLOEXEC

    def __init__(self, path: Path) -> None:
        self.fd: int | None = None
        libc = _libc()
        if libc is None or not hasattr(libc, "inotify_init1"):
            return
        fd = libc.inotify_init1(self._IN_NONBLOCK | self._IN_CLOEXEC)
        if fd < 0:
            return
        if libc.inotify_add_watch(fd, os.fsencode(path), self._IN_MODIFY) < 0:
            os.close(fd)
            return
        self.fd = fd

    def clear(self) -> None:
        """Consume the pending notifications."""
        if self.fd is None:
            return
        with contextlib.suppress(BlockingIOError):
            while os.read(self.fd, 65536):
                pass

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


_LIBC: ctypes.CDLL | bool | None = False


def _libc() -> ctypes.CDLL | None:
    global _LIBC
    if _LIBC is False:
        name = ctypes.util.find_library("c")
        try:
            _LIBC = ctypes.CDLL(name, use_errno=True) if name else None
        except OSError:
            _LIBC = None
    return _LIBC  # type: ignore[return-value]


def _punch_hole(fd: int, offset: int, length: int) -> bool:
    libc = _libc()
    if libc is None or not hasattr(libc, "fallocate") or length <= 0:
        return False
    punch_hole_keep_size = 0x02 | 0x01
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    return libc.fallocate(fd, punch_hole_keep_size, offset, length) == 0
