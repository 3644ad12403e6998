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


def _print_version(value: bool) -> None:
    if value:
        from rctsim import __version__

        typer.echo(f"rctsim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """What on-device training costs under RCT, QAT and fp32 on a given accelerator."""


def check_out_path(path: Path | None, flag: str) -> None:
    """Refuse an output path whose folder does not exist, before any work starts."""
    if path is not None and not path.parent.exists():
        raise InputError(str(path), flag, "the folder does not exist",
                         "a path in an existing folder")
