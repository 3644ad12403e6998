"""The root typer application that command modules attach to."""

from pathlib import Path

import typer

from rctsim.errors import InputError

app = typer.Typer(
    name="rctsim",
    help="What on-device training costs under RCT, QAT and fp32 on a given accelerator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def check_out_path(path: Path | None, flag: str) -> None:
    """Refuse an output path whose folder does not exist, before any work starts."""
    if path is not None and not path.parent.exists():
        raise InputError(str(path), flag, "the folder does not exist",
                         "a path in an existing folder")
