"""Slack's message text conventions, in one place for the Slack channel and the Slack inbox:
escaping (Slack reads <...> as mentions and links, so echoed text must not ping anyone), its
undoing, clipping to Block Kit limits, and which message subtypes are a person writing."""

from __future__ import annotations

# A person writing to us; edits, deletions, joins, bot posts... are not.
HUMAN_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "me_message"})


def escape(text: str) -> str:
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    # Slack escapes these three in message text; mentions and links keep real angle brackets.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
