"""The catalogue of bundled traces: `workloads/traces/NAME.trace`, found by name or by path."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from rctsim.errors import MAX_NAME_CHARS, InputError, did_you_mean
from rctsim.fileread import is_regular_file
from rctsim.trace.io import read_trace
from rctsim.trace.model import Trace

TRACE_SUFFIX = ".trace"
"""File name ending of trace files."""


def bundled_trace_dir() -> Path:
    """The folder holding the bundled traces (package data of `workloads`; may not exist)."""
    return Path(str(files("workloads").joinpath("traces")))


def list_bundled_traces() -> list[str]:
    """Names of the bundled traces, sorted (empty when none are bundled)."""
    folder = bundled_trace_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name.removesuffix(TRACE_SUFFIX) for p in folder.glob(f"*{TRACE_SUFFIX}")
                  if p.is_file())


def resolve_trace(name_or_path: str | Path) -> Path:
    """An existing file path as given, else the bundled trace of that name; else InputError."""
    given = Path(name_or_path)
    if is_regular_file(given):
        return given
    if os.path.lexists(given):
        raise InputError(str(given), "trace", "is not a file (a folder or device)",
                         "a trace file or a bundled name")
    if len(str(name_or_path)) > MAX_NAME_CHARS:
        raise InputError(str(name_or_path)[:MAX_NAME_CHARS] + "...", "trace",
                         f"no such file (a name of {len(str(name_or_path)):,} characters)",
                         "an existing trace file or a bundled name")
    names = list_bundled_traces()
    name = str(name_or_path).removesuffix(TRACE_SUFFIX)
    if name in names:
        return bundled_trace_dir() / f"{name}{TRACE_SUFFIX}"
    raise InputError(str(name_or_path), "trace",
                     "no such file and no bundled trace of that name" + did_you_mean(name, names),
                     f"an existing trace file or a bundled name: {', '.join(names) or '(none)'}")


def load_trace(name_or_path: str | Path) -> Trace:
    """Read the trace at a path or the bundled trace of that name."""
    return read_trace(resolve_trace(name_or_path))
