"""The exact reduced flow on the symmetric ansatz (MATH.md §4, Theorem 4).

    dX_l/dt = F_l(X) = E_s[(a σ(s) - f(s)) ∂_l f(s)],   𝓛̃(X) = ½ E_s[(f(s) - a σ(s))²],

expectations by Gauss–Hermite quadrature on the chain kernel. For class D activations the model
is that of the centred activation σ̃ = σ - σ(0) (teacher and student), whose origin is the saddle.

General teachers and losses (:func:`teacher_reduced_model`, issue 17): for a teacher y(s) = g(s)
(or labels sign g(s)) and a per-example loss ℓ, the ansatz is still flow-invariant (f and y depend
on x only through s = v·x, so the orthogonal inputs contribute E[δ] E[x_⊥] = 0), and

    dX_l/dt = F_l(X) = −E_s[ℓ'(f(s), y(s)) ∂_l f(s)],   𝓛̃(X) = E_s[ℓ(f(s), y(s))],

which is the formula above for ℓ = (f − y)²/2. Numeric layer: after construction nothing here
touches SymPy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import mpmath
import numpy as np

from symescape.errors import ConfigurationError, NoEscapeError, NumericalError
from symescape.numeric.losses import LOGISTIC
from symescape.options import hashable_cache, require_choice, require_int
from symescape.precision.gauss import (
    breakpoint_gauss_rule,
    gauss_hermite_rule,
    split_gauss_hermite_rule,
)
from symescape.symbolic.activations import Activation, ActivationSpec, Z
from symescape.symbolic.chain import ChainKernel, chain_hessian_kernel, chain_kernel
from symescape.symbolic.classification import ActivationClass, Classification, classify
from symescape.symbolic.constants import EscapeConstants, escape_constants
from symescape.symbolic.gaussian import check_chain_domain, kink_points
from symescape.symbolic.resolved import activation_kernels, function_kernel
from symescape.symbolic.taylor import is_piecewise_defined, is_zero
from symescape.symbolic.teacher import (
    LabelMode,
    LossKind,
    TeacherConstants,
    TeacherSpec,
    sign_structure,
    teacher_constants,
    teacher_spec,
)

DEFAULT_CHAIN_NODES = 96
"""Gauss–Hermite nodes for the reduced field (tested against 4× more nodes)."""


@dataclass(frozen=True)
class ReducedModel:
    """The reduced flow for one activation, depth and amplitude, ready to evaluate.

    dX_l/dt = F_l(X) = E_s[(a σ(s) − f(s)) ∂_l f(s)],  𝓛̃(X) = ½ E_s[(f(s) − aσ(s))²]  (MATH.md §4).

    ``activation`` is the one the chain uses (the centred σ̃ for class D). ``loss`` is the
    per-example loss and ``teacher_spec`` the teacher when it is not aσ (else None).
    """

    classification: Classification
    activation: Activation
    depth: int
    amplitude: float
    nodes: int
    constants: EscapeConstants | TeacherConstants
    _s: np.ndarray = field(repr=False)
    _w: np.ndarray = field(repr=False)
    _teacher: np.ndarray = field(repr=False)
    loss_kind: LossKind = LossKind.SQUARED
    teacher_spec: TeacherSpec | None = None
    split: bool = False  # the Gauss–Hermite rule mirrored at 0 (piecewise σ or g, sign labels)
    breakpoints: tuple[float, ...] = ()  # g's jumps and kinks, when the rule is split at each

    @property
    def centred(self) -> bool:
        return self.classification.activation_class is ActivationClass.D

    @cached_property
    def refined(self) -> ReducedModel:
        """The same model on a rule with 4× the nodes: where the two fields disagree, the
        quadrature does not resolve the field (σ's Gaussian tails, e.g. a cubic σ deep in the
        chain) and a result computed from it is not to be trusted."""
        nodes = 4 * self.nodes
        if self.teacher_spec is None:
            return reduced_model(self.classification, self.depth, self.amplitude, nodes)
        return _teacher_reduced_model(
            self.classification, self.depth, self.teacher_spec, self.loss_kind, nodes, self.split
        )

    def resolution_gap(self, X: np.ndarray) -> float:
        """max_l |F_l − F̂_l| / max_l |F̂_l| at X, F̂ on the :attr:`refined` rule (~1e-11 where the
        quadrature resolves the field; inf or nan where it overflows)."""
        with np.errstate(all="ignore"):  # an unresolved field may overflow: that is the finding
            coarse = self.field(X)
            fine = self.refined.field(X)
            scale = float(np.max(np.abs(fine)))
            return float(np.max(np.abs(coarse - fine))) / scale if scale > 0 else 0.0

    def __getstate__(self) -> dict:
        # the cached kernels are generated code, which does not pickle; a copy looks them up
        return {k: v for k, v in self.__dict__.items() if k not in ("_chain", "_chain_hessian")}

    @cached_property
    def _chain(self) -> ChainKernel:
        # looked up once: the kernel cache hashes the activation on every lookup
        return chain_kernel(self.activation, self.depth)

    @cached_property
    def _chain_hessian(self) -> ChainKernel:
        return chain_hessian_kernel(self.activation, self.depth)

    def _evaluate(self, X: np.ndarray) -> list[np.ndarray]:
        X = np.asarray(X, dtype=float)
        if X.ndim == 0 or X.shape[-1] != self.depth:
            raise ConfigurationError(
                f"X must have L = {self.depth} entries along its last axis, got shape {X.shape}"
            )
        if X.ndim == 1:
            # one point, the integrators' case: scalar X_l, and only outputs that are not a
            # fresh (P,) array broadcast, read-only (a constant, or the nodes s themselves);
            # the per-output broadcasts were most of a field evaluation's cost at L = 4
            values = self._chain(self._s, *X)
            shape = self._s.shape
            return [
                v
                if isinstance(v, np.ndarray) and v.shape == shape and v is not self._s
                else np.broadcast_to(v, shape)
                for v in values
            ]
        args = [X[..., l, None] for l in range(self.depth)]
        values = self._chain(self._s, *args)
        shape = np.broadcast_shapes(X.shape[:-1] + (1,), self._s.shape)
        return [np.broadcast_to(v, shape) for v in values]

    def _residual(self, f: np.ndarray) -> np.ndarray:
        """−ℓ'(f, y) at the nodes (y − f for the squared loss)."""
        if self.loss_kind is LossKind.SQUARED:
            return self._teacher - f
        return -LOGISTIC(f, np.broadcast_to(self._teacher, f.shape))[1]

    def _curvature(self, f: np.ndarray) -> np.ndarray:
        """ℓ''(f, y) at the nodes (1 for the squared loss; y² p(1 − p), p = e^{yf}/(1+e^{yf}))."""
        if self.loss_kind is LossKind.SQUARED:
            return np.ones_like(f)
        from scipy.special import expit

        m = self._teacher * f
        return self._teacher**2 * expit(m) * expit(-m)

    def field(self, X: np.ndarray) -> np.ndarray:
        """F(X), for X of shape (..., L)."""
        f, *grad = self._evaluate(X)
        residual = self._residual(f) * self._w
        if f.ndim == 1:  # one point: one product and one row-wise sum over the (L, P) partials
            return (np.stack(grad) * residual).sum(axis=-1)
        return np.stack([(residual * g).sum(axis=-1) for g in grad], axis=-1)

    def loss(self, X: np.ndarray) -> np.ndarray:
        """𝓛̃(X) = E[ℓ(f, y)] (½ E[(f - aσ)²] for the default teacher and loss)."""
        f = self._evaluate(X)[0]
        if self.loss_kind is LossKind.SQUARED:
            return 0.5 * (((f - self._teacher) ** 2) * self._w).sum(axis=-1)
        value = LOGISTIC(f, np.broadcast_to(self._teacher, f.shape))[0]
        return (value * self._w).sum(axis=-1)

    def baseline_loss(self) -> float:
        """E[ℓ(0, y)]: the loss of the uninformative output f ≡ 0 (the plateau's loss scale)."""
        return float(self.loss(np.zeros(self.depth)))

    def output(self, X: np.ndarray) -> np.ndarray:
        """f(s_i; X) at the quadrature nodes."""
        return self._evaluate(X)[0]

    def jacobian(self, X: np.ndarray) -> np.ndarray:
        """∂F_l/∂X_m = E[-ℓ''(f, y) ∂_l f ∂_m f - ℓ'(f, y) ∂_l∂_m f], for one X of shape (L,)
        (squared loss: E[-∂_l f ∂_m f + (aσ - f) ∂_l∂_m f])."""
        X = np.asarray(X, dtype=float)
        f, *grad = self._evaluate(X)
        args = [X[l] for l in range(self.depth)]
        second = self._chain_hessian(self._s, *args)
        residual = self._residual(f) * self._w
        curvature = self._w if self.loss_kind is LossKind.SQUARED else self._curvature(f) * self._w
        J = np.empty((self.depth, self.depth))
        index = 0
        for l in range(self.depth):
            for m in range(l, self.depth):
                h = np.broadcast_to(second[index], self._s.shape)
                value = -(grad[l] * grad[m] * curvature).sum() + (residual * h).sum()
                J[l, m] = J[m, l] = value
                index += 1
        return J


@hashable_cache(maxsize=128)
def reduced_model(
    spec: ActivationSpec | Classification,
    depth: int,
    amplitude: float = 1.0,
    nodes: int = DEFAULT_CHAIN_NODES,
) -> ReducedModel:
    """The reduced flow of MATH.md §4 (validated: depth ≥ 1, c_1 ≠ 0, analytic σ).

    Raises:
        ConfigurationError, NoLinearPathError, OutsideHypothesisError: see :func:`escape_constants`.
    """
    nodes = require_int(nodes, "nodes", minimum=2)
    cls = spec if isinstance(spec, Classification) else classify(spec)
    constants = escape_constants(cls, depth, amplitude)
    check_double_range(constants)
    act = cls.chain_activation
    check_chain_domain(act.expr, Z, constants.depth)
    split = is_piecewise_defined(act)
    s, w = split_gauss_hermite_rule(nodes // 2) if split else gauss_hermite_rule(nodes)
    teacher = float(amplitude) * np.asarray(activation_kernels(act).sigma(s), dtype=float)
    return ReducedModel(
        cls, act, constants.depth, float(amplitude), nodes, constants, s, w, teacher, split=split
    )


def check_double_range(constants: EscapeConstants) -> None:
    """Refuse a K that double precision cannot hold (σ = 1e-100·tanh at L = 4: K ≈ 6e-401
    reads 0.0, and T ∝ 1/K overflows): the double-precision flow would be wrong, not slow.

    Raises:
        NoEscapeError: K < 0 and outside double precision: the flow does not escape, which is
            the finding (not the range).
        NumericalError: K > 0 reads 0 or inf as a double.
    """
    value = constants.K.value
    as_double = float(value)
    if value != 0 and (as_double == 0 or not np.isfinite(as_double)):
        if value < 0:
            raise NoEscapeError(
                f"K = a μ₁ c_1^(L-1) = {mpmath.nstr(value, 6)} < 0: the flow does not escape "
                "the saddle at leading order"
            )
        raise NumericalError(
            f"K = {mpmath.nstr(value, 6)} is outside double precision (it reads {as_double}), "
            "and every escape time scales as 1/K: rescale σ or the amplitude, or use the "
            "mpmath ODE (escape --precision DIGITS)"
        )


def teacher_reduced_model(
    student: ActivationSpec | Classification,
    depth: int,
    teacher: ActivationSpec | Sequence[ActivationSpec] | TeacherSpec,
    loss: LossKind | str = LossKind.SQUARED,
    nodes: int = DEFAULT_CHAIN_NODES,
    split: bool | None = None,
) -> ReducedModel:
    """The reduced flow for a single-mode teacher g (values, or labels sign g) and a loss
    (module doc). A class D student is centred, and so is g (g − g(0)), as in
    :func:`symescape.symbolic.teacher.teacher_constants`, whose K and κ the model carries.

    ``split`` chooses the Gauss–Hermite rule mirrored at 0 (default: when σ or g is
    piecewise-defined, or for sign labels), or, when g jumps or kinks away from 0 too, a rule
    split at each such point (:func:`~symescape.precision.gauss.breakpoint_gauss_rule`, ``nodes``
    / 8 per piece); False forces the plain rule (to match a full network trained on the plain
    Gauss–Hermite data).

    Raises:
        ConfigurationError: a teacher with several modes (the single-direction ansatz is then not
            flow-invariant; see the block-mean flow of MATH.md §9).
        ZeroFirstHermiteError, NoLinearPathError, OutsideHypothesisError: see
            :func:`~symescape.symbolic.teacher.teacher_constants`.
    """
    loss = require_choice(LossKind, loss, "loss")
    nodes = require_int(nodes, "nodes", minimum=2)
    return _teacher_reduced_model(student, depth, teacher_spec(teacher), loss, nodes, split)


@lru_cache(maxsize=64)
def _teacher_reduced_model(
    student: ActivationSpec | Classification,
    depth: int,
    spec: TeacherSpec,
    loss: LossKind,
    nodes: int,
    split: bool | None,
) -> ReducedModel:
    if not spec.single:
        raise ConfigurationError(
            f"the teacher has {len(spec.modes)} modes: the single-direction ansatz is not "
            "flow-invariant then (the student picks up every mode); use one mode here"
        )
    cls = student if isinstance(student, Classification) else classify(student)
    constants = teacher_constants(cls, depth, spec, loss)
    act = cls.centred.activation if constants.centred else cls.activation
    check_chain_domain(act.expr, Z, constants.depth)
    g = spec.modes[0]
    if constants.centred:
        value = g.expr.xreplace({Z: 0})
        if not is_zero(value):
            g = Activation(f"({g.name}) - ({value})", g.expr - value)
    rule = population_rule(act, g, spec.labels, nodes, split)
    s = rule.nodes
    if spec.labels is LabelMode.SIGN:
        labels = sign_structure(g) * np.sign(s)
    else:
        labels = np.asarray(function_kernel(g)(s), dtype=float)
    return ReducedModel(
        cls, act, constants.depth, 1.0, nodes, constants, s, rule.weights, labels, loss, spec,
        rule.split, rule.breakpoints,
    )  # fmt: skip


@dataclass(frozen=True)
class PopulationRule:
    """The quadrature rule of a teacher's reduced field: E_s[h(s)] ≈ Σ_i w_i h(s_i)."""

    nodes: np.ndarray
    weights: np.ndarray
    split: bool  # mirrored at 0, or split at every breakpoint
    breakpoints: tuple[float, ...] = ()  # g's jumps and kinks, when the rule is split at each


def population_rule(
    student: Activation, g: Activation, labels: LabelMode, nodes: int, split: bool | None = None
) -> PopulationRule:
    """The rule :func:`teacher_reduced_model` integrates over (a check that trains on the same
    population takes it too): the plain Gauss–Hermite rule; mirrored at 0 when σ or g is
    piecewise-defined or the labels are signs (or ``split`` says so); and, then, when g jumps
    or kinks away from 0 too, split at each such point
    (:func:`~symescape.precision.gauss.breakpoint_gauss_rule`, ``nodes`` / 8 per piece). Split
    at 0 alone, floor(s)'s field was unresolved (gap 0.036 between 96 and 384 nodes). Needs no
    escape constants, so it exists for teachers outside the theory too."""
    if split is None:
        split = is_piecewise_defined(student) or is_piecewise_defined(g) or labels is LabelMode.SIGN
    points = tuple(float(p) for p in kink_points(g.expr, Z)) if split else ()
    if len(points) > 1:
        s, w = breakpoint_gauss_rule(points, max(4, nodes // 8))
        return PopulationRule(s, w, split, points)
    s, w = split_gauss_hermite_rule(nodes // 2) if split else gauss_hermite_rule(nodes)
    return PopulationRule(s, w, split)
