"""Exceptions and warnings raised by symescape, and how a fallback warning is shown.

Every domain error subclasses :class:`SymescapeError` (itself a ``ValueError``), so a caller can
catch them all at once, while each names the specific problem and how to fix it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


class SymescapeError(ValueError):
    """Base class of every domain error raised by symescape."""


class ActivationError(SymescapeError):
    """The activation cannot be used: unknown name, unparsable text, wrong number of variables."""


class UnknownActivationError(ActivationError):
    """A registry name that does not exist; the message lists the known names."""


class NotAnalyticError(ActivationError):
    """The activation is not analytic at 0 (``log(x)``, ``1/x``, ``sqrt(x)``, ``|x|**3``, ...)."""


class NotRealFunctionError(ActivationError):
    """The expression is not a real-valued function of one real variable."""


class OutsideHypothesisError(SymescapeError):
    """The activation lies outside the hypothesis of the classification (MATH.md §3)."""


class NoLinearPathError(SymescapeError):
    """``c_1 = σ'(0) = 0``: no linear path, so the leading-order escape theory does not apply."""


class NoEscapeError(SymescapeError):
    """``μ₁ = E[σ'(s)] ≤ 0`` (or amplitude ≤ 0): the origin is not escaped along the teacher;
    or the flow leaves the origin but settles at a fixed point below the threshold ρ*."""


class ConfigurationError(SymescapeError):
    """An invalid configuration: depth < 1, r > L, ε ≤ 0, wrong number of scales, NaN, ..."""


class DivergenceError(SymescapeError):
    """A training run produced a non-finite loss; the message gives the step."""

    def __init__(self, message: str, step: int) -> None:
        super().__init__(message)
        self.step = step


class RefusedExpressionError(ActivationError):
    """An expression string the safe parser refuses: a construct outside its whitelist (attribute,
    subscript, lambda, string, unknown function, ...) or a size limit exceeded; never evaluated."""


class TimeBudgetError(SymescapeError):
    """A step (typically symbolic) overran its time budget; the message names the step and the
    budget."""

    def __init__(self, message: str, step: str = "", seconds: float = float("nan")) -> None:
        super().__init__(message)
        self.step = step
        self.seconds = seconds


class ZeroFirstHermiteError(OutsideHypothesisError):
    """The teacher's effective target has first Hermite coefficient E[g(s) s] = 0 (e.g.
    g = s² − 1): the first-order escape theory does not apply. ``order`` is the lowest Hermite
    order k ≥ 1 with a non-zero coefficient (None when none up to the order searched)."""

    def __init__(self, message: str, order: int | None = None) -> None:
        super().__init__(message)
        self.order = order


class GaussianDomainError(ActivationError):
    """E_s[σ(s)·…] does not exist: σ is not real and finite on all of ℝ (``log(1+x)``,
    ``sqrt(1+x)``, ``1/(1-x)``) or grows too fast for the Gaussian weight (``exp(x**2)``).
    ``reason`` says which, with the offending sub-expression."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class ClosedFormFallbackWarning(UserWarning):
    """An exact (closed-form) step gave up — no closed form in its class, or its time budget ran
    out — and the result falls back to the mpmath value (≥ 30 digits, with an error bound)."""


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines included) as one space: a message as the
    CLI prints it."""
    return " ".join(str(text).split())


def fallback_notes(show: Callable[..., None]) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints a :class:`ClosedFormFallbackWarning` as one line,
    ``note: …``, on stderr, and hands every other warning to ``show``. The CLI installs it, and
    so do its worker processes, whose notes would otherwise come with file paths and source.
    Each note once: the same moment's fallback raised from two call sites is one fact."""
    printed: set[str] = set()

    def note(message: Any, category: type, *args: Any, **kwargs: Any) -> None:
        if issubclass(category, ClosedFormFallbackWarning):
            line = f"note: {one_line(message)}"
            if line not in printed:
                printed.add(line)
                print(line, file=sys.stderr)
        else:
            show(message, category, *args, **kwargs)

    return note


class NumericalError(SymescapeError, ArithmeticError):
    """A numerical procedure failed: a quadrature or rule did not reach its accuracy, a value
    overflowed, an iteration did not converge. Also an ``ArithmeticError``, so callers that guard
    arithmetic still catch it; the message says which procedure and how far it got."""


class NotReachedError(SymescapeError):
    """A threshold was not reached within the budget (time, steps, norm); the message gives the
    budget. Escape-time integrators report this as a status instead (``EscapeStatus``)."""


class UnknownNameError(ConfigurationError):
    """A name that is not in a registry (claim, figure, benchmark, loss); the message lists the
    known names."""


class StalePointWarning(UserWarning):
    """A stored sweep point was unreadable (empty, truncated, wrong keys) or computed with other
    settings; the message names the file, and the point is recomputed."""


class ResultsCacheWarning(UserWarning):
    """The results cache shared between commands could not be used (a folder that cannot be
    created or written); the message says why, and the command computes everything itself."""
