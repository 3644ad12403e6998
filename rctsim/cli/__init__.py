"""The `rctsim` command line: thin typer commands over the library.

Each command group lives in its own module and registers itself on `app`.
Bad input (`InputError`) prints one line on stderr and exits with status 2; a run that could not
finish (`RunFailure`: workers lost) one line and status 3.
"""

from __future__ import annotations

import sys
import warnings

from hwmodels.legacy import HardwareFormatWarning
from rctsim.cli import (  # noqa: F401  (registers)
    hw_cmd,
    import_cmd,
    report_cmd,
    run_cmd,
    sensitivity_cmd,
    sweep_cmd,
    synth_cmd,
    trace_cmd,
    train_cmd,
)
from rctsim.cli.app import app
from rctsim.cli.output import bare_json_flag
from rctsim.errors import InputError, RunFailure, clip


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: exit 0, or 2 with one error line for bad input."""
    argv = bare_json_flag(sys.argv[1:] if argv is None else list(argv))
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _note_hardware_format(warnings.showwarning)
            code = app(args=argv, standalone_mode=False, prog_name="rctsim")
    except InputError as err:
        _fail(str(err), 2)
    except RunFailure as err:
        _fail(str(err), 3)
    except OSError as err:  # a path the OS refuses (too long, no permission) named by the user
        if err.filename is None:
            raise
        _fail(f"{clip(str(err.filename))}: path: {err.strerror or err}", 2)
    except Exception as err:  # the command-line parser's own errors (bad option values, ...)
        if not (hasattr(err, "format_message") and hasattr(err, "exit_code")):
            raise
        if not err.format_message():  # a group called without a command: help was printed
            raise SystemExit(0) from None
        _fail(f"command line: {err.format_message()} (see --help)", err.exit_code or 2)
    raise SystemExit(code if isinstance(code, int) else 0)


def _note_hardware_format(show):
    """A `warnings.showwarning` that prints a version-1 hardware file's conversion as one
    `rctsim: note:` line (once per message) and passes other warnings on to `show`."""
    seen: set[str] = set()

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, HardwareFormatWarning):
            return show(message, category, filename, lineno, file, line)
        if str(message) not in seen:
            seen.add(str(message))
            print(f"rctsim: note: {message}", file=sys.stderr)
        return None

    return showwarning


def _fail(message: str, code: int) -> None:
    print("rctsim: error: " + " ".join(message.split()), file=sys.stderr)
    raise SystemExit(code) from None
