"""symescape: a symbolic-numeric toolkit for saddle escape in deep nonlinear networks.

The public API is re-exported here; see the README for a tour.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .activations import REGISTRY, Activation, Z, activation, known_activations
from .block_mean import BlockMeanNetwork, block_mean_field_and_jacobian, block_mean_network
from .chain import ScalarChain, chain_kernel, scalar_chain
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
from .escape import (
    EscapeCriterion,
    EscapeReport,
    EscapeResult,
    EscapeStatus,
    escape_time_ode,
    escape_times,
)
from .filtered import chain_monomials, check_degree_bounds, field_polynomial
from .gaussian import (
    ExpectationMethod,
    expectation_exact,
    expectation_gauss_hermite,
    expectation_mpmath,
    gauss_hermite_rule,
    gaussian_expectation,
)
from .homotopy import HomotopyDerivative, escape_time, homotopy_derivative
from .moments import Constant, gaussian_moment, hermite_moment, mu1
from .quadrature import (
    balanced_time,
    corrected_time,
    corrected_time_mpmath,
    critical_depth_law,
    leading_time,
    leading_time_grid,
    leading_time_mpmath,
)
from .reduced import ReducedModel, reduced_model
from .stability import (
    SaddleBlocks,
    SchurPerronResult,
    metzler_gauge,
    saddle_blocks,
    schur_perron,
)
from .sweeps import SweepStore, grid, run_sweep
from .taylor import (
    first_nonlinear_order,
    is_odd,
    phi_coefficients,
    phi_expression,
    taylor_coefficients,
)
from .verification import Claim, Verdict, verify

__all__ = [
    "REGISTRY",
    "Activation",
    "Z",
    "activation",
    "known_activations",
    "BlockMeanNetwork",
    "block_mean_field_and_jacobian",
    "block_mean_network",
    "ScalarChain",
    "chain_kernel",
    "scalar_chain",
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
    "EscapeCriterion",
    "EscapeReport",
    "EscapeResult",
    "EscapeStatus",
    "escape_time_ode",
    "escape_times",
    "chain_monomials",
    "check_degree_bounds",
    "field_polynomial",
    "ExpectationMethod",
    "expectation_exact",
    "expectation_gauss_hermite",
    "expectation_mpmath",
    "gauss_hermite_rule",
    "gaussian_expectation",
    "HomotopyDerivative",
    "escape_time",
    "homotopy_derivative",
    "Constant",
    "gaussian_moment",
    "hermite_moment",
    "mu1",
    "balanced_time",
    "corrected_time",
    "corrected_time_mpmath",
    "critical_depth_law",
    "leading_time",
    "leading_time_grid",
    "leading_time_mpmath",
    "ReducedModel",
    "reduced_model",
    "SaddleBlocks",
    "SchurPerronResult",
    "metzler_gauge",
    "saddle_blocks",
    "schur_perron",
    "SweepStore",
    "grid",
    "run_sweep",
    "first_nonlinear_order",
    "is_odd",
    "phi_coefficients",
    "phi_expression",
    "taylor_coefficients",
    "Claim",
    "Verdict",
    "verify",
]
