"""``python -m symescape`` runs the command-line interface."""

from symescape.cli import main

main(prog_name="symescape")
