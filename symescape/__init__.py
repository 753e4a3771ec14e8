"""symescape: a symbolic-numeric toolkit for saddle escape in deep nonlinear networks.

The public API is re-exported here; see the README for a tour.
"""

from __future__ import annotations

from symescape.errors import (
    ActivationError,
    ClosedFormFallbackWarning,
    ConfigurationError,
    DivergenceError,
    GaussianDomainError,
    NoEscapeError,
    NoLinearPathError,
    NotAnalyticError,
    NotReachedError,
    NotRealFunctionError,
    NumericalError,
    OutsideHypothesisError,
    RefusedExpressionError,
    ResultsCacheWarning,
    StalePointWarning,
    SymescapeError,
    TimeBudgetError,
    UnknownActivationError,
    UnknownNameError,
    ZeroFirstHermiteError,
)
from symescape.experiments.escape_directions import (
    EscapeDirection,
    EscapeDirectionConfig,
    OptimaSearch,
    escape_direction,
    search_optima,
)
from symescape.experiments.predict import (
    PredictConfig,
    Prediction,
    check_prediction,
    config_from_mapping,
    load_config,
    predict,
)
from symescape.experiments.saddle_to_saddle import SaddleConfig, SaddleRun, saddle_to_saddle
from symescape.experiments.sweeps import SweepStore, grid, run_sweep
from symescape.experiments.verification import Claim, Verdict, verify
from symescape.numeric.escape import (
    EscapeCriterion,
    EscapeReport,
    EscapeResult,
    EscapeStatus,
    escape_time_ode,
    escape_times,
)
from symescape.numeric.homotopy import HomotopyDerivative, escape_time, homotopy_derivative
from symescape.numeric.precise_escape import (
    PreciseEscape,
    SeriesEscape,
    escape_time_precise,
    escape_time_series,
    expansion_constant,
)
from symescape.numeric.quadrature import (
    balanced_time,
    corrected_time,
    corrected_time_mpmath,
    critical_depth_law,
    leading_time,
    leading_time_grid,
    leading_time_mpmath,
)
from symescape.numeric.reduced import ReducedModel, reduced_model
from symescape.numeric.stability import (
    SaddleBlocks,
    SchurPerronResult,
    metzler_gauge,
    saddle_blocks,
    schur_perron,
)
from symescape.numeric.time_function import (
    GeneralSeriesEscape,
    TimeFunction,
    escape_time_series_general,
    time_function,
)
from symescape.precision.gauss import (
    expectation_gauss_hermite,
    expectation_mpmath,
    gauss_hermite_rule,
)
from symescape.reports.figure_normal_form import figure_normal_form
from symescape.reports.figures import figure1, figure2, figure3, figure4, figure5, figure_relu
from symescape.symbolic.activations import REGISTRY, Activation, Z, activation, known_activations
from symescape.symbolic.block_mean import (
    BlockMeanNetwork,
    block_mean_field_and_jacobian,
    block_mean_network,
)
from symescape.symbolic.chain import ScalarChain, chain_kernel, scalar_chain
from symescape.symbolic.classification import ActivationClass, Classification, classify
from symescape.symbolic.constants import EscapeConstants, escape_constants
from symescape.symbolic.filtered import chain_monomials, check_degree_bounds, field_polynomial
from symescape.symbolic.gaussian import ExpectationMethod, expectation_exact, gaussian_expectation
from symescape.symbolic.moments import Constant, gaussian_moment, hermite_moment, mu1
from symescape.symbolic.normal_form import (
    EscapeExpansion,
    FirstIntegrals,
    escape_expansion,
    first_integrals,
)
from symescape.symbolic.taylor import (
    first_nonlinear_order,
    is_odd,
    phi_coefficients,
    phi_expression,
    taylor_coefficients,
)
from symescape.symbolic.teacher import (
    TeacherConstants,
    TeacherSpec,
    teacher_constants,
    teacher_spec,
)
from symescape.version import __version__ as __version__

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
    "ClosedFormFallbackWarning",
    "ConfigurationError",
    "DivergenceError",
    "GaussianDomainError",
    "NoEscapeError",
    "NoLinearPathError",
    "NotAnalyticError",
    "NotReachedError",
    "NotRealFunctionError",
    "NumericalError",
    "OutsideHypothesisError",
    "RefusedExpressionError",
    "ResultsCacheWarning",
    "StalePointWarning",
    "SymescapeError",
    "TimeBudgetError",
    "UnknownActivationError",
    "UnknownNameError",
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
    "ZeroFirstHermiteError",
    "PredictConfig",
    "Prediction",
    "check_prediction",
    "config_from_mapping",
    "load_config",
    "predict",
    "TeacherConstants",
    "TeacherSpec",
    "teacher_constants",
    "teacher_spec",
    "EscapeExpansion",
    "FirstIntegrals",
    "PreciseEscape",
    "SeriesEscape",
    "escape_expansion",
    "escape_time_precise",
    "escape_time_series",
    "escape_time_series_general",
    "GeneralSeriesEscape",
    "TimeFunction",
    "time_function",
    "expansion_constant",
    "first_integrals",
    "figure1",
    "figure2",
    "figure3",
    "figure4",
    "figure5",
    "figure_relu",
    "figure_normal_form",
    "EscapeDirection",
    "EscapeDirectionConfig",
    "OptimaSearch",
    "escape_direction",
    "search_optima",
    "SaddleConfig",
    "SaddleRun",
    "saddle_to_saddle",
]
