"""What the emulator's REST routes share: the request log entry and Discord-style errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_PREFIX = "/api/v10"
RECORD = web.RequestKey("record", object)


@dataclass
class RecordedRequest:
    """One REST call the bot made: what tests assert on."""

    method: str
    path: str  # after the /api/v10 prefix, e.g. "/channels/1/messages"
    query: dict[str, str]
    json: Any = None
    files: list[tuple[str, bytes]] = field(default_factory=list)
    status: int = 0


class ApiError(Exception):
    """An error answered the way Discord answers it: status + JSON {code, message, errors}."""

    def __init__(self, status: int, code: int, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors or []

    def response(self) -> web.Response:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = {"_errors": [{"code": "BASE_TYPE_BAD", "message": e} for e in self.errors]}
        return json_response(body, status=self.status)


def json_response(data: Any, status: int = 200) -> web.Response:
    """JSON exactly as Discord labels it: discord.py only parses ``application/json`` verbatim."""
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return web.Response(body=body, status=status, headers={"Content-Type": "application/json"})


def invalid_form(errors: list[str]) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body: " + "; ".join(errors), errors)
