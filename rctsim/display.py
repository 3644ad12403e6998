"""User-supplied text made safe for the terminal: no markup interpreted, long text cut.

Names and strings from traces, hardware files and sweep configs reach rich consoles, which read
`[...]` as markup (a name containing `[/]` raised a MarkupError after the simulation had
finished) and lay out every character (a 50 KB name took tens of seconds). `shown` escapes and
cuts them; every command prints user text through it.
"""

from __future__ import annotations

from rich.markup import escape

MAX_SHOWN_CHARS = 120
"""Most characters of one user-supplied string shown in a terminal table or line."""


def cut(text: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """`str(text)` on one line, cut to `limit` characters with `…` (no escaping)."""
    text = " ".join(str(text).split()) if len(str(text)) < 100 * limit else \
        " ".join(str(text)[:2 * limit].split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def shown(text: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """`text` cut to `limit` characters and escaped for rich markup."""
    return escape(cut(text, limit))
