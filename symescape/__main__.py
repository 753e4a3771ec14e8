"""``python -m symescape`` runs the command-line interface."""

from .cli import main

main(prog_name="symescape")
