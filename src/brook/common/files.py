"""Durable file writes shared by storage, metadata and the cleaner: whole writes, fsync, atomic replace."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = [
    "DescriptorReserve",
    "fsync_dir",
    "fsync_file",
    "is_out_of_descriptors",
    "write_atomically",
    "write_fully",
]

T = TypeVar("T")


def is_out_of_descriptors(exc: BaseException) -> bool:
    """EMFILE (this process) or ENFILE (the whole system): a limit, not a failing disk."""
    return isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE)


def write_fully(fd: int, data: bytes | bytearray | memoryview) -> None:
    """os.write until every byte is written (a write may be short, e.g. on a signal)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Make what was written to `path` (by any descriptor) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Replace `path` so that a process crash leaves the old or the new content, never a mix:
    temp file, fsync, rename, fsync the directory. With sync=False nothing is fsynced: a kill -9
    still leaves the old or the new content, but a power loss may leave either, or an empty file
    (callers that use it make the file durable later with fsync_file + fsync_dir, and can rebuild it)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_fully(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if sync:
        fsync_dir(path.parent)


class DescriptorReserve:
    """One descriptor held back (open on /dev/null) for a write that must not fail for lack of descriptors.

    When the process is out of descriptors, every freed one is taken by whoever asks first (often the
    acceptor's next accept), so a write that would put the metadata back in order could fail forever.
    `run` closes the reserved descriptor, runs the write in the slot it freed (the write opens one file at a
    time), and takes the slot back. libuv keeps one for accept in the same way (its "emfile trick").
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd = self._take()

    @staticmethod
    def _take() -> int:
        try:
            return os.open(os.devnull, os.O_RDONLY)
        except OSError:
            return -1

    def replenish(self) -> None:
        """Take the reserve back if an earlier `run` could not (no descriptor was free then)."""
        with self._lock:
            if self._fd < 0:
                self._fd = self._take()

    def run(self, fn: Callable[[], T]) -> T:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            try:
                return fn()
            finally:
                self._fd = self._take()

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
