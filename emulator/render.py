"""Render a Discord message payload as terminal text (the sandbox's view of a reply)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EPHEMERAL = 1 << 6
LOADING = 1 << 7
BAR = "│ "


def _embed_lines(embed: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    author = (embed.get("author") or {}).get("name")
    if author:
        lines.append(author)
    title = embed.get("title")
    if title:
        url = embed.get("url")
        lines.append(f"**{title}**" + (f" <{url}>" if url else ""))
    elif embed.get("url"):
        lines.append(f"<{embed['url']}>")
    if embed.get("description"):
        lines.extend(str(embed["description"]).splitlines() or [""])
    for fld in embed.get("fields") or []:
        value = str(fld.get("value", ""))
        if fld.get("inline") and "\n" not in value:
            lines.append(f"{fld.get('name', '')}: {value}")  # short side-by-side facts
            continue
        lines.append(f"{fld.get('name', '')}:")
        lines.extend("  " + line for line in value.splitlines())
    footer = (embed.get("footer") or {}).get("text")
    if footer:
        lines.append(f"— {footer}")
    return [BAR + line if line else BAR.rstrip() for line in lines]


def button_label(component: dict[str, Any]) -> str:
    """What a component shows: its label, else its emoji, else its custom id."""
    emoji = (component.get("emoji") or {}).get("name")
    label = component.get("label")
    if label and emoji:
        return f"{emoji} {label}"
    return str(label or emoji or component.get("custom_id") or "?")


def render_message(payload: dict[str, Any], *, thread_name: str | None = None,
                   author: bool = False, numbers: Mapping[str, int] | None = None) -> str:
    """Text for one message: content, embeds (title, url, description, fields, footer),
    attachments, components, an ephemeral marker and the thread it was posted in.

    ``author`` prefixes the author's name; ``numbers`` (custom id → number) shows buttons
    as ``[1 Full paragraph]`` so a person can click them by number. A deferred response
    that was never finished shows as "thinking…".
    """
    flags = int(payload.get("flags") or 0)
    head: list[str] = []
    if author:
        head.append(str((payload.get("author") or {}).get("username", "?")) + ":")
    if thread_name:
        head.append(f"[thread: {thread_name}]")
    if flags & EPHEMERAL:
        head.append("(only you can see this)")
    lines: list[str] = [" ".join(head)] if head else []
    if flags & LOADING:
        lines.append("… is thinking")
    content = payload.get("content") or ""
    if content:
        lines.extend(content.splitlines())
    for embed in payload.get("embeds") or []:
        lines.extend(_embed_lines(embed))
    for att in payload.get("attachments") or []:
        lines.append(f"[attachment: {att.get('filename')} ({att.get('size', '?')} bytes)]")
    for row in payload.get("components") or []:
        labels = []
        for comp in row.get("components") or []:
            number = (numbers or {}).get(str(comp.get("custom_id")))
            label = button_label(comp)
            labels.append(f"[{number} {label}]" if number is not None else f"[{label}]")
        if labels:
            lines.append(" ".join(labels))
    return "\n".join(lines)
