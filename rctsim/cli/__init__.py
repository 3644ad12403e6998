"""The `rctsim` command line: thin typer commands over the library.

Each command group lives in its own module and registers itself on `app`.
Bad input (`InputError`) prints one line on stderr and exits with status 2.
"""

from __future__ import annotations

import sys

from rctsim.cli import (  # noqa: F401  (registers)
    hw_cmd,
    report_cmd,
    run_cmd,
    sweep_cmd,
    synth_cmd,
    trace_cmd,
    train_cmd,
)
from rctsim.cli.app import app
from rctsim.errors import InputError


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        app(args=argv, standalone_mode=True)
    except InputError as err:
        print(f"rctsim: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
