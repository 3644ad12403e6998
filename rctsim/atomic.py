"""Atomic file writes: a reader sees the old file or the whole new one, never a part."""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from pathlib import Path

from rctsim.errors import InputError

ALLOWED = "a writable regular-file path in an existing folder, or - for standard output"
STDOUT = "-"
"""The output path that means standard output."""


def check_writable(target: str | Path) -> Path:
    """Refuse, as an InputError, a target that is not a regular file or whose folder is missing
    or not writable; return it as a Path."""
    path = Path(target)
    if str(target) == "" or path.is_dir() or (path.exists() and not path.is_file()):
        raise InputError(str(target), "path", "is not a regular file", ALLOWED)
    folder = path.parent
    if not folder.is_dir():
        raise InputError(str(target), "path", "the folder does not exist", ALLOWED)
    if not os.access(folder, os.W_OK):
        raise InputError(str(target), "path", "the folder is not writable", ALLOWED)
    return path


def write_atomic(target: str | Path, data: bytes | str) -> None:
    """Write to a temporary file beside `target`, fsync it, then rename it over `target`.

    On any failure (interrupts included) the temporary file is removed and `target` is left as
    it was: a reader never sees a half-written file. A target that is not a regular file (a
    device, a folder) is refused; OS errors become one InputError line naming the file.
    The target `-` is standard output (every output option of the command line takes it).
    """
    if str(target) == STDOUT:
        _write_stdout(data)
        return
    if isinstance(data, str):
        data = data.encode("utf-8")
    target = check_writable(target)
    try:
        _write(target, data)
    except OSError as err:
        raise InputError(str(target), "path", f"cannot write: {err.strerror or err}",
                         ALLOWED) from None


def _write_stdout(data: bytes | str) -> None:
    """Text ends with a newline on a terminal's behalf; bytes (a trace) go out as they are."""
    if isinstance(data, str):
        data = (data if data.endswith("\n") or not data else data + "\n").encode("utf-8")
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _write(target: Path, data: bytes) -> None:
    fd, tmp = _create_temp(target)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_folder(target.parent)


def _create_temp(target: Path) -> tuple[int, Path]:
    """Create a fresh hidden temporary file in target's folder (mode 0o666 minus the umask)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable where the platform allows syncing a folder (POSIX)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
