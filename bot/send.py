"""Sending rendered pages: to an interaction (after defer) or to a channel/thread.

Every call passes ``allowed_mentions=none`` explicitly: the bot-wide default covers
channel messages, but interaction followups and edits go through webhook code paths
where an explicit value is the only way to be sure the payload carries it.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.format import Page

NO_MENTIONS = discord.AllowedMentions.none()


async def defer(interaction: discord.Interaction, *, ephemeral: bool) -> None:
    """Acknowledge at once (the "thinking…" state) and remember how, for the error handler."""
    await interaction.response.defer(thinking=True, ephemeral=ephemeral)
    interaction.extras["deferred_public"] = not ephemeral


async def send_pages(
    interaction: discord.Interaction, pages: list[Page], *, ephemeral: bool = False,
    view: discord.ui.View | None = None, files: list[discord.File] | None = None,
) -> None:
    """Send ``pages`` as followups of a deferred interaction (the first replaces "thinking…").

    ``view`` (buttons) and ``files`` go on the last page, under the whole answer.
    """
    for i, page in enumerate(pages):
        last = i == len(pages) - 1
        kwargs: dict[str, Any] = {"ephemeral": ephemeral, "allowed_mentions": NO_MENTIONS}
        if page.content:
            kwargs["content"] = page.content
        if page.embeds:
            kwargs["embeds"] = page.embeds
        if last and view is not None:
            kwargs["view"] = view
        if last and files:
            kwargs["files"] = files
        await interaction.followup.send(**kwargs)
        interaction.extras["replied"] = True


async def edit_text(interaction: discord.Interaction, text: str) -> None:
    """Replace the deferred reply's text (progress updates)."""
    await interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)
    interaction.extras["replied"] = True


async def send_to_channel(channel: discord.abc.Messageable, pages: list[Page], *,
                          view: discord.ui.View | None = None) -> list[discord.Message]:
    """Send ``pages`` to a channel or thread, one message each; ``view`` under the last."""
    sent = []
    for i, page in enumerate(pages):
        if view is not None and i == len(pages) - 1:
            message = await channel.send(content=page.content, embeds=page.embeds, view=view,
                                         allowed_mentions=NO_MENTIONS)
        else:
            message = await channel.send(content=page.content, embeds=page.embeds,
                                         allowed_mentions=NO_MENTIONS)
        sent.append(message)
    return sent
