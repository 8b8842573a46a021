"""In-memory state of the emulated Discord: one application, its guilds, users, messages.

The first guild exists from the start (``guild_id``); :meth:`State.add_guild` adds more
(sharding tests route each guild's events to its shard).

Everything here is plain data plus the functions that turn it into Discord API payloads
(the JSON shapes discord.py parses). The HTTP routes and the gateway mutate this state;
the driver reads it.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import re
import time
from dataclasses import dataclass, field
from typing import Any

DISCORD_EPOCH_MS = 1420070400000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_APPLICATION_COMMANDS = 1 << 31
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38

EVERYONE_PERMISSIONS = (
    ADD_REACTIONS | VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES
    | READ_MESSAGE_HISTORY | USE_APPLICATION_COMMANDS | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | (1 << 34)  # + MANAGE_THREADS

# Message flags.
EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Channel types.
GUILD_TEXT = 0
PUBLIC_THREAD = 11

_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_UNSAFE_URL_CHARS = re.compile(r"[^A-Za-z0-9._-]|^\.+")


def now_iso() -> str:
    """The current time as Discord formats timestamps."""
    return dt.datetime.now(dt.UTC).isoformat()


class Snowflakes:
    """Monotonic snowflake ids (timestamp in the high bits, like Discord's)."""

    def __init__(self) -> None:
        self._counter = itertools.count()
        self._last = 0

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (ms << 22) | (next(self._counter) & 0x3FFFFF)
        # Ids must strictly increase even if the clock does not.
        self._last = max(value, self._last + 1)
        return self._last


@dataclass
class User:
    """A guild member as the emulator knows it (the bot user is one too)."""

    id: int
    name: str
    locale: str = "en-US"
    roles: list[int] = field(default_factory=list)
    bot: bool = False
    joined_at: str = field(default_factory=now_iso)

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> dict[str, Any]:
        """The Discord *user* object."""
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": self.name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class Attachment:
    """Bytes uploaded by a user or the bot, served at ``url`` by the emulator."""

    id: int
    filename: str
    data: bytes
    url: str
    content_type: str = "application/octet-stream"

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": self.url,
            "proxy_url": self.url,
            "content_type": self.content_type,
        }


def guess_content_type(filename: str) -> str:
    lower = filename.lower()
    for ext, kind in ((".md", "text/markdown; charset=utf-8"), (".txt", "text/plain; charset=utf-8"),
                      (".json", "application/json"), (".png", "image/png"), (".jpg", "image/jpeg")):
        if lower.endswith(ext):
            return kind
    return "application/octet-stream"


class State:
    """All emulated objects, with payload builders.

    ``channels`` holds both text channels and threads (a thread is a channel of type 11
    whose ``parent_id`` is a text channel), keyed by id, as Discord does.
    """

    def __init__(self, *, token: str, base_url: str = "") -> None:
        self.ids = Snowflakes()
        self.token = token
        self.base_url = base_url
        self.application_id = self.ids.next()
        self.bot = User(self.application_id, "Dari", bot=True)
        self.guild_id = self.ids.next()
        self.guild_name = "Dari Test Guild"
        # Every guild's name (the first one's is guild_name); members and the admin and
        # bot roles are shared by all guilds, each has its own @everyone role (its id).
        self.guild_names: dict[int, str] = {self.guild_id: self.guild_name}
        self.everyone = Role(self.guild_id, "@everyone", EVERYONE_PERMISSIONS, 0)
        self.admin_role = Role(self.ids.next(), "Admin", MANAGE_GUILD, 2)
        self.bot_role = Role(self.ids.next(), "Dari", BOT_PERMISSIONS, 1)
        self.roles: dict[int, Role] = {
            r.id: r for r in (self.everyone, self.admin_role, self.bot_role)
        }
        self.bot.roles = [self.bot_role.id]
        self.users: dict[int, User] = {self.bot.id: self.bot}
        self.owner_id = self.bot.id  # nobody the driver creates is owner (owner bypasses perms)
        self.channels: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, list[dict[str, Any]]] = {}
        self.attachments: dict[int, Attachment] = {}
        # Registered application commands: key None = global, else guild id.
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        for position, name in enumerate(("general", "questions", "random")):
            self.add_channel(name, position)

    # -- construction -------------------------------------------------------------------

    def add_guild(self, name: str, *, shard: tuple[int, int] | None = None) -> int:
        """A further guild with a #general channel; returns its id.

        ``shard=(shard_id, shard_count)`` picks an id that Discord routes to that shard
        (``(guild_id >> 22) % shard_count``): ids are made until one falls on it.
        """
        while True:
            gid = self.ids.next()
            if shard is None or (gid >> 22) % shard[1] == shard[0]:
                break
        self.guild_names[gid] = name
        self.roles[gid] = Role(gid, "@everyone", EVERYONE_PERMISSIONS, 0)
        self.add_channel("general", 0, guild_id=gid)
        return gid

    def guild_of(self, channel_id: int) -> int:
        """The guild a channel or thread belongs to."""
        return int(self.channels[channel_id]["guild_id"])

    def add_channel(self, name: str, position: int = 0, *, guild_id: int | None = None) -> dict[str, Any]:
        cid = self.ids.next()
        channel = {
            "id": str(cid),
            "type": GUILD_TEXT,
            "guild_id": str(guild_id or self.guild_id),
            "name": name,
            "position": position,
            "permission_overwrites": [],
            "topic": None,
            "nsfw": False,
            "parent_id": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        self.channels[cid] = channel
        self.messages[cid] = []
        return channel

    def channel_by_name(self, name: str, guild_id: int | None = None) -> int:
        for cid, channel in self.channels.items():
            if channel.get("name") == name.lstrip("#") and \
                    int(channel["guild_id"]) == (guild_id or self.guild_id):
                return cid
        raise KeyError(f"no channel named {name!r}; have {[c['name'] for c in self.channels.values()]}")

    def add_role(self, name: str, permissions: int = 0) -> Role:
        role = Role(self.ids.next(), name, permissions, len(self.roles))
        self.roles[role.id] = role
        return role

    def add_user(self, name: str, *, admin: bool = False, locale: str = "en-US",
                 roles: list[int] | None = None) -> User:
        user = User(self.ids.next(), name, locale=locale, roles=list(roles or []))
        if admin and self.admin_role.id not in user.roles:
            user.roles.append(self.admin_role.id)
        for rid in user.roles:
            if rid not in self.roles:
                raise KeyError(f"unknown role id {rid}")
        self.users[user.id] = user
        return user

    def add_attachment(self, channel_id: int, filename: str, data: bytes,
                       content_type: str | None = None) -> Attachment:
        aid = self.ids.next()
        # The URL carries a URL-safe version of the name (as Discord's CDN does); the
        # attachment's ``filename`` stays what the uploader sent, so the bot must cope with it.
        safe = _UNSAFE_URL_CHARS.sub("_", filename) or "file"
        url = f"{self.base_url}/attachments/{channel_id}/{aid}/{safe}"
        att = Attachment(aid, filename, bytes(data), url, content_type or guess_content_type(filename))
        self.attachments[aid] = att
        return att

    # -- payloads -----------------------------------------------------------------------

    def permissions_of(self, user: User) -> int:
        value = self.everyone.permissions
        for rid in user.roles:
            value |= self.roles[rid].permissions
        if value & ADMINISTRATOR:
            return (1 << 53) - 1
        return value

    def member_payload(self, user: User, *, with_user: bool = True,
                       with_permissions: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in user.roles],
            "joined_at": user.joined_at,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "avatar": None,
            "pending": False,
        }
        if with_user:
            data["user"] = user.payload()
        if with_permissions:
            data["permissions"] = str(self.permissions_of(user))
        return data

    def threads(self) -> list[dict[str, Any]]:
        return [c for c in self.channels.values() if c["type"] == PUBLIC_THREAD]

    def guild_roles(self, guild_id: int) -> list[Role]:
        """The guild's @everyone and the shared roles."""
        return [r for r in self.roles.values() if r.id == guild_id or r.id not in self.guild_names]

    def guild_payload(self, guild_id: int | None = None) -> dict[str, Any]:
        """Full GUILD_CREATE payload (of the first guild by default)."""
        gid = guild_id or self.guild_id
        mine = [c for c in self.channels.values() if int(c["guild_id"]) == gid]
        text = [c for c in mine if c["type"] != PUBLIC_THREAD]
        return {
            "id": str(gid),
            "name": self.guild_names[gid],
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.guild_roles(gid)],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": self.bot.joined_at,
            "large": False,
            "unavailable": False,
            "member_count": len(self.users),
            "voice_states": [],
            "members": [self.member_payload(u) for u in self.users.values()],
            "channels": copy.deepcopy(text),
            "threads": copy.deepcopy([c for c in mine if c["type"] == PUBLIC_THREAD]),
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
        }

    def message_payload(self, channel_id: int, author: User, body: dict[str, Any], *,
                        attachments: list[Attachment] | None = None,
                        extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Build a stored message from a create body (the JSON discord.py sends)."""
        content = body.get("content") or ""
        allowed = body.get("allowed_mentions")
        # Without allowed_mentions Discord parses every mention kind.
        parse = {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse", []))
        allowed_users = set() if allowed is None else {str(u) for u in allowed.get("users", [])}
        mentioned_ids = _MENTION.findall(content)
        mentions = []
        for uid in dict.fromkeys(mentioned_ids):
            user = self.users.get(int(uid))
            if user is not None and ("users" in parse or uid in allowed_users or allowed is None):
                mentions.append(user.payload())
        allowed_roles = set() if allowed is None else {str(r) for r in allowed.get("roles", [])}
        mention_roles = [rid for rid in dict.fromkeys(_ROLE_MENTION.findall(content))
                         if int(rid) in self.roles and ("roles" in parse or rid in allowed_roles)]
        mention_everyone = ("@everyone" in content or "@here" in content) and "everyone" in parse
        message: dict[str, Any] = {
            "id": str(self.ids.next()),
            "channel_id": str(channel_id),
            "guild_id": str(self.guild_of(channel_id)),
            "author": author.payload(),
            "member": self.member_payload(author, with_user=False),
            "content": content,
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": mention_everyone,
            "mentions": mentions,
            "mention_roles": mention_roles,
            "attachments": [a.payload() for a in attachments or []],
            "embeds": copy.deepcopy(body.get("embeds") or []),
            "reactions": [],
            "pinned": False,
            "type": 19 if body.get("message_reference") else 0,
            "flags": int(body.get("flags") or 0),
            "components": copy.deepcopy(body.get("components") or []),
        }
        if body.get("message_reference"):
            ref = dict(body["message_reference"])
            for key in ("message_id", "channel_id", "guild_id"):
                if ref.get(key) is not None:
                    ref[key] = str(ref[key])  # Discord answers snowflakes as strings
            ref.setdefault("channel_id", str(channel_id))
            ref.setdefault("guild_id", str(self.guild_of(channel_id)))
            message["message_reference"] = ref
            target = self.find_message(int(ref["message_id"])) if ref.get("message_id") else None
            if target is not None:
                # One level deep, like Discord's referenced_message.
                message["referenced_message"] = {k: copy.deepcopy(v) for k, v in target.items()
                                                 if k != "referenced_message"}
        if allowed is not None:
            # Not part of Discord's message object: kept so tests can see what the bot asked for.
            message["allowed_mentions"] = allowed
        if extra:
            message.update(extra)
        return message

    def find_message(self, message_id: int) -> dict[str, Any] | None:
        for messages in self.messages.values():
            for message in messages:
                if int(message["id"]) == message_id:
                    return message
        return None


def apply_edit(message: dict[str, Any], body: dict[str, Any], state: State,
               attachments: list[Attachment] | None = None) -> None:
    """Apply a PATCH body to a stored message, as Discord does (only given keys change)."""
    for key in ("content", "embeds", "components", "allowed_mentions"):
        if key in body:
            message[key] = copy.deepcopy(body[key]) if body[key] is not None else (
                "" if key == "content" else [] if key != "allowed_mentions" else None)
    if "flags" in body and body["flags"] is not None:
        # Only SUPPRESS_EMBEDS may change; keep ephemeral as it was.
        message["flags"] = (message["flags"] & EPHEMERAL) | (int(body["flags"]) & ~EPHEMERAL)
    # An edit finishes a deferred ("thinking…") response.
    message["flags"] &= ~LOADING
    if "attachments" in body or attachments:
        kept_ids = {str(a.get("id")) for a in body.get("attachments") or []}
        kept = [a for a in message["attachments"] if str(a["id"]) in kept_ids]
        message["attachments"] = kept + [a.payload() for a in attachments or []]
    if "content" in body:
        content = message.get("content") or ""
        allowed = message.get("allowed_mentions")
        parse = {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse", []))
        message["mention_everyone"] = ("@everyone" in content or "@here" in content) and "everyone" in parse
    message["edited_timestamp"] = now_iso()
