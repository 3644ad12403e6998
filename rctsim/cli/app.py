"""The root typer application that command modules attach to."""

from pathlib import Path

import typer

from rctsim.atomic import check_writable
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


def check_outputs(outputs: list[tuple[Path | None, str]],
                  inputs: tuple[str | Path | None, ...] = ()) -> None:
    """Refuse, before any work starts, outputs that cannot be written, that would overwrite an
    input, or that name the same file twice (`-`, standard output, at most once)."""
    protected = {Path(p).resolve(): "an input" for p in inputs if p and Path(p).is_file()}
    to_stdout = [flag for path, flag in outputs if path is not None and str(path) == "-"]
    if len(to_stdout) > 1:
        raise InputError("command line", " and ".join(to_stdout),
                         "more than one output goes to standard output (-)",
                         "at most one output to -, the others to files")
    for path, flag in outputs:
        if path is None or str(path) == "-":
            continue
        try:
            check_writable(path)
        except InputError as err:
            raise InputError(err.source, flag, err.problem, err.allowed) from None
        key = Path(path).resolve()
        if key in protected:
            raise InputError(str(path), flag, f"would overwrite {protected[key]}",
                             "a different output path")
        protected[key] = f"the output of {flag}"
