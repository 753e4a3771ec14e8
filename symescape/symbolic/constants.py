"""Escape constants for a depth-L chain (MATH.md §5, §7).

    K = a μ₁ c_1^{L-1},
    g = c_q E[σ(s) s^q] / (c_1 μ₁),
    γ_1 = q g,   γ_l = g (l ≥ 2),         (per-coordinate first-correction ratios)
    κ = (1/L) Σ_l γ_l = ((L+q-1)/L) g.      (correction of dρ/dt for ρ = P^{1/L})

At L = 1 the chain f = X_1 s has no activation, so γ_1 = κ = 0.

For class D the constants are those of the centred activation σ̃ = σ - σ(0) (teacher and student
centred): c_k (k ≥ 1) and μ₁ are unchanged, E[σ̃ s^q] = E[σ s^q] - σ(0) E[s^q].
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import sympy as sp

from symescape.errors import ConfigurationError, NoLinearPathError, OutsideHypothesisError
from symescape.options import validate_chain_depth
from symescape.symbolic.activations import Activation, Z
from symescape.symbolic.canonical import rationalize_floats
from symescape.symbolic.classification import ActivationClass, Classification, classify
from symescape.symbolic.gaussian import kink_points
from symescape.symbolic.moments import Constant, gaussian_moment, product, quotient
from symescape.symbolic.parsing import as_expression
from symescape.symbolic.taylor import piecewise_branches


@dataclass(frozen=True)
class EscapeConstants:
    """K, κ and the per-layer ratios γ_l for one activation, depth and amplitude.

    K = a μ₁ c_1^{L-1},  κ = ((L+q-1)/L) c_q E[σ(s) s^q]/(c_1 μ₁),  γ_l = c_q E[σ s^q]/(c_1 μ₁)
        (l ≥ 2), γ_1 = q γ_2  (MATH.md §5, §7).

    ``kappa`` and ``gamma`` are None for class A (no nonlinear correction at any order: q is
    undefined). ``centred`` is True when the constants are those of σ̃ = σ - σ(0) (class D).
    """

    classification: Classification
    depth: int
    amplitude: sp.Expr
    K: Constant
    kappa: Constant | None
    gamma: tuple[Constant, ...] | None
    centred: bool

    @property
    def resonance_depth(self) -> int | None:
        return self.classification.resonance_depth

    @property
    def escapes(self) -> bool:
        """K > 0 (proved exactly or by K's error bound): the origin is escaped along the teacher
        at leading order."""
        return self.K.is_positive

    @property
    def gamma_uniform(self) -> bool:
        """Whether every γ_l is equal (the paper's "same ratio in every l"); False when q ≠ 1."""
        if self.gamma is None:
            return True
        return all(abs(g.value - self.gamma[0].value) <= 1e-30 for g in self.gamma)


def _positively_homogeneous(act: Activation) -> bool:
    """σ(cz) = cσ(z) for c > 0, for a piecewise-linear σ: its only kink is at 0 and every
    branch is linear through 0 (ReLU, leaky ReLU, |z|; not Max(z, 1))."""
    branches_through_zero = all(
        sp.simplify(branch.xreplace({Z: 0})) == 0 for branch in piecewise_branches(act)
    )
    return branches_through_zero and kink_points(act.expr, Z) == (0,)


def require_linear_path(cls: Classification) -> None:
    """Raise unless σ has a Taylor series with c_1 ≠ 0 (the linear path of MATH.md §5).

    Raises:
        OutsideHypothesisError: σ is piecewise-linear (no Taylor series).
        NoLinearPathError: c_1 = 0.
    """
    if cls.activation_class is ActivationClass.PIECEWISE_LINEAR:
        why = (
            " (the chain is positively homogeneous; see the escape-directions solver)"
            if _positively_homogeneous(cls.activation)
            else "; it is not positively homogeneous either (a kink away from 0, or σ(0) ≠ 0), "
            "so the escape-directions solver does not apply to it"
        )
        raise OutsideHypothesisError(
            f"{cls.activation.name} is piecewise-linear: the Taylor-based constants K, κ do not "
            f"apply{why}"
        )
    if not cls.has_linear_path:
        raise NoLinearPathError(
            f"c_1 = σ'(0) = 0 for {cls.activation.name}: the linear path of the filtered "
            "composition vanishes, so the leading-order escape theory does not apply"
        )


def exact_amplitude(amplitude: object) -> sp.Expr:
    """The teacher amplitude a as an exact SymPy number (a float becomes the rational it stands
    for). A string is refused, never parsed (it would be evaluated).

    Raises:
        ConfigurationError: text, a non-number, or a value that is not finite, real and ≠ 0.
    """
    a = rationalize_floats(as_expression(amplitude, "the teacher amplitude"))
    if not a.is_real or not a.is_finite or a == 0:
        raise ConfigurationError(
            f"the teacher amplitude must be a finite non-zero real, got {amplitude!r}"
        )
    return a


def escape_constants(
    spec: str | sp.Expr | Activation | Classification,
    depth: int,
    amplitude: float | int | sp.Expr = 1,
) -> EscapeConstants:
    """K, κ and γ_l for a depth-L chain (MATH.md §5, §7).

    >>> c = escape_constants("erf", depth=4)
    >>> c.K.exact
    16*sqrt(3)/(3*pi**2)

    Raises:
        ConfigurationError: depth < 1, or a non-finite / zero amplitude.
        OutsideHypothesisError: σ is piecewise-linear (no Taylor series).
        NoLinearPathError: c_1 = 0.
    """
    cls = spec if isinstance(spec, Classification) else classify(spec)
    depth = validate_chain_depth(depth)
    a = exact_amplitude(amplitude)
    require_linear_path(cls)
    K = product(a, cls.mu1, cls.c1 ** (depth - 1))
    if cls.q is None:
        return EscapeConstants(
            cls, depth, a, K, None, None, cls.activation_class is ActivationClass.D
        )
    centred = cls.activation_class is ActivationClass.D
    act = cls.centred.activation if centred else cls.activation
    q = cls.q
    if depth == 1:
        # f = X_1 s: no activation, hence no nonlinear insertion and no correction at any order.
        zero = Constant(sp.Integer(0), mpmath.mpf(0))
        return EscapeConstants(cls, depth, a, K, zero, (zero,), centred)
    if cls.mu1.sign == 0:
        # μ₁ = 0 exactly (x cos x): K = 0, no leading-order escape, and κ = c_q m_q/(c_1 μ₁) is
        # undefined (a float residue of μ₁ used to make it a huge, meaningless number).
        return EscapeConstants(cls, depth, a, K, None, None, centred)
    g = quotient(product(cls.cq, gaussian_moment(act, q)), product(cls.c1, cls.mu1))
    gamma = (product(q, g),) + tuple(g for _ in range(depth - 1))
    kappa = product(sp.Rational(depth + q - 1, depth), g)
    return EscapeConstants(cls, depth, a, K, kappa, gamma, centred)
