"""Run one CPU-bound call in a short-lived separate process, awaitable from the event loop.

A thread is not enough for CPU-bound Python: it holds the interpreter lock for long
stretches (a regular expression over megabytes is one C call) and the bot's event loop,
which answers the gateway and interactions, waits. The bot uses this for the validation of
an uploaded file (parsing up to ``[discord].max_upload_kb`` of text). Refreshes have their
own process protocol (``bot.refresher``).
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


async def in_process(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a fresh process (spawned: no state shared with the bot).

    ``fn``, its arguments, its result and any exception it raises must be picklable.
    Costs a fraction of a second to start the process; the event loop never blocks.
    """
    loop = asyncio.get_running_loop()
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        return await loop.run_in_executor(pool, functools.partial(fn, *args, **kwargs))
    finally:
        # Not wait=True: joining the worker would block the event loop for a moment.
        pool.shutdown(wait=False, cancel_futures=True)
