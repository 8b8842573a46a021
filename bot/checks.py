"""Checks done in code before a command runs: admin rights, per-user cooldown, question text."""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import time
import unicodedata
from typing import Any

import discord
from discord import app_commands

from bot.errors import UserFacingError
from settings.config import DiscordConfig

log = logging.getLogger(__name__)


def is_admin(user: discord.abc.User, config: DiscordConfig) -> bool:
    """Manage Server permission, or one of the configured admin roles (guild members only)."""
    if not isinstance(user, discord.Member):
        return False
    if user.guild_permissions.manage_guild or user.guild_permissions.administrator:
        return True
    allowed = set(config.admin_role_ids)
    return any(role.id in allowed for role in user.roles)


def require_admin(interaction: discord.Interaction, config: DiscordConfig) -> None:
    """Raise (and log) when the interaction's user may not run an admin command.

    ``default_permissions`` on the command only hides it in clients; this is the real check.
    """
    if is_admin(interaction.user, config):
        return
    name = interaction.command.qualified_name if interaction.command else "?"
    log.warning(
        "refused admin command /%s for user %s (%s) in guild %s",
        name, interaction.user, interaction.user.id, interaction.guild_id,
    )
    raise UserFacingError("admin.refused")


def meaningful(text: str) -> bool:
    """Whether ``text`` has at least one letter or digit (not only spaces, emoji, punctuation)."""
    # Custom emoji like <:name:123> carry letters but no question.
    stripped = re.sub(r"<a?:\w+:\d+>", " ", text)
    return any(unicodedata.category(c)[0] in ("L", "N") for c in stripped)


# Discord's largest max_length for a string option.
OPTION_MAX_LENGTH = 6000


def declare_max_length(command: app_commands.Command[Any, ..., Any], option: str,
                       max_length: int) -> None:
    """Declare ``max_length`` on a string option, so Discord's client enforces it too.

    The limit comes from the settings, known only when the cog is built, while discord.py
    fixes option schemas at class definition; this replaces the option's parameter in the
    cog's own copy of the command (the class-level one is untouched). Call it in the cog's
    ``__init__``, before commands are synced. The check in code stays (messages, clients
    that ignore the schema).
    """
    params = command._params  # noqa: SLF001 - discord.py has no public setter for this
    limit = max(1, min(max_length, OPTION_MAX_LENGTH))
    # For string options discord.py sends max_value as max_length.
    params[option] = dataclasses.replace(params[option], max_value=limit)


def validate_question(text: str, max_chars: int) -> str:
    """The question stripped, or a :class:`UserFacingError` saying what is wrong with it."""
    question = text.strip()
    if not question or not meaningful(question):
        raise UserFacingError("question.empty")
    if len(question) > max_chars:
        raise UserFacingError("question.too_long", n=len(question), max=max_chars)
    return question


class Cooldown:
    """Per-user cooldown: one question per ``seconds`` per user (0 turns it off)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last: dict[int, float] = {}

    def hit(self, user_id: int) -> float:
        """Record a question from ``user_id``; return 0 if allowed, else seconds still to wait."""
        if self.seconds <= 0:
            return 0.0
        now = time.monotonic()
        last = self._last.get(user_id)
        if last is not None and now - last < self.seconds:
            return self.seconds - (now - last)
        self._last[user_id] = now
        # Forget old entries so the table does not grow with every user ever seen.
        if len(self._last) > 10_000:
            cutoff = now - self.seconds
            self._last = {u: ts for u, ts in self._last.items() if ts >= cutoff}
        return 0.0

    def check(self, user_id: int) -> None:
        """Raise the polite cooldown message when ``user_id`` asks too soon."""
        wait = self.hit(user_id)
        if wait > 0:
            raise UserFacingError("cooldown", s=max(1, math.ceil(wait)))
