"""Durable file writes shared by storage, metadata and the cleaner: whole writes, fsync, atomic replace."""

from __future__ import annotations

import errno
import os
from pathlib import Path

__all__ = ["fsync_dir", "fsync_file", "is_out_of_descriptors", "write_atomically", "write_fully"]


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
