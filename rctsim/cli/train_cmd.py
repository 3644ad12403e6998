"""`rctsim train` command (being written)."""
