"""The activation classes of MATH.md §3 (Proposition 2).

With q the order of the first nonlinear Taylor term, and under the hypothesis "σ odd, or
σ(0) ≠ 0, or σ(0) = 0 with c_2 ≠ 0":

- A: σ linear, φ_σ ≡ 0;
- B_q: σ odd and nonlinear, q odd ≥ 3, φ_σ = (q-1) c_q z^q + O(z^{q+2});
- C: σ(0) = 0, c_2 ≠ 0, φ_σ = c_2 z² + O(z³);
- D: σ(0) ≠ 0, φ_σ(0) = -σ(0); the centred σ̃ = σ - σ(0) is classified in turn.

Functions outside the hypothesis (``z + z⁴``) are reported as ``OUTSIDE``, never forced into a
class; piecewise-linear functions (ReLU, leaky ReLU, |z|) as ``PIECEWISE_LINEAR`` (class A a.e.).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cached_property

import sympy as sp

from symescape.errors import ActivationError, NotAnalyticError
from symescape.options import hashable_cache
from symescape.symbolic.activations import Activation, Z, activation
from symescape.symbolic.budget import time_budget
from symescape.symbolic.canonical import decimal_scaled
from symescape.symbolic.gaussian import check_gaussian_domain
from symescape.symbolic.moments import Constant, mu1
from symescape.symbolic.taylor import (
    ACOT_REMEDY,
    acot_zeros,
    decide_zero,
    is_piecewise_defined,
    is_piecewise_linear,
    is_zero,
    nonlinear_order,
    odd_decision,
    phi_expression,
    piecewise_jumps,
    piecewise_switch_points,
    taylor_coefficients,
)


class ActivationClass(Enum):
    """The class of an activation (MATH.md §3)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    OUTSIDE = "outside"
    PIECEWISE_LINEAR = "piecewise-linear"


@dataclass(frozen=True)
class Classification:
    """Everything MATH.md §3 says about one activation: the class (A, B_q, C, D) from
    σ(z) = Σ_k c_k z^k and φ_σ(z) = −c_0 + Σ_{k≥2} (k−1) c_k z^k.

    Attributes:
        activation: the activation classified.
        activation_class: its class.
        q: order of the first nonlinear Taylor term (None when σ is affine or piecewise-linear).
        c0, c1, cq: Taylor coefficients σ(0), σ'(0) and c_q (None where undefined).
        odd: whether σ is odd (None for piecewise-linear σ).
        phi: φ_σ(z) = zσ'(z) - σ(z).
        phi_leading: the leading term of φ_σ at 0 (0 for class A).
        centred: for class D, the classification of σ̃ = σ - σ(0); else None.
        steps: the tests that decided the class, in order, as sentences.

    ``mu1`` (μ₁ = E[σ'(s)]) is computed on first use: classes do not need it.
    """

    activation: Activation
    activation_class: ActivationClass
    q: int | None
    c0: sp.Expr | None
    c1: sp.Expr | None
    cq: sp.Expr | None
    odd: bool | None
    phi: sp.Expr
    phi_leading: sp.Expr | None
    centred: Classification | None
    steps: tuple[str, ...]

    @cached_property
    def mu1(self) -> Constant:
        """μ₁ = E_s[σ'(s)] = E_s[σ(s) s], exact where SymPy closes it."""
        return mu1(self.activation)

    @property
    def mu1_positive(self) -> bool:
        """The sign hypothesis of escape, μ₁ > 0: proved from the exact μ₁, or from the interval
        of its mpmath value when it has no closed form (never from a bare float)."""
        return self.mu1.is_positive

    @property
    def in_hypothesis(self) -> bool:
        return self.activation_class not in (
            ActivationClass.OUTSIDE,
            ActivationClass.PIECEWISE_LINEAR,
        )

    @property
    def has_linear_path(self) -> bool:
        """c_1 ≠ 0: the linear path of the filtered composition exists."""
        return self.c1 is not None and not is_zero(self.c1)

    @property
    def resonance_depth(self) -> int | None:
        """q + 1: the depth at which the first correction resonates (MATH.md §7)."""
        return None if self.q is None else self.q + 1

    @property
    def chain_activation(self) -> Activation:
        """The activation the scalar chain and the reduced flow use (MATH.md §3–§4): the
        centred σ̃ = σ − σ(0) for class D, else σ itself."""
        if self.activation_class is ActivationClass.D and self.centred is not None:
            return self.centred.activation
        return self.activation

    @property
    def label(self) -> str:
        """``B_3``-style label (the class with q where q indexes it)."""
        if self.activation_class is ActivationClass.B:
            return f"B_{self.q}"
        return self.activation_class.value


@hashable_cache(maxsize=256)
def classify(spec: str | sp.Expr | Activation) -> Classification:
    """Classify an activation (MATH.md §3).

    >>> classify("tanh").label
    'B_3'
    >>> classify("softplus").centred.activation_class
    <ActivationClass.C: 'C'>

    Raises:
        UnknownActivationError, ActivationError: bad input (see :func:`activation`); an acot(u)
            whose argument vanishes where u ≥ 0 on both sides (analytic, but every kernel
            evaluates atan(1/u)), or whose real zeros SymPy cannot find.
        NotAnalyticError: σ is not analytic at 0 and not piecewise-linear, or jumps somewhere
            (an acot(u) whose argument crosses 0 or touches it from below).
        NotRealFunctionError: σ is not real-valued.
        GaussianDomainError: E_s[σ(s)] does not exist (σ not finite on ℝ, or too fast growth).
        TimeBudgetError: a symbolic step overran its budget (see symescape.symbolic.budget).
    """
    act = activation(spec)
    with time_budget(f"classification of σ = {act.name}"):
        result = _classify(act)  # first: not analytic at 0 is the more specific refusal
        # the constants (μ₁, E[σ s^q]) are Gaussian expectations: refuse here, as the CLI does,
        # a σ without them (exp(z²), log(1 + z)) rather than return a class whose μ₁ raises
        check_gaussian_domain(act.expr, Z)
        return result


def _point_text(point: sp.Expr) -> str:
    """A point for a message: exact when short (0, log(2), pi/2), else 6 digits (CRootOf)."""
    text = str(point)
    return text if len(text) <= 24 else f"≈{sp.N(point, 6)}"


def _where(points: list[sp.Expr]) -> str:
    """Points for a message, comma-separated."""
    return ", ".join(map(_point_text, points))


def _refuse_acot_zeros(act: Activation) -> None:
    """Refuse σ with an acot(u) whose argument vanishes on ℝ (see :func:`acot_zeros`): a jump,
    a removable jump, or an analytic point that the numerical form atan(1/u) divides by 0 at."""
    zeros = acot_zeros(act)
    crossing = [z for z, left, right in zeros if left != right]
    below = [z for z, left, right in zeros if left == right == -1]
    above = [z for z, left, right in zeros if left == right == 1]
    if crossing or below:
        found = []
        if crossing:
            found.append(f"it jumps from −π/2 to π/2 where u crosses 0, at z = {_where(crossing)}")
        if below:
            found.append(
                f"where u touches 0 from below its limit is −π/2 but its value π/2, at "
                f"z = {_where(below)}"
            )
        raise NotAnalyticError(
            f"σ = {act.expr} contains acot(u), which SymPy defines as atan(1/u) with acot(0) = "
            f"π/2: {'; '.join(found)}, so σ is not analytic there (the theory needs σ analytic, "
            f"or continuous and piecewise-linear); {ACOT_REMEDY}"
        )
    if above:
        raise ActivationError(
            f"σ = {act.expr} contains acot(u) with u = 0 at z = {_where(above)}: there u ≥ 0 on "
            "both sides, so acot(u) = π/2 − atan(u) is analytic, but its numerical form "
            f"atan(1/u) divides by 0; {ACOT_REMEDY}"
        )


def _classify(act: Activation) -> Classification:
    _refuse_acot_zeros(act)
    phi = phi_expression(act)
    if is_piecewise_defined(act):
        found = act.expr.atoms(sp.floor, sp.ceiling, sp.frac)
        steps = sorted({type(node).__name__ for node in found})
        if steps:
            raise NotAnalyticError(
                f"σ = {act.expr} is refused: {' and '.join(steps)} "
                f"{'jumps' if len(steps) == 1 else 'jump'} wherever the argument crosses an "
                "integer, and a discontinuous σ is outside the theory (it needs σ analytic at 0, "
                "or continuous and piecewise-linear)"
            )
        if not is_piecewise_linear(act):
            try:
                points = piecewise_switch_points(act)
            except (NotImplementedError, ValueError, TypeError):  # solve gave up: say less
                points = ()
            where = (
                f"it switches branch at z = {_where(list(points))}, away from 0, but"
                if points and 0 not in points
                else "it is not analytic at 0, and"
                if 0 in points
                else "it switches branch somewhere on ℝ (where, SymPy could not solve), and"
            )
            raise NotAnalyticError(
                f"σ = {act.expr} is piecewise-defined but not piecewise-linear: {where} the "
                "classification takes a piecewise σ only when it is continuous and "
                "piecewise-linear (else it needs σ analytic, written without switching heads)"
            )
        jumps = piecewise_jumps(act)
        if jumps:
            raise NotAnalyticError(
                f"σ = {act.expr} jumps at z = {', '.join(map(str, jumps))}: a discontinuous σ is "
                "outside the theory (it needs σ analytic at 0, or continuous and piecewise-linear)"
            )
        return Classification(
            act,
            ActivationClass.PIECEWISE_LINEAR,
            None,
            None,
            None,
            None,
            None,
            phi,
            None,
            None,
            (
                "σ is piecewise-linear (not analytic at 0): φ_σ = 0 away from the kinks, "
                "so it is class A almost everywhere",
            ),
        )
    return _classify_analytic(act)


def _classify_analytic(act: Activation) -> Classification:
    c0, c1 = taylor_coefficients(act, 1)
    order = nonlinear_order(act)
    q = order.q
    cq = None if q is None else taylor_coefficients(act, q)[q]
    phi = phi_expression(act)
    steps: list[str] = [f"zero test decided numerically: {note}" for note in order.numeric_steps]
    c0_zero = decide_zero(c0)
    if not c0_zero.exact:
        steps.append(f"zero test of σ(0) decided numerically: {c0_zero.how}")

    def result(
        cls: ActivationClass,
        leading: sp.Expr,
        odd: bool | None,
        centred: Classification | None = None,
    ) -> Classification:
        return Classification(act, cls, q, c0, c1, cq, odd, phi, leading, centred, tuple(steps))

    if not c0_zero.holds:
        steps.append(f"σ(0) = {c0} ≠ 0, so σ is class D with φ_σ(0) = -σ(0)")
        centred_act = activation(act.expr - c0)
        # not classify(): σ̃ has σ's domain, which classify() checks on σ as the user wrote it
        centred = _classify(Activation(f"{act.name} - σ(0)", centred_act.expr))
        steps.append(f"the centred σ̃ = σ - σ(0) is class {centred.label}")
        return result(ActivationClass.D, -c0, None, centred)
    steps.append("σ(0) = 0")
    if q is None:
        steps.append("σ'' ≡ 0: σ is linear, φ_σ ≡ 0 and the imbalance is conserved")
        return result(ActivationClass.A, sp.Integer(0), True)
    steps.append(
        f"the first nonlinear Taylor term has order q = {q}, c_q = {decimal_scaled(cq)}"
    )
    parity = odd_decision(act)
    odd = parity.holds
    if not parity.exact:
        steps.append(f"parity decided numerically: {parity.how}")
    leading = (q - 1) * cq * Z**q
    shown = decimal_scaled(leading)
    if odd:
        steps.append(f"σ is odd and nonlinear: class B_{q}, φ_σ = {shown} + O(z^{q + 2})")
        return result(ActivationClass.B, leading, True)
    if q == 2:
        steps.append(
            f"σ is not odd and c_2 = {decimal_scaled(cq)} ≠ 0: class C, φ_σ = {shown} + O(z^3)"
        )
        return result(ActivationClass.C, leading, False)
    steps.append(
        f"σ(0) = 0, c_2 = 0 and σ is not odd: outside the hypothesis of the classification "
        f"(φ_σ = {shown} + …)"
    )
    return result(ActivationClass.OUTSIDE, leading, False)
