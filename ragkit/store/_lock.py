"""The index's write lock: ``fcntl.flock`` on ``<index>/lock``, holding the pid."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from ragkit.errors import IndexLockedError, StoreError

__all__ = ["WriteLock"]

_POLL_SECONDS = 0.05


class WriteLock:
    """An exclusive lock on one index directory.

    ``flock`` locks belong to an open file description, so two writers in the
    same process exclude each other just as two processes do, and the kernel
    drops the lock when a killed process's descriptors close.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, *, wait: float = 0.0) -> None:
        """Take the lock, polling for up to ``wait`` seconds.

        Raises:
            IndexLockedError: Another writer still holds it after ``wait``.
        """
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot open the lock file {self.path}: {exc}") from exc
        deadline = time.monotonic() + max(wait, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_pid(fd)
                    os.close(fd)
                    raise IndexLockedError(self._busy_message(holder, wait)) from None
                time.sleep(_POLL_SECONDS)
            except BaseException:
                os.close(fd)
                raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Give the lock up; harmless when it is not held."""
        fd, self._fd = self._fd, None
        if fd is not None:
            # Clear the pid first so a later message never names a finished
            # process; closing the descriptor is what releases the lock.
            os.ftruncate(fd, 0)
            os.close(fd)

    def _busy_message(self, holder: int | None, wait: float) -> str:
        index = self.path.parent
        waited = f" after waiting {wait:g} s" if wait > 0 else ""
        if holder == os.getpid():
            return (
                f"the index at {index} is already open for writing in this "
                f"process{waited}; close that writer first"
            )
        who = f"another ragkit process (pid {holder})" if holder else "another process"
        return (
            f"{who} is writing to the index at {index}{waited}; wait for it to "
            "finish, or allow a longer wait"
        )


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
