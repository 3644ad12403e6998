"""`python -m rctsim` runs the command line."""

from rctsim.cli import main

main()
