"""Index refreshes in their own process, for the bot: `dari index --events` as a child.

A refresh is long and CPU-bound (parsing, splitting, encoding). Run in a thread of the
bot, it holds the interpreter's lock and starves the event loop that answers the gateway
and interactions; in a child process it cannot. The child is the ordinary CLI
(`dari index --events --nice 10`, same config file, same corpus and data directories),
which reports progress as JSON lines on stdout; :class:`RefreshProcess` reads them on the
event loop and hands them to the caller's callbacks. The child swaps ``CURRENT`` when the
new generation is complete (see ``embeddings.refresh``); the caller then asks the service
to reload, exactly as when any other process refreshes the index.

A refresh running longer than ``[index].max_refresh_minutes`` is killed. Killing is safe
at any point (the refresh is crash-safe: the last good generation keeps serving and the
next refresh cleans up), and :class:`RefreshTimedOut` names the file it was working on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from corpus.ingest import IngestReport
from embeddings.lock import RefreshBusy
from embeddings.refresh import RefreshReport
from settings.config import Settings

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
FileNote = Callable[[str], None]

# The child's CPU priority is lowered by this much: questions are answered first.
CHILD_NICE = 10
# One JSON line can carry a large report (every article id of a big corpus).
_LINE_LIMIT = 64 * 1024 * 1024


class RefreshFailed(RuntimeError):
    """The refresh process ended without a new index: it failed, crashed or was killed."""

    def __init__(self, reason: str, file: str | None = None) -> None:
        super().__init__(reason + (f" (while working on {file})" if file else ""))
        self.reason = reason
        self.file = file


class RefreshTimedOut(RefreshFailed):
    """The refresh ran longer than ``[index].max_refresh_minutes`` and was stopped."""

    def __init__(self, minutes: float, file: str | None) -> None:
        super().__init__(f"stopped after {minutes:g} minutes ([index].max_refresh_minutes)", file)
        self.minutes = minutes


def refresh_command(settings: Settings, full: bool = False) -> list[str]:
    """The child's command line: this Python, `dari index --events`, the same settings."""
    cmd = [sys.executable, "-m", "dari", "index", "--events", "--nice", str(CHILD_NICE)]
    if full:
        cmd.append("--full")
    if settings.source is not None:
        cmd += ["--config", str(settings.source)]
    # Explicit directories: the settings may carry overrides the file does not (CLI flags).
    cmd += ["--corpus", str(settings.corpus_dir), "--data", str(settings.data_dir)]
    return cmd


def report_from_dict(data: dict[str, Any]) -> RefreshReport:
    """The child's JSON report as a :class:`RefreshReport` (its ingest as an IngestReport)."""
    names = {f.name for f in dataclasses.fields(RefreshReport)}
    values = {k: v for k, v in data.items() if k in names and k != "ingest"}
    report = RefreshReport(**values)
    ingest = data.get("ingest")
    if isinstance(ingest, dict):
        fields = {f.name for f in dataclasses.fields(IngestReport)}
        plain = {k: v for k, v in ingest.items() if k in fields}
        for key in ("skipped", "warnings"):
            plain[key] = [(item["file"], item["reason"]) if isinstance(item, dict) else tuple(item)
                          for item in plain.get(key, [])]
        report.ingest = IngestReport(**plain)
    return report


class RefreshProcess:
    """Starts refresh processes for one bot and can stop the ones it started."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._running: set[asyncio.subprocess.Process] = set()

    @property
    def running(self) -> int:
        """How many refresh processes this object started are still running."""
        return len(self._running)

    async def run(self, full: bool = False, progress: Progress | None = None,
                  on_file: FileNote | None = None) -> RefreshReport:
        """Run one refresh to its end in a child process; returns its report.

        ``progress`` and ``on_file`` are called on the event loop as the child reports.
        Raises :class:`RefreshBusy` (another refresh holds the lock), :class:`RefreshTimedOut`
        or :class:`RefreshFailed`. Cancelling the call kills the child.
        """
        minutes = self.settings.index.max_refresh_minutes
        cmd = refresh_command(self.settings, full)
        log.info("starting refresh process: %s", " ".join(cmd))
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=None,  # the child's log lines go where the bot's go
            limit=_LINE_LIMIT, start_new_session=True)
        self._running.add(proc)
        state: dict[str, Any] = {"file": None, "final": None}
        try:
            try:
                async with asyncio.timeout(minutes * 60 if minutes > 0 else None):
                    await self._read(proc, state, progress, on_file)
                    returncode = await proc.wait()
            except TimeoutError:
                log.error("refresh process %d ran over %g minutes while on %s; stopping it",
                          proc.pid, minutes, state["file"] or "(no file yet)")
                await self._kill(proc)
                raise RefreshTimedOut(minutes, state["file"]) from None
        except BaseException:
            if proc.returncode is None:  # cancelled (bot closing) or an error reading
                await self._kill(proc)
            raise
        finally:
            self._running.discard(proc)
        final = state["final"] or {}
        kind = final.get("event")
        if kind == "done" and returncode == 0:
            return report_from_dict(final.get("report") or {})
        if kind == "busy":
            raise RefreshBusy(str(final.get("message") or "an index refresh is already running"))
        if kind == "error":
            raise RefreshFailed(str(final.get("message")), state["file"])
        raise RefreshFailed(_describe_exit(returncode), state["file"])

    async def _read(self, proc: asyncio.subprocess.Process, state: dict[str, Any],
                    progress: Progress | None, on_file: FileNote | None) -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                log.info("refresh process: %s", line)  # stray output, not an event
                continue
            kind = event.get("event") if isinstance(event, dict) else None
            if kind == "progress":
                if progress is not None:
                    progress(str(event.get("stage")), int(event.get("done", 0)),
                             int(event.get("total", 0)))
            elif kind == "file":
                state["file"] = str(event.get("file"))
                if on_file is not None:
                    on_file(state["file"])
            elif kind in ("done", "busy", "error"):
                state["final"] = event

    async def _kill(self, proc: asyncio.subprocess.Process) -> None:
        """SIGKILL the child's process group (it runs in its own session) and reap it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()

    async def stop(self) -> None:
        """Kill every refresh process still running (the bot is closing)."""
        for proc in list(self._running):
            log.info("stopping refresh process %d (the bot is closing)", proc.pid)
            await self._kill(proc)


def _describe_exit(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"the refresh process was killed ({name})"
    return f"the refresh process exited with code {returncode} without a report"
