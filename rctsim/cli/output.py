"""Where command output goes: files or standard output (`-`), terminal or pipe.

Every output option of every command takes `-` for standard output. `--json` means the same in
every command: write the command's JSON to the file that follows, or to standard output when the
file is `-` or left out (`rctsim gemm 64 64 64 --json`). Off a terminal, tables print whole
(no column is squeezed to the 80 columns rich assumes for a pipe).
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from rctsim.atomic import STDOUT, write_atomic

PIPE_WIDTH = 1000
"""Console width off a terminal: wide enough that no table column is cut."""
FORMATS = ("table", "json", "csv")
"""Values of `--format`."""


def is_stdout(path: str | Path | None) -> bool:
    """Whether an output option names standard output."""
    return path is not None and str(path) == STDOUT


def console(*, stderr: bool = False) -> Console:
    """A rich console: the terminal's width on a terminal, wide enough for whole tables off it."""
    con = Console(stderr=stderr)
    return con if con.is_terminal else Console(stderr=stderr, width=PIPE_WIDTH)


def write_output(path: str | Path, data: str | bytes) -> None:
    """Write to standard output for `-`, else atomically to the file."""
    write_atomic(path, data)


def bare_json_flag(argv: list[str]) -> list[str]:
    """`--json` with no value (last, or followed by another option) becomes `--json -`, so the
    older flag spelling (`rctsim gemm 64 64 64 --json`) keeps printing JSON to stdout."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        out.append(arg)
        if arg == "--json":
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if nxt is None or (nxt.startswith("-") and nxt != STDOUT):
                out.append(STDOUT)
    return out
