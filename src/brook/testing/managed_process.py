"""What every server a test runs has in common: a data dir it may own, and a with-block lifecycle."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Any, Self

__all__ = ["ManagedProcess", "terminate"]


def terminate(process: subprocess.Popen[Any], timeout_s: float) -> int:
    """SIGTERM (if it still runs), wait up to timeout_s, then SIGKILL; the exit code."""
    if process.poll() is None:
        process.terminate()
    try:
        return process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


class ManagedProcess:
    """Subclasses set `data_dir` and `process` and define `start()` and `stop()`; leaving the
    with-block stops the server and removes the data dir if this object made it."""

    data_dir: Path
    process: object | None
    _own_dir: bool

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> object:
        raise NotImplementedError

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        if self.process is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
