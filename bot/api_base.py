"""Point discord.py at a Discord-compatible server (the emulator) instead of discord.com.

discord.py builds every REST URL (bot routes and interaction webhooks alike) from
``discord.http.Route.BASE`` and, for a non-sharded client, opens the gateway at
``DiscordWebSocket.DEFAULT_GATEWAY`` (it appends ``?v=10&encoding=json&compress=zlib-stream``
itself; after READY it reconnects to the ``resume_gateway_url`` the server sent).
This is configuration of where the client connects, like a proxy setting — the client
code paths are the real ones.
"""

from __future__ import annotations

import logging

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

log = logging.getLogger(__name__)

DISCORD_API_BASE = "https://discord.com/api/v10"
DISCORD_GATEWAY = "wss://gateway.discord.gg/"


def gateway_for(api_base: str) -> str:
    """The emulator's gateway URL for an API base: ``http://H:P/api/v10`` → ``ws://H:P/gateway``."""
    url = yarl.URL(api_base)
    scheme = "wss" if url.scheme == "https" else "ws"
    return str(url.with_scheme(scheme).with_path("/gateway").with_query(None))


def use_api_base(api_base: str, gateway_url: str | None = None) -> None:
    """Make every discord.py client in this process talk to ``api_base``.

    ``gateway_url`` defaults to :func:`gateway_for` ``(api_base)``. Process-wide, like the
    library's own ``Route.BASE``; call :func:`reset_api_base` to go back to discord.com.
    """
    api_base = api_base.rstrip("/")
    if not api_base.startswith(("http://", "https://")):
        raise ValueError(f"api_base must be an http(s) URL, got {api_base!r}")
    gateway = gateway_url or gateway_for(api_base)
    Route.BASE = api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
    log.info("discord.py now uses API %s and gateway %s", api_base, gateway)


def reset_api_base() -> None:
    """Back to the real Discord endpoints."""
    Route.BASE = DISCORD_API_BASE
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(DISCORD_GATEWAY)
