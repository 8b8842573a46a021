"""What the emulator's parts share: the state, the gateway and the methods one part calls
on another. :class:`emulator.server.DiscordEmulator` combines the parts (message routes,
interaction routes, the driver) and provides all of it; each part subclasses this so the
type checker knows what ``self`` has.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - cycles: these modules build on this one
    from aiohttp import web

    from emulator.driver import Interaction
    from emulator.gateway import Gateway
    from emulator.state import Attachment, State


class EmulatorBase:
    """Attributes and cross-part methods of the emulator (declarations only)."""

    state: State
    gateway: Gateway
    interactions: dict[int, Interaction]
    interaction_ack_seconds: float
    message_events: list[tuple[str, dict[str, Any]]]
    _changed: asyncio.Event

    if TYPE_CHECKING:  # pragma: no cover - implemented by the parts, found first in the MRO
        def _notify(self) -> None: ...

        async def _body(self, request: web.Request
                        ) -> tuple[dict[str, Any] | list[Any], list[tuple[str, bytes]]]: ...

        def _save_files(self, cid: int, files: list[tuple[str, bytes]]) -> list[Attachment]: ...

        async def _store_and_dispatch(self, message: dict[str, Any]) -> None: ...

        async def _apply_bot_edit(self, message: dict[str, Any], body: dict[str, Any],
                                  files: list[tuple[str, bytes]]) -> None: ...

        async def _remove_message(self, message: dict[str, Any]) -> None: ...

        def _log_message(self, kind: str, message: dict[str, Any]) -> None: ...

        async def wait_until(self, predicate: Callable[[], Any], timeout: float,
                             what: str | Callable[[], str] = "a condition") -> Any: ...
