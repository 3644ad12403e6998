"""Errors for bad input: one clear line naming the file, the field and what is allowed."""

from __future__ import annotations

import difflib

MAX_NAME_CHARS = 256
"""Longest name (model, layer, hardware, sweep, axis, trace reference) the formats accept."""

MAX_TEXT_CHARS = 4096
"""Longest free-text string (notes, sources, descriptions) the formats accept."""

MAX_PART_CHARS = 400
"""Longest part (file, field, problem, allowed) of an error line; longer ones are cut."""


def clip(text: str, limit: int = MAX_PART_CHARS) -> str:
    """`text` on one line, cut to `limit` characters (with `...` and the full length)."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def did_you_mean(word: str, choices: list[str]) -> str:
    """` (did you mean 'rows'?)` for the closest known choice (difflib), else an empty string."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class InputError(Exception):
    """Bad user input. The CLI prints `str(err)` as one line and exits with status 2."""

    def __init__(self, source: str, field: str, problem: str, allowed: str | None = None):
        self.source = str(source)
        self.field = field
        self.problem = problem
        self.allowed = allowed
        super().__init__(self.message())

    def message(self) -> str:
        """The single line shown to the user."""
        text = f"{clip(self.source)}: {clip(self.field)}: {clip(self.problem)}"
        if self.allowed:
            text += f" (allowed: {clip(self.allowed)})"
        return " ".join(text.split())


class RunFailure(Exception):
    """A run that could not finish for a reason other than its input (workers lost, a cluster
    gone). The CLI prints `str(err)` as one line and exits with status 3."""

    def __init__(self, what: str, problem: str, hint: str | None = None):
        self.what = what
        self.problem = problem
        self.hint = hint
        super().__init__(self.message())

    def message(self) -> str:
        """The single line shown to the user."""
        text = f"{clip(self.what)}: {clip(self.problem)}"
        if self.hint:
            text += f" ({clip(self.hint)})"
        return " ".join(text.split())
