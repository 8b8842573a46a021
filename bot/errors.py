"""Errors the bot turns into a short user-facing message (in the user's language)."""

from __future__ import annotations

from typing import Any

from discord import app_commands


class UserFacingError(app_commands.AppCommandError):
    """A refusal or bad input: the user gets the message ``key`` (see ``bot.i18n``), no traceback.

    ``log_level`` lets refusals that matter (a non-admin trying an admin command) be logged.
    """

    def __init__(self, key: str, *, log_as_warning: bool = False, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values
        self.log_as_warning = log_as_warning
