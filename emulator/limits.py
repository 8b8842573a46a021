"""Discord's message size limits, enforced like the real API (HTTP 400, code 50035).

A bot that sends too much text gets the same error it would get from Discord, so the
tests catch it instead of production.
"""

from __future__ import annotations

from typing import Any

CONTENT_MAX = 2000
EMBEDS_MAX = 10
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
CHOICES_MAX = 25
CHOICE_NAME_MAX = 100


def _embed_errors(i: int, embed: dict[str, Any]) -> tuple[list[str], int]:
    errors: list[str] = []
    total = 0

    def check(path: str, value: Any, limit: int) -> None:
        nonlocal total
        if value is None:
            return
        text = str(value)
        total += len(text)
        if len(text) > limit:
            errors.append(f"embeds.{i}.{path}: must be {limit} or fewer in length (got {len(text)})")

    check("title", embed.get("title"), TITLE_MAX)
    check("description", embed.get("description"), DESCRIPTION_MAX)
    check("footer.text", (embed.get("footer") or {}).get("text"), FOOTER_MAX)
    check("author.name", (embed.get("author") or {}).get("name"), AUTHOR_MAX)
    fields = embed.get("fields") or []
    if len(fields) > FIELDS_MAX:
        errors.append(f"embeds.{i}.fields: must be {FIELDS_MAX} or fewer in length (got {len(fields)})")
    for j, fld in enumerate(fields):
        if not fld.get("name") or not fld.get("value"):
            errors.append(f"embeds.{i}.fields.{j}: name and value are required and must not be empty")
        check(f"fields.{j}.name", fld.get("name"), FIELD_NAME_MAX)
        check(f"fields.{j}.value", fld.get("value"), FIELD_VALUE_MAX)
    return errors, total


def message_errors(body: dict[str, Any], *, has_files: bool = False,
                   require_something: bool = True) -> list[str]:
    """Every limit the message body breaks; empty when Discord would accept it."""
    errors: list[str] = []
    content = body.get("content")
    if content is not None and len(str(content)) > CONTENT_MAX:
        errors.append(f"content: must be {CONTENT_MAX} or fewer in length (got {len(str(content))})")
    embeds = body.get("embeds") or []
    if len(embeds) > EMBEDS_MAX:
        errors.append(f"embeds: must be {EMBEDS_MAX} or fewer in length (got {len(embeds)})")
    total = 0
    for i, embed in enumerate(embeds):
        errs, size = _embed_errors(i, embed)
        errors.extend(errs)
        total += size
    if total > EMBED_TOTAL_MAX:
        errors.append(f"embeds: combined size must be {EMBED_TOTAL_MAX} or fewer (got {total})")
    if require_something and not (content or embeds or has_files or body.get("components")
                                  or body.get("sticker_ids") or body.get("poll")):
        errors.append("Cannot send an empty message")
    return errors


def choices_errors(choices: list[dict[str, Any]]) -> list[str]:
    """Limits on autocomplete results (type 8 callback)."""
    errors: list[str] = []
    if len(choices) > CHOICES_MAX:
        errors.append(f"choices: must be {CHOICES_MAX} or fewer in length (got {len(choices)})")
    for i, choice in enumerate(choices):
        name = str(choice.get("name", ""))
        if not 1 <= len(name) <= CHOICE_NAME_MAX:
            errors.append(f"choices.{i}.name: must be between 1 and {CHOICE_NAME_MAX} in length")
        value = choice.get("value")
        if isinstance(value, str) and len(value) > CHOICE_NAME_MAX:
            errors.append(f"choices.{i}.value: must be {CHOICE_NAME_MAX} or fewer in length")
    return errors
