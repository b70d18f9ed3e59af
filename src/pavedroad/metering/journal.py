"""The ledger journal: append-only JSON-lines files on local disk, one set per process.

Each gateway process is a *writer* with its own id. It holds an exclusive `flock` on
`<writer>.lock` for its whole life and appends to `<writer>.<seq>.jsonl`, rotating by
size. A lock that can be taken belongs to a dead process: its files are orphans, and any
flusher may adopt them. The kernel drops a process's locks when it dies, SIGKILL included,
so no pid files or heartbeats are needed. (flock needs a local file system, not NFS.)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pavedroad.core.ids import new_id

_FILE = re.compile(r"^(?P<writer>jw_[0-9a-z]+)\.(?P<seq>\d{6,})\.jsonl$")
_LOCK = re.compile(r"^(?P<writer>jw_[0-9a-z]+)\.lock$")
READ_CHUNK = 4 * 1024 * 1024


@dataclass(slots=True, frozen=True, order=True)
class JournalFile:
    writer: str
    seq: int
    path: Path

    @property
    def name(self) -> str:
        return self.path.name


def journal_files(directory: Path, writer: str | None = None) -> list[JournalFile]:
    """Journal files in `directory` (of one writer, if given), oldest first."""
    found = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            match = _FILE.match(entry.name)
            if match and (writer is None or match["writer"] == writer):
                found.append(JournalFile(match["writer"], int(match["seq"]), Path(entry.path)))
    return sorted(found)


def writers_in(directory: Path) -> set[str]:
    """Every writer id with a lock file or a journal file in `directory`."""
    ids = {f.writer for f in journal_files(directory)}
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            match = _LOCK.match(entry.name)
            if match:
                ids.add(match["writer"])
    return ids


class WriterLock:
    """An exclusive flock on `<writer>.lock`; `acquire` fails while its owner lives."""

    def __init__(self, directory: Path, writer: str) -> None:
        self.path = directory / f"{writer}.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Another process may have unlinked the file after we opened it: our lock
            # would then be on a file nobody else can see. Only the path's inode counts.
            if os.fstat(fd).st_ino != os.stat(self.path).st_ino:
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self, *, remove: bool = False) -> None:
        if self._fd is None:
            return
        if remove:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        os.close(self._fd)  # closing drops the flock
        self._fd = None


class JournalWriter:
    """Appends records, each with a single `os.write` on an O_APPEND descriptor.

    Without `fsync` a record is in the kernel's page cache when `append` returns: it
    survives the process being killed, not a power cut. With `fsync` it survives both,
    at the price of a disk flush per record.
    """

    def __init__(self, directory: Path, *, rotate_bytes: int, fsync: bool = False) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        for _ in range(5):
            # A flusher of another process may take a lock file in the instant between
            # its creation and our flock (it looks abandoned); then pick a new id.
            self.writer = new_id("jw")
            self.lock = WriterLock(directory, self.writer)
            if self.lock.acquire():
                break
        else:
            raise RuntimeError(f"could not lock a journal writer in {directory}")
        self._rotate_bytes = rotate_bytes
        self._fsync = fsync
        self._seq = 0
        self._fd = -1
        self._size = 0
        self.path = directory  # the active file, once opened
        self.closed = False
        self._open_next()

    def _open_next(self) -> None:
        self._seq += 1
        path = self.directory / f"{self.writer}.{self._seq:06d}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self.path, self._size = fd, path, 0

    @property
    def active_seq(self) -> int:
        return self._seq

    def append(self, line: bytes) -> None:
        """Write one newline-terminated record. Raises OSError when the disk refuses it."""
        if self.closed:
            raise OSError("the journal is closed")
        if self._size >= self._rotate_bytes:
            self._open_next()
        written = os.write(self._fd, line)
        if written != len(line):
            # A short write leaves a torn line; start a new file so the next record is
            # whole. Readers skip a torn tail.
            self._size += written
            self._open_next()
            raise OSError(f"short write to the journal ({written} of {len(line)} bytes)")
        if self._fsync:
            os.fdatasync(self._fd)
        self._size += written

    def close(self) -> None:
        """Stop writing; the lock stays held until `lock.release`."""
        if not self.closed:
            self.closed = True
            os.close(self._fd)


@dataclass(slots=True)
class Chunk:
    """Complete lines read from a journal file, and the offset just past them."""

    lines: list[bytes]
    end: int
    torn_tail: bool = False  # bytes after the last newline (only final in a closed file)


def read_lines(path: Path, offset: int, *, max_lines: int) -> Chunk:
    """Up to `max_lines` complete lines starting at `offset`. A line still being written
    (no newline yet) is left for the next read."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read(READ_CHUNK)
    end = data.rfind(b"\n")
    if end < 0:
        return Chunk([], offset, torn_tail=bool(data))
    lines = data[: end + 1].splitlines(keepends=True)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
    consumed = sum(len(line) for line in lines)
    return Chunk(lines, offset + consumed, torn_tail=consumed < len(data))
