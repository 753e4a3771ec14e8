"""Escape times from the exact reduced ODE (MATH.md §4, §6), two integrators.

- ``lsoda``: the paper's method and our baseline, LSODA in physical time with a terminal event;
- ``fast``: ours. The independent variable is τ = ln ρ with ρ = P^{1/L} the geometric mean of
  the X_l; the state is (ln X_1, …, ln X_L, t):

      d ln X_l/dτ = (F_l/X_l) / R,   dt/dτ = 1/R,   R = dτ/dt = (1/L) Σ_l F_l/X_l.

  On the plateau the X_l grow like ρ, so ln X_l is smooth in τ while t grows like ρ^{-(L-2)}: the
  stiff, 10^10-long plateau becomes a quadrature. The product criterion is the fixed endpoint
  τ* = ln ρ*; the loss criterion is an event. R ≤ 0 (the product stops growing) ends the run as
  a failure, never as an escape time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import Enum

import numpy as np
from scipy.integrate import solve_ivp

from symescape.errors import ConfigurationError, NoEscapeError, NumericalError
from symescape.numeric.reduced import ReducedModel
from symescape.options import RHO_STAR, require_int, require_real, require_real_array


class CriterionKind(Enum):
    """What ends the plateau: the geometric mean P^{1/L} of the X_l reaches ρ* (``product``,
    MATH.md §6), or the loss falls below a fraction of its initial value (``loss``)."""

    PRODUCT = "product"
    LOSS = "loss"


class EscapeMethod(Enum):
    """How the reduced ODE is integrated: ``fast`` (ours, in τ = ln ρ) or ``lsoda`` (the paper's
    method and our baseline, in physical time)."""

    FAST = "fast"
    LSODA = "lsoda"


@dataclass(frozen=True)
class EscapeCriterion:
    """``product`` (geometric mean of the X_l reaches ``value`` = ρ*) or ``loss`` (loss falls below
    ``value`` times its initial value). ``kind`` may be given as its string; it is stored as
    :class:`CriterionKind`.

    Product criterion: P^{1/L} = ρ*; loss criterion: 𝓛̃(X(t)) = value · 𝓛̃(X(0))  (MATH.md §6).
    """

    kind: CriterionKind
    value: float

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", CriterionKind(self.kind))
        except ValueError:
            raise ConfigurationError(
                f"criterion kind must be 'product' or 'loss', got {self.kind!r}"
            ) from None
        if not np.isfinite(self.value) or self.value <= 0:
            raise ConfigurationError(f"criterion value must be finite and > 0, got {self.value}")
        if self.kind is CriterionKind.LOSS and self.value >= 1:
            raise ConfigurationError(f"a loss fraction must be < 1, got {self.value}")

    @classmethod
    def parse(cls, text: str) -> EscapeCriterion:
        """``"product:0.5"`` or ``"loss:0.5"``."""
        kind, _, value = text.partition(":")
        try:
            number = float(value)
        except ValueError:
            raise ConfigurationError(
                f"criterion {text!r}: expected 'product:RHO' or 'loss:FRACTION'"
            ) from None
        return cls(kind.strip(), number)  # its own checks say what is wrong with the value

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.value:g}"


DEFAULT_CRITERION = EscapeCriterion(CriterionKind.PRODUCT, RHO_STAR)


class EscapeStatus(Enum):
    """How an escape-time computation ended.

    Whether T = inf{t : criterion met} was found within the budget (MATH.md §6).
    """

    ESCAPED = "escaped"
    NOT_REACHED = "not-reached"  # the time budget ran out first
    FAILED = "failed"  # the integrator failed or the flow stalled


@dataclass(frozen=True)
class EscapeResult:
    """``time`` is the escape time when ``status`` is ESCAPED, else None; ``time_reached`` the last
    time integrated; ``evaluations`` the number of field evaluations.

    T = inf{t : criterion met along dX_l/dt = F_l(X)}  (MATH.md §4, §6).
    """

    status: EscapeStatus
    time: float | None
    time_reached: float
    method: EscapeMethod
    message: str
    final_state: np.ndarray
    evaluations: int
    notes: tuple[str, ...] = ()  # what the caller should know of a result, e.g. a refined field
    # max relative gap of the field against 4× the nodes at the escape point (set on escapes)
    resolution_gap: float | None = None

    @property
    def escaped(self) -> bool:
        return self.status is EscapeStatus.ESCAPED


def as_criterion(criterion: EscapeCriterion | str) -> EscapeCriterion:
    """An :class:`EscapeCriterion`, or its text ``"product:0.5"`` / ``"loss:0.5"`` parsed.

    Raises:
        ConfigurationError: anything else, or text that is not a criterion.
    """
    if isinstance(criterion, EscapeCriterion):
        return criterion
    if isinstance(criterion, str):
        return EscapeCriterion.parse(criterion)
    raise ConfigurationError(
        f"criterion must be an EscapeCriterion or text like 'product:0.5', got "
        f"{type(criterion).__name__}"
    )


def validate_scales(scales: np.ndarray, depth: int, criterion: EscapeCriterion) -> np.ndarray:
    """Initial scales: L finite positive numbers, below ρ* for the product criterion."""
    scales = require_real_array(scales, "scales", finite=False).reshape(-1)
    if scales.shape[0] != depth:
        raise ConfigurationError(f"{scales.shape[0]} scales given for depth {depth}")
    if not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise ConfigurationError(f"initial scales must be finite and > 0, got {scales.tolist()}")
    if (
        criterion.kind is CriterionKind.PRODUCT
        and np.exp(np.mean(np.log(scales))) >= criterion.value
    ):
        raise ConfigurationError(
            f"the initial geometric mean {np.exp(np.mean(np.log(scales))):.4g} is already ≥ ρ* = "
            f"{criterion.value:g}: nothing to escape"
        )
    return scales


def _check_escapes(model: ReducedModel) -> None:
    if not all(hasattr(model, name) for name in ("constants", "depth", "field")):
        raise ConfigurationError(
            f"the escape ODE needs a ReducedModel (e.g. reduced_model('tanh', 4)), got "
            f"{model!r:.60} of type {type(model).__name__}"
        )
    if not model.constants.escapes:
        raise NoEscapeError(
            f"K = a μ₁ c_1^(L-1) = {float(model.constants.K):.6g} ≤ 0 for {model.activation.name}: "
            "the flow does not escape the saddle at leading order"
        )


MIN_RTOL = 100 * float(np.finfo(float).eps)
"""The smallest relative tolerance of the double-precision integrators (SciPy's own floor)."""


def validate_rtol(rtol: float) -> float:
    """A relative tolerance the double-precision integrators can meet: finite, ≥ :data:`MIN_RTOL`.

    Raises:
        ConfigurationError: NaN, ≤ 0, ≥ 1, or below double precision.
    """
    rtol = require_real(rtol, "rtol", minimum=0.0, strict=True)
    if rtol >= 1:
        raise ConfigurationError(f"rtol = {rtol:g} is no tolerance: a relative error must be < 1")
    if rtol < MIN_RTOL:
        raise ConfigurationError(
            f"rtol = {rtol:g} is below what double precision can give ({MIN_RTOL:g}, where SciPy "
            "would raise it itself); for more digits use the mpmath ODE (escape --precision)"
        )
    return rtol


RESOLUTION_TOLERANCE = 1e-6
"""Largest relative difference between the field on the model's rule and on 4× the nodes, at
the escape point, for the escape to be reported (resolved fields agree to ~1e-11)."""


_TINY_FIELD = 1e-290
"""Below this X_min^(L-1), a start whose rate reads 0 is taken to have underflowed."""


MAX_FIELD_EVALUATIONS = 2_000_000
"""Field evaluations one escape may use (a run from ε = 0.01 takes hundreds to a few thousand;
tanh at L = 3 from ε = 1e-158, a subnormal start now refused at rtol = 1e-10, took about
155 000 at that rtol, and takes 480 at rtol = 1e-6); past it the run is FAILED rather than left
running (an under-resolved field made DOP853's steps collapse for minutes)."""


def escape_time_ode(
    model: ReducedModel,
    scales: np.ndarray,
    criterion: EscapeCriterion | str = DEFAULT_CRITERION,
    *,
    method: EscapeMethod | str = EscapeMethod.FAST,
    rtol: float = 1e-10,
    max_time: float = np.inf,
    resolution_tolerance: float = RESOLUTION_TOLERANCE,
    max_evaluations: int = MAX_FIELD_EVALUATIONS,
) -> EscapeResult:
    """Escape time of the exact reduced flow from X(0) = ``scales``.

    dX_l/dt = E_s[(aσ(s) − f(s)) ∂_l f(s)],  T = inf{t : P(t)^{1/L} ≥ ρ*}  (MATH.md §4, §6).

    ``resolution_tolerance``: the largest relative gap between the field on the model's rule and
    on 4× its nodes at the escape point for the time to be reported (a caller that bounds the
    gap's effect itself, as ``escape_steps`` does in steps, passes ``inf``: only a non-finite
    gap then fails). ``max_evaluations``: field evaluations the run may use in all (the fast
    path's, then the stiff rerun's with what is left; a refined model's run has its own); past
    it the result is FAILED.

    Raises:
        NoEscapeError: K ≤ 0 (μ₁ ≤ 0 or a negative amplitude).
        ConfigurationError: bad scales or criterion, unknown method.
    """
    rtol = validate_rtol(rtol)
    max_time = require_real(max_time, "max_time", minimum=0.0, allow_inf=True)
    max_evaluations = require_int(max_evaluations, "max_evaluations", minimum=1)
    resolution_tolerance = require_real(
        resolution_tolerance, "resolution_tolerance", minimum=0.0, allow_inf=True
    )
    criterion = as_criterion(criterion)
    _check_escapes(model)
    scales = validate_scales(scales, model.depth, criterion)
    try:
        method = EscapeMethod(method)
    except ValueError:
        raise ConfigurationError(f"method must be 'fast' or 'lsoda', got {method!r}") from None
    start_size = _largest_field(model, scales)
    unresolved = _unresolved(model, scales, "start", START_RESOLUTION_TOLERANCE, start_size)
    if unresolved is None:
        unresolved = _subnormal_start(start_size, rtol)
    if unresolved is not None:
        return EscapeResult(EscapeStatus.FAILED, None, 0.0, method, unresolved, scales, 0)
    try:
        if method is EscapeMethod.FAST:
            result = _escape_fast_or_stiff(
                model, scales, criterion, rtol, max_time, max_evaluations
            )
        else:
            result = _escape_lsoda(model, scales, criterion, rtol, max_time, max_evaluations)
    except _EvaluationBudgetExceeded as stop:
        return EscapeResult(
            EscapeStatus.FAILED,
            None,
            stop.time,
            method,
            f"the threshold was not reached within {max_evaluations} field evaluations "
            f"(stopped at t = {stop.time:.4g}): the steps collapsed (a stiff or nearly stalled "
            "flow, or a field near double underflow); escape --precision DIGITS integrates it "
            "in mpmath",
            stop.state,
            stop.evaluations,
        )
    result = _checked_resolution(model, result, resolution_tolerance)
    finer = _refined_when_coarse(model, result, rtol)
    if finer is None:
        return result
    refined = escape_time_ode(
        finer,
        scales,
        criterion,
        method=method,
        rtol=rtol,
        max_time=max_time,
        resolution_tolerance=resolution_tolerance,
        max_evaluations=max_evaluations,
    )
    if not refined.escaped:
        return result
    note = (
        f"field refined from {model.nodes} to {finer.nodes} Gauss–Hermite nodes: at "
        f"{model.nodes} its relative gap at the escape point, {result.resolution_gap:.2g}, "
        "exceeded rtol"
    )
    return replace(refined, notes=(note, *refined.notes))


MAX_REFINED_NODES = 1536
"""The most Gauss–Hermite nodes the self-refinement of :func:`escape_time_ode` goes to (96 → 384
→ 1536)."""


def _refined_when_coarse(
    model: ReducedModel, result: EscapeResult, rtol: float
) -> ReducedModel | None:
    """The model on 4× the nodes when an escape's field gap (relative, against 4× the nodes, at
    the escape point) exceeds ``rtol``, so the time would carry the quadrature's error rather
    than the integrator's: atan at L = 1 from ε = 0.01 gave T with a 2.3e-9 relative error at
    rtol = 1e-10 (gap 4.4e-9 at 96 nodes; 384 nodes: 1.7e-11). None otherwise (resolved
    fields agree to ~1e-14–1e-11), for a GD map (escape_steps judges its gap in steps), or past
    :data:`MAX_REFINED_NODES`."""
    if not result.escaped or not isinstance(model, ReducedModel):
        return None
    if 4 * model.nodes > MAX_REFINED_NODES:
        return None
    gap = result.resolution_gap
    return model.refined if np.isfinite(gap) and gap > rtol else None


class _EvaluationBudgetExceeded(Exception):
    """Raised inside an integrator's right-hand side to end a run over its evaluation budget."""

    def __init__(self, time: float, state: np.ndarray, evaluations: int) -> None:
        super().__init__(time)
        self.time, self.state, self.evaluations = time, state, evaluations


def _integrator_failure(message: str, X: np.ndarray, criterion: EscapeCriterion) -> str:
    """The integrator's failure with where the flow stood: a flow that settles below the
    threshold (ρ* beyond its reach) makes the step size collapse."""
    if criterion.kind is CriterionKind.PRODUCT and np.all(X > 0):
        mean = float(np.exp(np.mean(np.log(X))))
        return (
            f"the integrator stopped with the geometric mean of X at {mean:.6g} < ρ* = "
            f"{criterion.value:g}: the flow stalls there (ρ* may be beyond its reach) "
            f"[{message}]"
        )
    return f"the integrator stopped: {message}"


def _checked_resolution(
    model: ReducedModel, result: EscapeResult, tolerance: float
) -> EscapeResult:
    """An escape whose end point the quadrature does not resolve is FAILED, not a number: e.g.
    σ = sin z + z³/6 at L = 6, where the 96-node field is positive at the end point and the
    384-node field is −1e136 (its Gaussian tails explode; see docs/normal_form.md). A resolved
    escape carries its gap, measured once here (a field on 4× the nodes): the refinement and
    escape_steps read it."""
    if not result.escaped:
        return result
    X = result.final_state
    gap = model.resolution_gap(X)
    unresolved = _unresolved(model, X, "escape point", tolerance, _largest_field(model, X), gap)
    if unresolved is not None:
        return replace(result, status=EscapeStatus.FAILED, time=None, message=unresolved)
    return replace(result, resolution_gap=gap)


_SUBNORMAL_FIELD = float(np.finfo(float).tiny / np.finfo(float).eps)
"""Below this (~1e-292) the field's doubles have lost relative digits to underflow."""


def _largest_field(model: ReducedModel, X: np.ndarray) -> float:
    """max_l |F_l(X)| (inf or nan when the field overflows)."""
    with np.errstate(all="ignore"):
        return float(np.max(np.abs(model.field(X))))


def _subnormal_start(size: float, rtol: float) -> str | None:
    """Why a start field below the smallest normal double cannot give T to ``rtol`` (None when
    it can): a subnormal keeps an absolute spacing of 4.9e-324, so its relative precision is
    4.9e-324/|F|, and T's error was measured at up to 1.4 times that (taken as 2×). Tanh at
    L = 3 from ε = 1e-159 (|F| = 6e-319, spacing 8e-6 relative) escaped 1.1e-5 off the ε⁻¹
    law that ε = 1e-150 and 1e-156 follow to 2e-11, and said nothing. ``size`` is the start's
    largest |F_l|."""
    if not np.isfinite(size) or size == 0 or size >= np.finfo(float).tiny:
        return None  # a zero field is the integrator's "underflows" refusal
    precision = 2 * float(np.spacing(size) / size)
    if precision <= rtol:
        return None
    # two digits, rounded up: the rtol suggested must itself be accepted
    exponent = int(np.floor(np.log10(precision)))
    suggested = float(np.ceil(precision / 10.0 ** (exponent - 1))) * 10.0 ** (exponent - 1)
    return (
        f"the start field is subnormal in double precision (largest |F_l| = {size:.3g}, "
        f"relative precision {precision:.2g} > rtol = {rtol:g}): T would carry that error; "
        f"escape --precision DIGITS integrates it in mpmath, or ask for rtol ≥ {suggested:.2g}"
    )


START_RESOLUTION_TOLERANCE = 1e-2
"""The gap allowed at the start: only a grossly unresolved field is refused there (x·exp(−100x²)
at 96 nodes: 13 %). A small start field can show a gap that is round-off, not resolution:
centred sigmoid at L = 5 from ε = 3e-3 reads 1.1e-5 and escapes resolved; the strict test
(:data:`RESOLUTION_TOLERANCE`) is at the escape point."""


def _unresolved(
    model: ReducedModel,
    X: np.ndarray,
    where: str,
    tolerance: float,
    size: float,
    gap: float | None = None,
) -> str | None:
    """Why the model's rule does not resolve the field at X (None when it does): either σ
    varies on scales the nodes miss (x·exp(-5x²) at L = 2 escapes correctly with 200 nodes) or
    σ's Gaussian tails dominate the chain (a cubic σ deep in the chain), which no rule fixes.
    ``size`` is max_l |F_l(X)| (:func:`_largest_field`); ``gap`` the model's resolution gap at X
    when the caller has it."""
    if np.isfinite(size) and size < _SUBNORMAL_FIELD:
        return None  # subnormal doubles lose relative digits: the gap would misread that
    if gap is None:
        gap = model.resolution_gap(X)
    if np.isfinite(gap) and gap <= tolerance:
        return None
    # a GD map (predict's escape_steps) carries its reduced model's rule
    nodes = getattr(model, "nodes", None) or getattr(getattr(model, "model", None), "nodes", 0)
    rule = f"between {nodes} and {4 * nodes} nodes" if nodes else "against 4× the nodes"
    return (
        f"the Gauss–Hermite field is not resolved at the {where} (relative gap {gap:.2g} "
        f"{rule}): if σ varies on finer scales "
        "than the rule resolves, raise the nodes (reduced_model(..., nodes=…)) or use the "
        "self-refining path (escape --precision DIGITS); if the gap persists, σ's Gaussian "
        "tails dominate the chain there: lower ρ* or the depth"
    )


STIFF_EVALUATIONS = 20_000
"""Field evaluations after which the explicit DOP853 run is taken as stiff and redone by LSODA
(a run from ε = 0.01 takes hundreds to a few thousand)."""

STIFF_RTOL_FACTOR = 1e-2
"""LSODA's rtol bounds each step, not T (measured: T off by up to ~60× rtol), so the stiff rerun
asks for rtol × this (at least MIN_RTOL)."""


def _escape_fast_or_stiff(
    model: ReducedModel,
    scales: np.ndarray,
    criterion: EscapeCriterion,
    rtol: float,
    max_time: float,
    max_evaluations: int = MAX_FIELD_EVALUATIONS,
) -> EscapeResult:
    """The log-variable flow by DOP853; where its steps collapse, the physical-time flow by
    LSODA (stiff-capable; in log variables it collapsed too, as dt/dτ = 1/R grows where the
    product stalls). σ = x + 30x² at L = 3 from ε = 0.05 (κ = 3600) leaves the balanced ray
    fast (X_2 → 0.05 while X_1, X_3 → 0.56): DOP853 spent its 2·10⁶ evaluations (2 min 15 s) by
    t = 0.17 and reported a failure, while the flow escapes at T = 292.29."""
    try:
        budget = min(STIFF_EVALUATIONS, max_evaluations)
        return _escape_fast(model, scales, criterion, rtol, max_time, budget)
    except _EvaluationBudgetExceeded as stop:
        stalled = _stalled_below_threshold(model, scales, stop)
        if stalled is not None:
            return stalled
        if stop.evaluations >= max_evaluations:
            raise  # nothing left for the stiff rerun
        stiff_rtol = max(rtol * STIFF_RTOL_FACTOR, MIN_RTOL)
        try:
            result = _escape_lsoda(
                model, scales, criterion, stiff_rtol, max_time, max_evaluations - stop.evaluations
            )
        except _EvaluationBudgetExceeded as late:  # both runs' evaluations count
            raise _EvaluationBudgetExceeded(
                late.time, late.state, late.evaluations + stop.evaluations
            ) from None
        note = (
            f"the flow is stiff here: DOP853 in log variables took {stop.evaluations} field "
            f"evaluations to reach t = {stop.time:.4g}, so LSODA integrated it in physical time "
            f"(rtol {stiff_rtol:g}; {result.evaluations} evaluations)"
        )
        return replace(result, notes=(note, *result.notes))


STALL_FRACTION = 1e-6
"""A collapsed DOP853 run whose rate R = mean_l F_l/X_l has fallen below this fraction of its
start's is taken to approach a fixed point short of the threshold (see
:func:`_stalled_below_threshold`)."""


def _stalled_below_threshold(
    model: ReducedModel, scales: np.ndarray, stop: _EvaluationBudgetExceeded
) -> EscapeResult | None:
    """A FAILED result when the log-variable run's steps collapsed because the product stalls:
    near a fixed point below the threshold R → 0 and dt/dτ = 1/R diverges, so DOP853's steps
    shrink to nothing; the stiff rerun then integrated the resting state for minutes (teacher
    amplitude a = 1e-9: the product cannot pass ~a, far below ρ* = 0.5). None otherwise (a stiff
    flow collapses with R large)."""
    start_rate = float(np.mean(model.field(scales) / scales))
    X = np.asarray(stop.state, dtype=float)
    rate = float(np.mean(model.field(X) / X))
    if not (np.all(np.isfinite(X)) and abs(rate) <= STALL_FRACTION * start_rate):
        return None
    rho = float(np.exp(np.mean(np.log(X))))
    return EscapeResult(
        EscapeStatus.FAILED,
        None,
        stop.time,
        EscapeMethod.FAST,
        f"the product stalls at ρ = {rho:.4g} short of the threshold (the growth rate fell to "
        f"{abs(rate) / start_rate:.1e} of its start's by t = {stop.time:.4g}): a fixed point of "
        "the reduced flow; a smaller teacher amplitude a lowers it (lower ρ* or raise a)",
        X,
        stop.evaluations,
    )


def _escape_fast(
    model: ReducedModel,
    scales: np.ndarray,
    criterion: EscapeCriterion,
    rtol: float,
    max_time: float,
    max_evaluations: int = MAX_FIELD_EVALUATIONS,
) -> EscapeResult:
    depth = model.depth
    count = [0]
    initial_loss = float(model.loss(scales))

    def rate(X: np.ndarray) -> tuple[np.ndarray, float]:
        count[0] += 1
        relative = model.field(X) / X
        return relative, float(relative.sum()) / depth  # the mean, without np.mean's overhead

    def rhs(tau: float, y: np.ndarray) -> np.ndarray:
        if count[0] >= max_evaluations:  # at most max_evaluations, then stop
            raise _EvaluationBudgetExceeded(float(y[-1]), np.exp(y[:depth]), count[0])
        relative, R = rate(np.exp(y[:depth]))
        if R <= 0:
            return np.zeros(depth + 1)
        return np.append(relative / R, 1.0 / R)

    def stalled(tau: float, y: np.ndarray) -> float:
        return rate(np.exp(y[:depth]))[1]

    def over_budget(tau: float, y: np.ndarray) -> float:
        return max_time - y[-1]

    def loss_event(tau: float, y: np.ndarray) -> float:
        return float(model.loss(np.exp(y[:depth]))) - criterion.value * initial_loss

    events = [stalled, over_budget]
    if criterion.kind is CriterionKind.LOSS:
        events.append(loss_event)
        tau_end = np.log(10.0)  # ρ = 10: far past any plateau; the loss event ends the run
    else:
        tau_end = np.log(criterion.value)
    for event in events:
        event.terminal = True
    tau0 = float(np.mean(np.log(scales)))
    _, R0 = rate(scales)
    if R0 <= 0:
        return EscapeResult(
            EscapeStatus.FAILED,
            None,
            0.0,
            EscapeMethod.FAST,
            (
                "the product does not grow at the start (dτ/dt ≤ 0)"
                if R0 < 0 or np.min(scales) ** (depth - 1) > _TINY_FIELD
                else "the field underflows double precision at this start (dτ/dt reads 0 with "
                f"X_min^(L-1) = {np.min(scales):.3g}^{depth - 1}); use escape --precision DIGITS"
            ),
            scales,
            count[0],
        )
    y0 = np.append(np.log(scales), 0.0)
    # ln X_l need absolute accuracy; t is controlled relatively (its own scale is 1/R0).
    atol = np.append(np.full(depth, rtol), rtol * 1e-3 / R0)
    sol = solve_ivp(rhs, (tau0, tau_end), y0, method="DOP853", rtol=rtol, atol=atol, events=events)
    final = sol.y[:, -1]
    X_final, t_final = np.exp(final[:depth]), float(final[-1])
    if sol.status == -1:
        return EscapeResult(
            EscapeStatus.FAILED,
            None,
            t_final,
            EscapeMethod.FAST,
            _integrator_failure(sol.message, X_final, criterion),
            X_final,
            count[0],
        )
    if sol.t_events[0].size:
        return EscapeResult(
            EscapeStatus.FAILED,
            None,
            t_final,
            EscapeMethod.FAST,
            "the product stopped growing (dτ/dt reached 0) before the threshold",
            X_final,
            count[0],
        )
    if sol.t_events[1].size:
        return EscapeResult(
            EscapeStatus.NOT_REACHED,
            None,
            max_time,
            EscapeMethod.FAST,
            f"time budget {max_time:g} exhausted before the threshold",
            X_final,
            count[0],
        )
    if criterion.kind is CriterionKind.LOSS:
        if sol.t_events[2].size:
            t_escape = float(sol.y_events[2][0][-1])
            return EscapeResult(
                EscapeStatus.ESCAPED,
                t_escape,
                t_escape,
                EscapeMethod.FAST,
                "loss threshold",
                np.exp(sol.y_events[2][0][:depth]),
                count[0],
            )
        return EscapeResult(
            EscapeStatus.FAILED,
            None,
            t_final,
            EscapeMethod.FAST,
            "ρ reached 10 without the loss threshold",
            X_final,
            count[0],
        )
    return EscapeResult(
        EscapeStatus.ESCAPED,
        t_final,
        t_final,
        EscapeMethod.FAST,
        "product threshold",
        X_final,
        count[0],
    )


def _escape_lsoda(
    model: ReducedModel,
    scales: np.ndarray,
    criterion: EscapeCriterion,
    rtol: float,
    max_time: float,
    max_evaluations: int = MAX_FIELD_EVALUATIONS,
) -> EscapeResult:
    count = [0]
    initial_loss = float(model.loss(scales))

    def rhs(t: float, X: np.ndarray) -> np.ndarray:
        if count[0] >= max_evaluations:  # at most max_evaluations, then stop
            raise _EvaluationBudgetExceeded(t, X, count[0])
        count[0] += 1
        return model.field(X)

    def threshold(t: float, X: np.ndarray) -> float:
        if criterion.kind is CriterionKind.PRODUCT:
            return float(np.mean(np.log(np.abs(X)))) - np.log(criterion.value)
        return float(model.loss(X)) - criterion.value * initial_loss

    threshold.terminal = True
    horizon = max_time if np.isfinite(max_time) else 1e60
    try:
        sol = solve_ivp(
            rhs,
            (0.0, horizon),
            scales,
            method="LSODA",
            rtol=rtol,
            atol=rtol * float(np.min(scales)) * 1e-2,
            events=threshold,
        )
    except (ValueError, RuntimeError, OverflowError) as exc:
        return EscapeResult(
            EscapeStatus.FAILED,
            None,
            0.0,
            EscapeMethod.LSODA,
            f"LSODA raised: {exc}",
            scales,
            count[0],
        )
    X_final, t_final = sol.y[:, -1], float(sol.t[-1])
    if sol.t_events[0].size:
        t_escape = float(sol.t_events[0][0])
        return EscapeResult(
            EscapeStatus.ESCAPED,
            t_escape,
            t_escape,
            EscapeMethod.LSODA,
            "threshold event",
            sol.y_events[0][0],
            count[0],
        )
    if sol.status == -1:
        return EscapeResult(
            EscapeStatus.FAILED,
            None,
            t_final,
            EscapeMethod.LSODA,
            _integrator_failure(sol.message, X_final, criterion),
            X_final,
            count[0],
        )
    status = EscapeStatus.NOT_REACHED if np.isfinite(max_time) else EscapeStatus.FAILED
    return EscapeResult(
        status,
        None,
        t_final,
        EscapeMethod.LSODA,
        f"reached t = {t_final:.4g} without crossing the threshold",
        X_final,
        count[0],
    )


@dataclass(frozen=True)
class EscapeReport:
    """Everything ``symescape escape`` prints: the ODE result, T_lead and, for a balanced start,
    T_1 (with κ), plus the constants used.

    T from dX_l/dt = F_l(X), with T_lead = ∫ du/(2K Π_l √(u + Δ_l)) and T_1 = ∫ dρ/(Kρ^{L-1}(1
        + κρ^{q-1}))  (MATH.md §4, §6, §7).
    """

    ode: EscapeResult
    time_leading: float | None
    time_corrected: float | None
    K: float
    kappa: float | None
    criterion: EscapeCriterion
    scales: np.ndarray
    balanced: bool
    centred: bool
    notes: tuple[str, ...]
    activation: str = ""
    depth: int = 0
    amplitude: float = 1.0

    def record(self) -> dict:
        """The report as a JSON-ready dict (the keys ``symescape escape --json`` prints)."""
        return {
            "activation": self.activation,
            "depth": self.depth,
            "scales": self.scales.tolist(),
            "amplitude": self.amplitude,
            "criterion": str(self.criterion),
            "method": self.ode.method.value,
            "status": self.ode.status.value,
            "time_ode": self.ode.time,
            "time_reached": self.ode.time_reached,
            "message": self.ode.message,
            "time_leading": self.time_leading,
            "time_corrected": self.time_corrected,
            "K": self.K,
            "kappa": self.kappa,
            "evaluations": self.ode.evaluations,
            "notes": list(self.notes),
        }


def escape_times(
    model: ReducedModel,
    scales: np.ndarray,
    criterion: EscapeCriterion | str = DEFAULT_CRITERION,
    *,
    method: EscapeMethod | str = EscapeMethod.FAST,
    rtol: float = 1e-10,
    max_time: float = np.inf,
) -> EscapeReport:
    """The ODE escape time with the leading-order and (balanced start) corrected quadratures.

    T_ode from dX_l/dt = F_l(X); T_lead = ∫_{s_min²}^{u*} du/(2K Π_l √(u + Δ_l)); T_1 =
        ∫_ε^{ρ*} dρ/(Kρ^{L-1}(1 + κρ^{q-1}))  (MATH.md §6, §7).

    The quadratures follow the product criterion; under a loss criterion they are not defined and
    are reported as None with a note.
    """
    from symescape.numeric.quadrature import corrected_time, leading_time

    criterion = as_criterion(criterion)
    ode = escape_time_ode(model, scales, criterion, method=method, rtol=rtol, max_time=max_time)
    scales = np.asarray(scales, dtype=float)
    K = float(model.constants.K)
    kappa = None if model.constants.kappa is None else float(model.constants.kappa)
    balanced = bool(np.all(scales == scales[0]))
    notes = list(ode.notes)
    if model.centred:
        notes.append("class D: the reduced flow and constants are those of σ̃ = σ - σ(0)")
    leading = corrected = None
    if criterion.kind is CriterionKind.PRODUCT and model.depth == 1:
        # f = X s: dX/dt = aμ₁ − X = K − X, so T = ln((K − ε)/(K − ρ*)) exactly; it stays O(1)
        # as ε → 0, and the quadratures (which drop −X) are off by O(1) however small ε is.
        exact = math.log((K - scales[0]) / (K - criterion.value)) if K > criterion.value else None
        notes.append(
            "L = 1: no plateau; the flow is linear, dX/dt = aμ₁ − X, and T = ln((aμ₁ − ε)/"
            f"(aμ₁ − ρ*)) = {exact:.12g} stays O(1) as ε → 0, so the leading-order quadratures "
            "(which drop −X) are not asymptotic and are not given"
            if exact is not None
            else "L = 1: no plateau (dX/dt = aμ₁ − X); aμ₁ ≤ ρ*, so X never reaches ρ*"
        )
    elif criterion.kind is CriterionKind.PRODUCT:
        leading = leading_time(scales, K, criterion.value)
        if balanced and kappa is not None and model.classification.q is not None:
            try:
                corrected = float(
                    corrected_time(
                        scales[0], K, kappa, model.classification.q, model.depth, criterion.value
                    )[0]
                )
            except (ConfigurationError, NumericalError) as exc:  # breakdown, or not a double
                notes.append(str(exc))
        elif balanced and kappa is None:
            corrected = leading
            notes.append("class A: no nonlinear correction, T_1 = T_lead")
    else:
        notes.append("the quadratures use the product criterion; not given for a loss criterion")
    return EscapeReport(
        ode,
        leading,
        corrected,
        K,
        kappa,
        criterion,
        scales,
        balanced,
        model.centred,
        tuple(notes),
        activation=model.activation.name,
        depth=model.depth,
        amplitude=model.amplitude,
    )
