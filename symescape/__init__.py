"""symescape: a symbolic-numeric toolkit for saddle escape in deep nonlinear networks.

The public API is re-exported here; see the README for a tour.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .activations import REGISTRY, Activation, Z, activation, known_activations
from .classification import ActivationClass, Classification, classify
from .constants import EscapeConstants, escape_constants
from .errors import (
    ActivationError,
    ConfigurationError,
    DivergenceError,
    NoEscapeError,
    NoLinearPathError,
    NotAnalyticError,
    NotRealFunctionError,
    OutsideHypothesisError,
    SymescapeError,
    UnknownActivationError,
)
from .gaussian import (
    ExpectationMethod,
    expectation_exact,
    expectation_gauss_hermite,
    expectation_mpmath,
    gauss_hermite_rule,
    gaussian_expectation,
)
from .moments import Constant, gaussian_moment, hermite_moment, mu1
from .taylor import (
    first_nonlinear_order,
    is_odd,
    phi_coefficients,
    phi_expression,
    taylor_coefficients,
)

__all__ = [
    "REGISTRY",
    "Z",
    "Activation",
    "activation",
    "known_activations",
    "ActivationClass",
    "Classification",
    "classify",
    "EscapeConstants",
    "escape_constants",
    "ActivationError",
    "ConfigurationError",
    "DivergenceError",
    "NoEscapeError",
    "NoLinearPathError",
    "NotAnalyticError",
    "NotRealFunctionError",
    "OutsideHypothesisError",
    "SymescapeError",
    "UnknownActivationError",
    "ExpectationMethod",
    "expectation_exact",
    "expectation_gauss_hermite",
    "expectation_mpmath",
    "gauss_hermite_rule",
    "gaussian_expectation",
    "Constant",
    "gaussian_moment",
    "hermite_moment",
    "mu1",
    "first_nonlinear_order",
    "is_odd",
    "phi_coefficients",
    "phi_expression",
    "taylor_coefficients",
]
