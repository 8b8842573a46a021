"""One refresh at a time: an advisory file lock beside the store.

``fcntl.flock`` locks belong to the open file description, so the kernel releases them
when the holder dies (even by SIGKILL): a killed refresh never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

# flock is per open file, so two threads of one process opening the file separately would
# also exclude each other; this in-process lock just makes the message immediate and cheap.
_local_lock = threading.Lock()


class RefreshBusy(RuntimeError):
    """Another refresh (in this process or another one) is running."""


class RefreshLock:
    """Non-blocking exclusive lock on ``<data_dir>/refresh.lock``; use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._has_local = False

    def acquire(self) -> None:
        """Take the lock or raise :class:`RefreshBusy` at once (never waits)."""
        if not _local_lock.acquire(blocking=False):
            raise RefreshBusy("an index refresh is already running in this process; try again when it ends")
        self._has_local = True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _read_holder(self.path)
            self._release_local()
            raise RefreshBusy(
                "an index refresh is already running"
                + (f" (process {holder})" if holder else "")
                + "; try again when it ends"
            ) from None
        # Record the holder for the message above; informational only.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        log.debug("refresh lock taken: %s", self.path)

    def release(self) -> None:
        """Drop the lock (safe to call twice)."""
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None
        self._release_local()

    def _release_local(self) -> None:
        if self._has_local:
            self._has_local = False
            _local_lock.release()

    def __enter__(self) -> RefreshLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
