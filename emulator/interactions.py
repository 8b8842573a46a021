"""REST routes for interactions: callbacks, and the webhook follow-ups and edits."""

from __future__ import annotations

import secrets
import time
from typing import Any

from aiohttp import web

from emulator import limits
from emulator.api import ApiError, invalid_form, json_response
from emulator.base import EmulatorBase
from emulator.driver import Interaction
from emulator.state import EPHEMERAL, LOADING


class InteractionRoutes(EmulatorBase):
    """Interaction callback and webhook routes; mixed into the emulator."""


    def _interaction_for_path(self, path: str) -> Interaction | None:
        parts = path.split("/")
        if len(parts) > 3 and parts[1] == "interactions" and parts[2].isdigit():
            return self.interactions.get(int(parts[2]))
        if len(parts) > 3 and parts[1] == "webhooks":
            return next((i for i in self.interactions.values() if i.token == parts[3]), None)
        return None

    def _interaction_by_token(self, request: web.Request) -> Interaction:
        if request.match_info.get("app_id") != str(self.state.application_id):
            raise ApiError(404, 10015, "Unknown Webhook")
        token = request.match_info["token"]
        for inter in self.interactions.values():
            if secrets.compare_digest(inter.token, token):
                return inter
        raise ApiError(404, 10015, "Unknown Webhook")

    async def _callback(self, request: web.Request) -> web.Response:
        inter = self.interactions.get(int(request.match_info["interaction_id"]))
        if inter is None or not secrets.compare_digest(inter.token, request.match_info["token"]):
            raise ApiError(404, 10062, "Unknown interaction")
        body, files = await self._body(request)
        if not isinstance(body, dict) or "type" not in body:
            raise invalid_form(["type: this field is required"])
        if inter.acknowledged:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        age = time.monotonic() - inter.created
        if age > self.interaction_ack_seconds:
            raise ApiError(404, 10062, f"Unknown interaction (callback after {age:.1f}s, "
                                       f"limit {self.interaction_ack_seconds}s)")
        rtype = int(body["type"])
        data = body.get("data") or {}
        message: dict[str, Any] | None = None
        if rtype == 4:
            errors = limits.message_errors(data, has_files=bool(files))
            if errors:
                raise invalid_form(errors)
            message = self._interaction_message(inter, data, files)
            inter.original = message
            await self._store_and_dispatch(message)
        elif rtype == 5:
            loading = {"content": "", "flags": LOADING | (int(data.get("flags") or 0) & EPHEMERAL)}
            message = self._interaction_message(inter, loading, [])
            inter.original = message
            await self._store_and_dispatch(message)
        elif rtype in (6, 7):
            if inter.type != 3:
                raise ApiError(400, 40043, "Interaction callback type 6/7 is for component interactions")
            if rtype == 7:
                target = inter.target_message
                if target is None:
                    raise ApiError(404, 10008, "Unknown Message")
                await self._apply_bot_edit(target, data, files)
                message = target
        elif rtype == 8:
            if inter.type != 4:
                raise ApiError(400, 40043, "Autocomplete result for a non-autocomplete interaction")
            errors = limits.choices_errors(data.get("choices") or [])
            if errors:
                raise invalid_form(errors)
        elif rtype == 9:
            if not data.get("custom_id") or not data.get("title"):
                raise invalid_form(["modal: custom_id and title are required"])
        else:
            raise invalid_form([f"type: unsupported interaction callback type {rtype}"])
        inter._record("callback", rtype, data, files, message)
        self._notify()
        if "with_response" not in request.query:
            return web.Response(status=204)
        result: dict[str, Any] = {"interaction": {
            "id": str(inter.id), "type": inter.type,
            "response_message_loading": rtype == 5,
            "response_message_ephemeral": bool(message and message["flags"] & EPHEMERAL),
        }}
        if message is not None:
            result["interaction"]["response_message_id"] = message["id"]
            result["resource"] = {"type": rtype, "message": message}
        return json_response(result)

    def _interaction_message(self, inter: Interaction, body: dict[str, Any],
                             files: list[tuple[str, bytes]]) -> dict[str, Any]:
        meta = {"id": str(inter.id), "type": inter.type, "user": inter.user.payload(),
                "authorizing_integration_owners": {"0": str(self.state.guild_of(inter.channel_id))}}
        if inter.name:
            meta["name"] = inter.name
        return self.state.message_payload(
            inter.channel_id, self.state.bot, body, attachments=self._save_files(inter.channel_id, files),
            extra={"webhook_id": str(self.state.application_id),
                   "application_id": str(self.state.application_id),
                   "type": 20 if inter.type == 2 else 0,
                   "interaction_metadata": meta,
                   "interaction": {"id": str(inter.id), "type": inter.type, "name": inter.name or "",
                                   "user": inter.user.payload()}},
        )

    async def _followup(self, request: web.Request) -> web.Response:
        inter = self._interaction_by_token(request)
        body, files = await self._body(request)
        if not isinstance(body, dict):
            raise invalid_form(["body must be an object"])
        if not inter.acknowledged:
            raise ApiError(404, 10015, "Unknown Webhook")
        original = inter.original
        if original is not None and original["flags"] & LOADING and not original.get("deleted"):
            # After a deferral the first follow-up replaces the "thinking…" message.
            await self._apply_bot_edit(original, body, files)
            message = original
        else:
            errors = limits.message_errors(body, has_files=bool(files))
            if errors:
                raise invalid_form(errors)
            message = self._interaction_message(inter, body, files)
            await self._store_and_dispatch(message)
            inter.followups.append(message)
        inter._record("followup", None, body, files, message)
        self._notify()
        if request.query.get("wait") in ("true", "1", "True"):
            return json_response(message)
        return web.Response(status=204)

    def _webhook_message(self, inter: Interaction, request: web.Request) -> dict[str, Any]:
        mid = request.match_info["message_id"]
        if mid == "@original":
            if inter.original is not None:
                return inter.original
            if inter.target_message is not None and inter.acknowledged:
                # For a component interaction, @original is the message the component is on.
                return inter.target_message
            raise ApiError(404, 10008, "Unknown Message")
        for message in inter.followups:
            if message["id"] == mid:
                return message
        if inter.original is not None and inter.original["id"] == mid:
            return inter.original
        raise ApiError(404, 10008, "Unknown Message")

    async def _webhook_get(self, request: web.Request) -> web.Response:
        inter = self._interaction_by_token(request)
        return json_response(self._webhook_message(inter, request))

    async def _webhook_edit(self, request: web.Request) -> web.Response:
        inter = self._interaction_by_token(request)
        message = self._webhook_message(inter, request)
        body, files = await self._body(request)
        if not isinstance(body, dict):
            raise invalid_form(["body must be an object"])
        await self._apply_bot_edit(message, body, files)
        kind = "edit" if message is inter.original or message is inter.target_message else "followup_edit"
        inter._record(kind, None, body, files, message)
        self._notify()
        return json_response(message)

    async def _webhook_delete(self, request: web.Request) -> web.Response:
        inter = self._interaction_by_token(request)
        message = self._webhook_message(inter, request)
        await self._remove_message(message)
        message["deleted"] = True
        inter._record("delete", None, {}, [], message)
        self._notify()
        return web.Response(status=204)
