"""`rctsim hw ...`: list, show, validate hardware descriptions; print their JSON Schema."""

import typer

from rctsim.cli.app import app

hw_app = typer.Typer(help="Hardware descriptions: list, show, validate, schema.", no_args_is_help=True)
app.add_typer(hw_app, name="hw")
