"""Typed options shared across layers: constants of the setting and Enums that strings become.

Strings from the command line or a configuration file are converted to these at the boundary
(``Enum(value)``), so nothing below the CLI compares option strings.
"""

from __future__ import annotations

from enum import Enum

from symescape.errors import ConfigurationError

RHO_STAR = 0.5
"""The default escape threshold ρ* of the product criterion: the geometric mean P^{1/L} of the
layer scales reaches ρ* (MATH.md §6)."""


class Backend(Enum):
    """Where a generated kernel evaluates: NumPy arrays (double precision), mpmath numbers, or
    JAX arrays traced into compiled code (the compiled training engine)."""

    NUMPY = "numpy"
    MPMATH = "mpmath"
    JAX = "jax"


class OutputFormat(Enum):
    """How a command prints its result."""

    TABLE = "table"
    JSON = "json"
    LATEX = "latex"


def validate_depth(depth: int) -> int:
    """The depth L as an int ≥ 1 (MATH.md §0: L is the number of weight matrices).

    Raises:
        ConfigurationError: L is not an integer, or L < 1.

    >>> validate_depth(4)
    4
    """
    if isinstance(depth, bool) or not isinstance(depth, int | float) or int(depth) != depth:
        raise ConfigurationError(f"depth must be an integer ≥ 1, got {depth!r}")
    if depth < 1:
        raise ConfigurationError(f"depth must be an integer ≥ 1, got {depth!r}")
    return int(depth)
