"""`rctsim trace ...`: inspect, list and synthesise traces."""

import typer

from rctsim.cli.app import app

trace_app = typer.Typer(help="Inspect, list and synthesise training traces.", no_args_is_help=True)
app.add_typer(trace_app, name="trace")
