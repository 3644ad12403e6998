"""`rctsim synth` command (being written)."""
