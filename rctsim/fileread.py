"""Bounded reads of user files: regular files only, under a size limit, one-line errors.

A device (`/dev/zero`), a terminal or pipe (`/dev/stdin`) or a FIFO given as an input would be
read forever or block; a huge file would be read whole into memory. Every reader of a user file
goes through `read_bytes_limited` (or `is_regular_file` to probe a name), so these are refused in
one line before a byte is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rctsim.errors import InputError

MAX_CONFIG_BYTES = 4 * 2**20
"""Largest YAML or JSON configuration file read (sweep configs, hardware, energy tables, run
JSON): 4 MiB, about a hundred times the largest bundled one."""

MAX_TRACE_BYTES = 16 * 2**30
"""Largest trace file read (16 GiB: the bitwidth table of a long run toggling every iteration
is a few hundred MB)."""

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def is_regular_file(path: str | Path) -> bool:
    """Whether `path` names a regular file (never raises: a too-long name is just False)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def read_bytes_limited(path: str | Path, *, limit: int, field: str = "(file)",
                       allowed: str = "a regular file") -> bytes:
    """The bytes of the regular file `path`, refused (InputError) when it is not a regular file,
    cannot be opened, or is larger than `limit` bytes."""
    source = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError(source, field, "no such file", allowed) from None
    except (OSError, ValueError) as err:
        raise InputError(source, field, f"cannot be opened: {_reason(err)}", allowed) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(source, field, f"is {_kind(info.st_mode)}, not a regular file",
                             allowed)
        if info.st_size > limit:
            raise InputError(source, field, f"is {info.st_size:,} bytes",
                             f"{allowed} of at most {limit:,} bytes")
        chunks, size = [], 0
        while True:  # usually one read; never past the limit (a file still growing)
            chunk = os.read(fd, min(max(info.st_size + 1 - size, 1 << 16), limit + 1 - size,
                                    1 << 30))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise InputError(source, field, f"is over {limit:,} bytes",
                                 f"{allowed} of at most {limit:,} bytes")
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except OSError as err:
        raise InputError(source, field, f"cannot be read: {_reason(err)}", allowed) from None
    finally:
        os.close(fd)


def read_text_limited(path: str | Path, *, limit: int = MAX_CONFIG_BYTES, field: str = "(file)",
                      allowed: str = "a regular UTF-8 text file") -> str:
    """`read_bytes_limited` decoded as UTF-8 (InputError naming the byte offset otherwise)."""
    data = read_bytes_limited(path, limit=limit, field=field, allowed=allowed)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(str(path), f"byte {err.start}", "not valid UTF-8", allowed) from None


def _reason(err: BaseException) -> str:
    return getattr(err, "strerror", None) or str(err)
