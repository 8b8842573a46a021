"""REST routes for channels, messages and threads (the bot's own messages)."""

from __future__ import annotations

import copy
import time
from typing import Any

from aiohttp import web

from emulator import limits
from emulator.api import ApiError, invalid_form, json_response
from emulator.base import EmulatorBase
from emulator.state import EPHEMERAL, PUBLIC_THREAD, Attachment, apply_edit

HAS_THREAD = 1 << 5


class MessageRoutes(EmulatorBase):
    """Channel, message and thread routes; mixed into :class:`emulator.server.DiscordEmulator`."""


    def _channel(self, request: web.Request) -> int:
        try:
            cid = int(request.match_info["channel_id"])
        except ValueError:
            raise ApiError(404, 10003, "Unknown Channel") from None
        if cid not in self.state.channels:
            raise ApiError(404, 10003, "Unknown Channel")
        return cid

    def _message(self, cid: int, request: web.Request) -> dict[str, Any]:
        mid = request.match_info["message_id"]
        for message in self.state.messages.get(cid, []):
            if message["id"] == mid:
                return message
        raise ApiError(404, 10008, "Unknown Message")

    def _save_files(self, cid: int, files: list[tuple[str, bytes]]) -> list[Attachment]:
        return [self.state.add_attachment(cid, name, data) for name, data in files]

    async def _create_bot_message(self, cid: int, body: dict[str, Any], files: list[tuple[str, bytes]],
                                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Validate, store and dispatch a message the bot sends (non-ephemeral)."""
        errors = limits.message_errors(body, has_files=bool(files))
        if errors:
            raise invalid_form(errors)
        message = self.state.message_payload(cid, self.state.bot, body,
                                             attachments=self._save_files(cid, files), extra=extra)
        await self._store_and_dispatch(message)
        return message

    async def _store_and_dispatch(self, message: dict[str, Any]) -> None:
        cid = int(message["channel_id"])
        ephemeral = bool(message["flags"] & EPHEMERAL)
        if not ephemeral:
            self.state.messages.setdefault(cid, []).append(message)
            channel = self.state.channels[cid]
            channel["last_message_id"] = message["id"]
            if channel["type"] == PUBLIC_THREAD:
                channel["message_count"] = channel.get("message_count", 0) + 1
                channel["total_message_sent"] = channel.get("total_message_sent", 0) + 1
        self._log_message("create", message)
        if not ephemeral:
            await self.gateway.dispatch("MESSAGE_CREATE", copy.deepcopy(message))

    async def _update_and_dispatch(self, message: dict[str, Any]) -> None:
        self._log_message("update", message)
        if not message["flags"] & EPHEMERAL:
            await self.gateway.dispatch("MESSAGE_UPDATE", copy.deepcopy(message))

    async def _get_channel(self, request: web.Request) -> web.Response:
        return json_response(self.state.channels[self._channel(request)])

    async def _get_messages(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        try:
            limit = min(int(request.query.get("limit", 50)), 100)
            before = int(request.query.get("before", 1 << 63))
            after = int(request.query.get("after", 0))
        except ValueError:
            raise invalid_form(["limit, before and after must be integers"]) from None
        messages = [m for m in self.state.messages[cid] if after < int(m["id"]) < before]
        if "after" in request.query:
            # Discord returns the oldest ones after ``after``, newest first.
            return json_response(list(reversed(messages[:limit])))
        return json_response(list(reversed(messages))[:limit])

    async def _get_message(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        return json_response(self._message(cid, request))

    async def _post_message(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        body, files = await self._body(request)
        if not isinstance(body, dict):
            raise invalid_form(["body must be an object"])
        ref = body.get("message_reference")
        if (ref and ref.get("fail_if_not_exists", True)
                and self.state.find_message(int(ref["message_id"])) is None):
            raise invalid_form(["message_reference: Unknown message"])
        message = await self._create_bot_message(cid, body, files)
        return json_response(message)

    async def _edit_message(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        message = self._message(cid, request)
        if int(message["author"]["id"]) != self.state.bot.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        body, files = await self._body(request)
        if not isinstance(body, dict):
            raise invalid_form(["body must be an object"])
        await self._apply_bot_edit(message, body, files)
        return json_response(message)

    async def _apply_bot_edit(self, message: dict[str, Any], body: dict[str, Any],
                              files: list[tuple[str, bytes]]) -> None:
        candidate = copy.deepcopy(message)
        apply_edit(candidate, body, self.state)
        errors = limits.message_errors(candidate, has_files=bool(files or candidate["attachments"]))
        if errors:
            raise invalid_form(errors)
        apply_edit(message, body, self.state, self._save_files(int(message["channel_id"]), files))
        await self._update_and_dispatch(message)

    async def _delete_message(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        message = self._message(cid, request)
        await self._remove_message(message)
        return web.Response(status=204)

    async def _remove_message(self, message: dict[str, Any]) -> None:
        cid = int(message["channel_id"])
        msgs = self.state.messages.get(cid, [])
        if message in msgs:
            msgs.remove(message)
        self._log_message("delete", message)
        if not message["flags"] & EPHEMERAL:
            await self.gateway.dispatch("MESSAGE_DELETE", {
                "id": message["id"], "channel_id": message["channel_id"],
                "guild_id": message["guild_id"]})

    async def _add_reaction(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        message = self._message(cid, request)
        emoji = request.match_info["emoji"]
        if not any(r["emoji"]["name"] == emoji for r in message["reactions"]):
            message["reactions"].append({"count": 1, "me": True, "emoji": {"id": None, "name": emoji}})
        self._log_message("update", message)
        return web.Response(status=204)

    async def _remove_reaction(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        message = self._message(cid, request)
        emoji = request.match_info["emoji"]
        message["reactions"] = [r for r in message["reactions"] if r["emoji"]["name"] != emoji]
        self._log_message("update", message)
        return web.Response(status=204)

    def _thread_payload(self, tid: int, parent: int, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body.get("name") or "")
        if not 1 <= len(name) <= 100:
            raise invalid_form([f"name: thread name must be 1-100 characters (got {len(name)})"])
        return {
            "id": str(tid),
            "type": PUBLIC_THREAD,
            "guild_id": str(self.state.guild_of(parent)),
            "parent_id": str(parent),
            "owner_id": str(self.state.bot.id),
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": int(body.get("rate_limit_per_user") or 0),
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": int(body.get("auto_archive_duration") or 1440),
                "archive_timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                "locked": False,
                "invitable": bool(body.get("invitable", True)),
            },
        }

    async def _open_thread(self, thread: dict[str, Any]) -> None:
        tid = int(thread["id"])
        self.state.channels[tid] = thread
        self.state.messages.setdefault(tid, [])
        await self.gateway.dispatch("THREAD_CREATE", copy.deepcopy(thread) | {"newly_created": True})
        self._notify()

    async def _thread_from_message(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        if self.state.channels[cid]["type"] == PUBLIC_THREAD:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        message = self._message(cid, request)
        if "thread" in message:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        body, _ = await self._body(request)
        # Discord gives a thread started from a message the message's id.
        if not isinstance(body, dict):
            raise invalid_form(["body must be an object"])
        thread = self._thread_payload(int(message["id"]), cid, body)
        await self._open_thread(thread)
        message["thread"] = copy.deepcopy(thread)
        message["flags"] |= HAS_THREAD
        await self._update_and_dispatch(message)
        return json_response(thread, status=201)

    async def _thread_without_message(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        body, _ = await self._body(request)
        if not isinstance(body, dict):
            raise invalid_form(["body must be an object"])
        thread = self._thread_payload(self.state.ids.next(), cid, body)
        await self._open_thread(thread)
        return json_response(thread, status=201)
