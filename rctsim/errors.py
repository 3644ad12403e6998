"""Errors for bad input: one clear line naming the file, the field and what is allowed."""

from __future__ import annotations


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
        text = f"{self.source}: {self.field}: {self.problem}"
        if self.allowed:
            text += f" (allowed: {self.allowed})"
        return " ".join(text.split())
