"""The ``emotag`` command line (typer)."""
