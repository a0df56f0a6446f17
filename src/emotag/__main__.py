"""``python -m emotag``: the same command line as ``emotag``."""

from .cli.app import main

main()
