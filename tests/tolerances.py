"""The tolerances every test uses, in one place, each with the reason for its size."""

ROUND_OFF = 1e-10
"""Identities evaluated in double precision on O(1) quantities (a few hundred flops)."""

GH_VS_MPMATH = 1e-12
"""Gauss–Hermite (128 nodes) against mpmath for analytic integrands (issue 2)."""

MPMATH_VS_EXACT_DIGITS = 25
"""Digits to which mpmath quadrature must reproduce an exact SymPy value (issue 2)."""

EXPONENT = 0.1
"""Fitted asymptotic exponents against the theory's (issue 4)."""


def rel_err(a: float, b: float) -> float:
    """|a - b| / max(|b|, tiny): relative error of a against the reference b."""
    return abs(a - b) / max(abs(b), 1e-300)
