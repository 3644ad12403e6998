"""The root typer application that command modules attach to."""

import typer

app = typer.Typer(
    name="rctsim",
    help="What on-device training costs under RCT, QAT and fp32 on a given accelerator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
