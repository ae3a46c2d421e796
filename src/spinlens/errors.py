"""Errors a user can cause and fix. The CLI prints them in one line each, without a traceback."""

from __future__ import annotations

from pathlib import Path


class SpinlensError(Exception):
    """Base class for every error that is the input's fault, not spinlens's."""


class InputError(SpinlensError):
    """Bad input: names the file and, where there is one, the line."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.reason = message
        where = ""
        if self.path is not None:
            where = self.path + (f":{line}" if line is not None else "")
            where += ": "
        super().__init__(where + message)
