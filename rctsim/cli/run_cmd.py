"""`rctsim run` command (being written)."""
