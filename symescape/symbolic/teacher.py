"""General teachers and losses for the escape constants (MATH.md §0, §3, §5, §7).

A teacher is y(x) = Σ_k g_k(v_k·x) with orthonormal v_k and any one-variable functions g_k
(parsed safely by :func:`symescape.symbolic.activations.activation`), optionally turned into ±1
labels y = sign(Σ_k g_k). The student's activation σ need not be any of the g_k.

Near the origin only the derivative of the loss at f = 0 reaches the student. With
ψ(s) = −∂ℓ/∂f(0, y(s)) the *effective target* (squared loss: ψ = y; logistic loss
ℓ = log(1 + e^{−yf}): ψ = y/2), the reduced flow reads dX_l/dt = E[ψ ∂_l f] − (self-interaction),
and the filtered composition of §5 gives, for one mode (s = v·x),

    K = E[ψ(s) s] · c_1^{L−1}                    (the teacher's first Hermite coefficient in
                                                  place of a μ₁; squared loss: E[g(s) s] c_1^{L−1})
    γ = c_q E[ψ(s) s^q] / (c_1 E[ψ(s) s]),   γ_1 = q γ,   γ_l = γ (l ≥ 2),
    κ = ((L+q−1)/L) γ,

c_1, c_q, q from the student's Taylor series. The self-interaction −E[ℓ''(0,y) f ∂_l f] is
relative order ρ^L, beyond the first correction when L > q − 1. For ψ = aσ these are exactly
the constants of :mod:`symescape.symbolic.constants`. For several modes the leading order sees
the linear part β = (E[ψ_k s])_k only: K = |β| c_1^{L−1} along β/|β|; no κ is given there.

A target with E[ψ s] = 0 (g = s² − 1, or an even teacher) is outside the first-order theory:
:class:`ZeroFirstHermiteError` carries its lowest non-zero Hermite order.
For a class D student the model is that of σ̃ = σ − σ(0), and each g_k is centred the same way,
g̃_k = g_k − g_k(0) (so that a teacher aσ gives today's aσ̃).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp

from symescape.errors import ConfigurationError, ZeroFirstHermiteError
from symescape.options import require_choice, validate_chain_depth
from symescape.symbolic.activations import Activation, ActivationSpec, Z, activation
from symescape.symbolic.classification import ActivationClass, Classification, classify
from symescape.symbolic.constants import exact_amplitude, require_linear_path
from symescape.symbolic.moments import (
    Constant,
    gaussian_moment,
    hermite_moment,
    product,
    quotient,
)
from symescape.symbolic.taylor import is_zero

HERMITE_SEARCH_ORDER = 8
"""Highest Hermite order searched for the lowest non-zero coefficient of a target."""

ZERO_VALUE = mpmath.mpf("1e-30")
"""A moment without exact form counts as zero below this (its mpmath value has ≥ 35 digits)."""


class LossKind(Enum):
    """The per-example loss. ``slope`` is −∂ℓ/∂f at f = 0 divided by y (MATH.md §0)."""

    SQUARED = "squared"  # ℓ = (f − y)²/2,        −ℓ'(0, y) = y
    LOGISTIC = "logistic"  # ℓ = log(1 + e^{−yf}),   −ℓ'(0, y) = y/2

    @property
    def slope(self) -> sp.Rational:
        return sp.Integer(1) if self is LossKind.SQUARED else sp.Rational(1, 2)


class LabelMode(Enum):
    """Whether the targets are the teacher's values y = Σ g_k, or labels y = sign(Σ g_k) ∈ {±1}."""

    VALUE = "value"
    SIGN = "sign"


@dataclass(frozen=True)
class TeacherSpec:
    """y(x) = Σ_k g_k(v_k·x) (``modes`` = (g_1, …, g_M)), or sign(Σ_k g_k) for SIGN labels
    (the teacher of MATH.md §0, generalised).

    >>> teacher_spec("erf(s)").modes[0].expr
    erf(z)
    """

    modes: tuple[Activation, ...]
    labels: LabelMode = LabelMode.VALUE

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", require_choice(LabelMode, self.labels, "labels"))
        if not self.modes:
            raise ConfigurationError("a teacher needs at least one mode g_k(s)")
        for mode in self.modes:
            if not isinstance(mode, Activation):
                raise ConfigurationError(f"teacher modes must be Activations, got {mode!r}")
        if self.labels is LabelMode.SIGN and len(self.modes) > 1:
            raise ConfigurationError("sign labels are supported for a single-mode teacher only")

    @property
    def name(self) -> str:
        body = " + ".join(f"g{k + 1}={m.name}" for k, m in enumerate(self.modes))
        return f"sign({body})" if self.labels is LabelMode.SIGN else body

    @property
    def single(self) -> bool:
        return len(self.modes) == 1

    def scaled(self, amplitude: float | int | sp.Expr) -> TeacherSpec:
        """The teacher a·y (values; for SIGN labels the sign of a·y)."""
        a = exact_amplitude(amplitude)
        modes = tuple(Activation(f"{a}*({m.name})", a * m.expr) for m in self.modes)
        return TeacherSpec(modes, self.labels)


def teacher_spec(
    spec: ActivationSpec | Sequence[ActivationSpec] | TeacherSpec,
    labels: LabelMode | str = LabelMode.VALUE,
) -> TeacherSpec:
    """A :class:`TeacherSpec` (MATH.md §0) from one function (``"erf(s)"``, ``"tanh"``, a SymPy
    expression, an Activation) or a sequence of them (one per orthonormal mode). Text goes
    through the safe parser of :func:`~symescape.symbolic.activations.activation`.

    Raises:
        ActivationError: a function that cannot be parsed (see :func:`activation`).
        ConfigurationError: no modes, or SIGN labels with several modes.
    """
    if isinstance(spec, TeacherSpec):
        return spec
    mode = require_choice(LabelMode, labels, "labels")
    if isinstance(spec, str | sp.Basic | Activation):
        return TeacherSpec((activation(spec),), mode)
    if not isinstance(spec, Sequence):
        raise ConfigurationError(
            f"a teacher is a function (a name, an expression, an Activation) or a sequence of "
            f"them, one per mode; got {spec!r} of type {type(spec).__name__}"
        )
    return TeacherSpec(tuple(activation(m) for m in spec), mode)


def student_teacher(student: ActivationSpec, amplitude: float | int | sp.Expr = 1) -> TeacherSpec:
    """The paper's teacher y = a σ(v·x) with the student's own σ."""
    act = activation(student)
    a = exact_amplitude(amplitude)
    if a == 1:
        return TeacherSpec((act,))
    return TeacherSpec((Activation(f"{a}*({act.name})", a * act.expr),))


# --- effective targets ψ and their moments ------------------------------------------------------


def _centred(mode: Activation) -> Activation:
    value = mode.expr.xreplace({Z: 0})
    if is_zero(value):
        return mode
    return Activation(f"({mode.name}) - ({value})", mode.expr - value)


def sign_structure(mode: Activation) -> int:
    """σ₀ ∈ {±1} with sign(g(s)) = σ₀ sign(s) for all s ≠ 0, checked on a dense grid of [−8, 8].

    Raises:
        ConfigurationError: g changes sign elsewhere than at 0 (or not at 0): the labels
            sign(g(s)) have no closed-form moments here.
    """
    from symescape.symbolic.resolved import function_kernel

    s = np.linspace(-8, 8, 16001)
    s = s[s != 0]
    with np.errstate(all="ignore"):
        values = np.asarray(function_kernel(mode)(s), dtype=float)
    signs = np.sign(values) * np.sign(s)
    if np.all(signs == 1):
        return 1
    if np.all(signs == -1):
        return -1
    raise ConfigurationError(
        f"sign labels need a teacher whose only sign change is at s = 0; {mode.name} is not one "
        "(use value labels, or a teacher such as tanh(s))"
    )


@lru_cache(maxsize=256)
def _abs_moment(k: int) -> Constant:
    # E[sign(s) s^k] = E|s|^k = 2^{k/2} Γ((k+1)/2)/√π for odd k, 0 for even k.
    if k % 2 == 0:
        return Constant(sp.Integer(0), mpmath.mpf(0))
    exact = 2 ** sp.Rational(k, 2) * sp.gamma(sp.Rational(k + 1, 2)) / sp.sqrt(sp.pi)
    return Constant.from_exact(exact)


def target_moment(
    spec: TeacherSpec, loss: LossKind, k: int, mode: int = 0, centre: bool = False
) -> Constant:
    """E[ψ_mode(s) s^k] for the effective target ψ = −ℓ'(0, y) of one mode (see module doc)."""
    loss = require_choice(LossKind, loss, "loss")
    g = spec.modes[mode]
    if spec.labels is LabelMode.SIGN:
        return product(loss.slope, sign_structure(g), _abs_moment(k))
    g = _centred(g) if centre else g
    return product(loss.slope, gaussian_moment(g, k))


def lowest_hermite_order(
    spec: TeacherSpec, loss: LossKind, mode: int = 0, centre: bool = False
) -> int | None:
    """The lowest k ≥ 1 with E[ψ(s) He_k(s)] ≠ 0 (k ≤ HERMITE_SEARCH_ORDER), else None."""
    g = spec.modes[mode]
    if spec.labels is LabelMode.SIGN:
        return 1  # E[sign(s) s] = √(2/π) ≠ 0
    g = _centred(g) if centre else g
    for k in range(1, HERMITE_SEARCH_ORDER + 1):
        if not _vanishes(hermite_moment(g, k)):
            return k
    return None


def _vanishes(c: Constant) -> bool:
    if c.exact is not None:
        return is_zero(c.exact)
    return abs(c.value) < ZERO_VALUE


# --- constants --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeacherConstants:
    """K, κ and γ_l (MATH.md §5, §7) for a student σ of depth L learning a general teacher.

    ``beta`` = (E[ψ_k s])_k, the effective target's first Hermite coefficient per mode;
    ``K`` = β c_1^{L−1} for one mode (signed) and |β| c_1^{L−1} for several; ``kappa``/``gamma``
    None for class A students and for several modes; ``centred`` for a class D student.
    """

    classification: Classification
    teacher: TeacherSpec
    loss: LossKind
    depth: int
    beta: tuple[Constant, ...]
    K: Constant
    kappa: Constant | None
    gamma: tuple[Constant, ...] | None
    centred: bool

    @property
    def escapes(self) -> bool:
        """K > 0: the origin is escaped along the teacher at leading order."""
        return self.K.value > 0

    @property
    def resonance_depth(self) -> int | None:
        return self.classification.resonance_depth


def teacher_constants(
    student: ActivationSpec | Classification,
    depth: int,
    teacher: ActivationSpec | Sequence[ActivationSpec] | TeacherSpec | None = None,
    loss: LossKind | str = LossKind.SQUARED,
) -> TeacherConstants:
    """K = E[ψ s] c_1^{L−1} and κ = ((L+q−1)/L) c_q E[ψ s^q]/(c_1 E[ψ s]) (MATH.md §5, §7).

    ``teacher`` None means the student's own σ (amplitude 1).

    >>> c = teacher_constants("tanh", 4, "erf(s)")
    >>> c.K.exact
    2*sqrt(3)/(3*sqrt(pi))

    Raises:
        ConfigurationError: depth < 1, a bad teacher.
        OutsideHypothesisError: the student is piecewise-linear (no Taylor series).
        NoLinearPathError: c_1 = 0 for the student.
        ZeroFirstHermiteError: E[ψ s] = 0 for every mode (its ``order`` is the lowest non-zero
            Hermite order of the first mode).
    """
    cls = student if isinstance(student, Classification) else classify(student)
    depth = validate_chain_depth(depth)
    loss = require_choice(LossKind, loss, "loss")
    spec = student_teacher(cls.activation) if teacher is None else teacher_spec(teacher)
    require_linear_path(cls)
    centred = cls.activation_class is ActivationClass.D
    beta = tuple(target_moment(spec, loss, 1, k, centred) for k in range(len(spec.modes)))
    if all(_vanishes(b) for b in beta):
        order = lowest_hermite_order(spec, loss, 0, centred)
        raise ZeroFirstHermiteError(
            f"the teacher {spec.name} has first Hermite coefficient E[g(s) s] = 0 (lowest "
            f"non-zero Hermite order: {order if order is not None else f'> {HERMITE_SEARCH_ORDER}'}"
            "): outside the first-order escape theory, which needs a linear component",
            order,
        )
    linear_path = cls.c1 ** (depth - 1)
    if not spec.single:
        norm = _norm(beta)
        return TeacherConstants(
            cls, spec, loss, depth, beta, product(norm, linear_path), None, None, centred
        )
    K = product(beta[0], linear_path)
    if cls.q is None:
        return TeacherConstants(cls, spec, loss, depth, beta, K, None, None, centred)
    if depth == 1:
        zero = Constant(sp.Integer(0), mpmath.mpf(0))
        return TeacherConstants(cls, spec, loss, depth, beta, K, zero, (zero,), centred)
    q = cls.q
    moment_q = target_moment(spec, loss, q, 0, centred)
    g = quotient(product(cls.cq, moment_q), product(cls.c1, beta[0]))
    gamma = (product(q, g),) + tuple(g for _ in range(depth - 1))
    kappa = product(sp.Rational(depth + q - 1, depth), g)
    return TeacherConstants(cls, spec, loss, depth, beta, K, kappa, gamma, centred)


def _norm(beta: tuple[Constant, ...]) -> Constant:
    with mpmath.workdps(60):
        value = mpmath.sqrt(mpmath.fsum(b.value**2 for b in beta))
        error = mpmath.fsum(b.error for b in beta)  # | |β| − |β'| | ≤ |β − β'| ≤ Σ_k errors
    exact = None
    if all(b.exact is not None for b in beta):
        exact = sp.sqrt(sp.Add(*(b.exact**2 for b in beta)))
    return Constant(exact, value, error)
