"""Command-line interface: a thin layer over the public API.

Strings from the command line are converted to API objects here and nowhere else.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from . import __version__
from .classification import classify as classify_activation
from .constants import escape_constants
from .errors import NoLinearPathError, OutsideHypothesisError, SymescapeError
from .report import classification_latex, classification_record, classification_table


class _DomainError(click.ClickException):
    exit_code = 2

    def format_message(self) -> str:
        return self.message


def _emit_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, allow_nan=False, ensure_ascii=False))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="symescape")
def main() -> None:
    """symescape: saddle escape in deep nonlinear networks, exact where possible."""


@main.command()
@click.argument("activation_spec", metavar="ACTIVATION")
@click.option("--depth", type=int, default=None, help="Depth L: also print K and κ.")
@click.option(
    "--amplitude", type=float, default=1.0, show_default=True, help="Teacher amplitude a."
)
@click.option(
    "--order",
    type=click.IntRange(1, 64),
    default=7,
    show_default=True,
    help="Order of the printed Taylor polynomial.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--latex", "as_latex", is_flag=True, help="Print a LaTeX table.")
def classify(
    activation_spec: str,
    depth: int | None,
    amplitude: float,
    order: int,
    as_json: bool,
    as_latex: bool,
) -> None:
    """Classify ACTIVATION (a registry name or an expression such as 'x*tanh(x)')."""
    try:
        cls = classify_activation(activation_spec)
        constants, constants_error = None, None
        if depth is not None:
            try:
                constants = escape_constants(cls, depth, amplitude)
            except (NoLinearPathError, OutsideHypothesisError) as exc:
                constants_error = str(exc)
        if as_json:
            _emit_json(classification_record(cls, constants, order, constants_error))
        elif as_latex:
            click.echo(classification_latex(cls, constants, order))
        else:
            click.echo(classification_table(cls, constants, order))
            if constants_error:
                click.echo(f"\nK, κ: {constants_error}")
    except SymescapeError as exc:
        raise _DomainError(str(exc)) from None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
