"""Escape directions of positively homogeneous networks from the origin (MATH.md §10).

For σ positively homogeneous (σ(cz) = cσ(z) for c > 0: ReLU, leaky ReLU, linear) the network
f_θ is positively L-homogeneous in θ = (W_1, …, W_L). Near the origin the squared loss is
𝓛(θ) = E[y²]/2 − g(θ) + O(|θ|^{2L}) with

    g(θ) = E[y(x) f_θ(x)],

so gradient descent from a small start follows the gradient flow of g, whose directions converge
to critical points of g on the unit sphere |θ| = 1: the escape directions. The optimal one
maximises g there. At a critical point ∇g = λθ, and Euler's identity per layer,
⟨W_l, ∇_{W_l} g⟩ = g, gives λ = L g and the balance ||W_l||_F² = 1/L.

Claim (seed 004): at the optimum, σ_1(W_l)/σ_2(W_l) ≥ l^{1/4} for every layer l.

Expectations are sample means over a fixed Gaussian sample (so g is one deterministic function);
its sampling error is reported as a standard error. The solver maximises the scale-free
g(θ)/|θ|^L by L-BFGS from random starts. With a finite sample g is piecewise polynomial (linear in
each first-layer row between the kinks w_j·x_i = 0) and a maximiser may sit on kinks, so
stationarity is measured twice: the one-sided Riemannian gradient, and the Clarke residual
(:func:`stationarity`).

Vector outputs (issue 16): with f_θ, y ∈ R^k, g(θ) = E[yᵀ f_θ(x)] and everything above holds as
written. Teachers are named by a :class:`~symescape.numeric.teachers.TeacherSpec`.

Solvers: :attr:`Solver.BATCHED` (default) ascends every restart in one array computation
(:func:`batched_ascent`: L-BFGS on the sphere, vectorised over restarts, analytic gradients from
the network engine with piecewise-linear kernels, optional early stop of restarts clearly below
the best); :attr:`Solver.LBFGS` is the original per-restart SciPy L-BFGS (the bench baseline).
:func:`search_optima` collects every distinct local optimum reached from random starts, from
directions of the leading-order gradient flow (GD from a small start) and from rank-2
constructions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum

import numpy as np

from symescape.errors import (
    ConfigurationError,
    NoEscapeError,
    NotReachedError,
    NumericalError,
    SymescapeError,
)
from symescape.experiments.sweeps import SweepStore, stored
from symescape.numeric.losses import Loss
from symescape.numeric.network import (
    ForwardPass,
    Weights,
    flatten_weights,
    loss_and_gradients,
    unflatten_weights,
)
from symescape.numeric.teachers import TeacherKind, TeacherSpec, build_teacher, parse_teacher
from symescape.numeric.threads import single_threaded_blas
from symescape.options import validate_depth
from symescape.symbolic.resolved import ActivationKernels, activation_kernels


class NotHomogeneousError(SymescapeError):
    """The activation is not positively homogeneous: escape directions are not defined."""


def _correlation(f: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # ℓ = −y f, so the batch mean is −g and the backward pass returns −∇g.
    return -y * f, -y


CORRELATION = Loss("correlation", _correlation)


def check_homogeneous(spec: str) -> ActivationKernels:
    """The activation's kernels, after checking σ(cz) = cσ(z) for c > 0 on a grid.

    Raises:
        NotHomogeneousError: σ is not positively homogeneous (e.g. tanh).
    """
    kernels = activation_kernels(spec)
    z = np.linspace(-3.0, 3.0, 61)
    for c in (0.37, 2.0, 5.5):
        if not np.allclose(kernels.sigma(c * z), c * kernels.sigma(z), rtol=1e-12, atol=1e-12):
            raise NotHomogeneousError(
                f"{kernels.activation.name} is not positively homogeneous (σ(cz) ≠ cσ(z) at "
                f"c = {c}): escape directions need ReLU, leaky ReLU or another homogeneous σ"
            )
    return kernels


class Solver(Enum):
    """How restarts are ascended: all at once (batched L-BFGS) or one SciPy L-BFGS each."""

    BATCHED = "batched"
    LBFGS = "lbfgs"


@dataclass(frozen=True, kw_only=True)
class EscapeDirectionConfig:
    """Network, teacher and solver settings.

    ``teacher`` a :class:`TeacherSpec` or its text (``modes``, ``linear:2,1``, ``units:2,1``,
    ``relu2:m=4``, ``deep:rank=2``); the default ``modes`` teacher is y = Σ_k a_k σ_t(v_k·x) with
    orthonormal v_k (seeded), amplitudes ``teacher_amplitudes``, σ_t ``teacher_activation``;
    ``outputs`` k; ``samples`` Gaussian inputs define g. ``prune``: with the batched solver, stop
    a restart once (after 30 iterations) its value is below ``prune`` × the best (None: never).
    """

    activation: str = "relu"
    depth: int = 4
    width: int = 12
    input_dim: int = 8
    outputs: int = 1
    teacher: TeacherSpec | str = "modes"
    teacher_activation: str = "relu"
    teacher_amplitudes: tuple[float, ...] = (1.0, -0.8, 0.6)
    samples: int = 4000
    restarts: int = 8
    max_iterations: int = 5000
    tolerance: float = 1e-13
    seed: int = 0
    solver: Solver | str = Solver.BATCHED
    prune: float | None = None

    def __post_init__(self) -> None:
        validate_depth(self.depth)
        for name in ("width", "input_dim", "samples", "restarts", "max_iterations", "outputs"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.seed < 0:
            raise ConfigurationError(f"seed must be ≥ 0, got {self.seed}")
        if self.samples < 2:
            raise ConfigurationError(
                f"samples must be ≥ 2 (g's standard error needs two), got {self.samples}"
            )
        if not isinstance(self.teacher, TeacherSpec):
            object.__setattr__(self, "teacher", parse_teacher(self.teacher))
        try:
            object.__setattr__(self, "solver", Solver(self.solver))
        except ValueError:
            raise ConfigurationError(f"unknown solver {self.solver!r}") from None
        if self.teacher.kind is TeacherKind.MODES:
            if self.outputs != 1:
                raise ConfigurationError("the modes teacher has one output; use units for k > 1")
            if len(self.modes_amplitudes) > self.input_dim:
                raise ConfigurationError("more teacher modes than input dimensions")
            if not any(self.modes_amplitudes):  # as TeacherSpec refuses modes:0
                raise ConfigurationError(
                    "the teacher's amplitudes are all 0: nothing to learn, no escape direction"
                )
        if not (np.isfinite(self.tolerance) and self.tolerance > 0):
            raise ConfigurationError(f"tolerance must be > 0, got {self.tolerance}")
        if self.prune is not None and not 0 < self.prune < 1:
            raise ConfigurationError(f"prune must be in (0, 1), got {self.prune}")

    @property
    def modes_amplitudes(self) -> tuple[float, ...]:
        return self.teacher.values or tuple(self.teacher_amplitudes)

    @property
    def shapes(self) -> tuple[tuple[int, int], ...]:
        if self.depth == 1:
            return ((self.outputs, self.input_dim),)
        inner = ((self.width, self.width),) * (self.depth - 2)
        return ((self.width, self.input_dim), *inner, (self.outputs, self.width))

    def settings(self) -> dict:
        """The settings as JSON values (the teacher as its text, Enums as their values)."""
        out = {}
        for key, value in vars(self).items():
            if isinstance(value, TeacherSpec):
                value = value.text()
            elif isinstance(value, Enum):
                value = value.value
            out[key] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True)
class Problem:
    """The fixed sample and teacher values that define g, and the student's kernels. ``y`` is
    (B,) for k = 1 and (B, k) for k ≥ 2 (then the network runs with vector outputs)."""

    x: np.ndarray
    y: np.ndarray
    kernels: ActivationKernels
    shapes: tuple[tuple[int, int], ...]

    @property
    def vector(self) -> bool:
        return self.y.ndim == 2


def make_problem(
    config: EscapeDirectionConfig, target: Callable[[np.ndarray], np.ndarray] | None = None
) -> Problem:
    """Sample x ~ N(0, I_D) and evaluate the teacher (or a user ``target`` x ↦ y).

    Raises:
        NotHomogeneousError: the student activation is not positively homogeneous.
        ConfigurationError: a target that gives non-finite or wrongly shaped values.
    """
    from symescape.numeric.teachers import orthonormal_teacher

    kernels = check_homogeneous(config.activation)
    rng = np.random.default_rng(config.seed)
    x = rng.standard_normal((config.samples, config.input_dim))
    if target is not None:
        y = np.asarray(target(x), dtype=float)
    elif config.teacher.kind is TeacherKind.MODES:
        teacher = orthonormal_teacher(
            config.input_dim, list(config.modes_amplitudes), seed=config.seed + 1
        )
        y = teacher(x, activation_kernels(config.teacher_activation))
    else:
        teacher = build_teacher(config.teacher, config.input_dim, config.outputs, config.seed + 1)
        y = teacher(x, activation_kernels(config.teacher_activation))
    if config.outputs == 1 and y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    expected = (config.samples,) if config.outputs == 1 else (config.samples, config.outputs)
    if y.shape != expected or not np.all(np.isfinite(y)):
        raise ConfigurationError(
            f"the target must give finite values of shape {expected}, got shape {np.shape(y)}"
        )
    return Problem(x, y, kernels, config.shapes)


def _norm2(theta: Weights) -> np.ndarray:
    return sum((w**2).sum(axis=(1, 2)) for w in theta)


def _scale(theta: Weights, factor: np.ndarray) -> Weights:
    return tuple(w * factor[:, None, None] for w in theta)


def objective(problem: Problem, theta: Weights) -> tuple[np.ndarray, Weights]:
    """g(θ) = E[yᵀ f_θ(x)] per ensemble member (E,) and ∇g."""
    value, _, grads = loss_and_gradients(
        theta, problem.x, problem.y, CORRELATION, problem.kernels, vector=problem.vector
    )
    return -value, tuple(-g for g in grads.gradients)


@dataclass(frozen=True)
class LayerSpectrum:
    layer: int
    singular_values: tuple[float, ...]
    ratio: float | None  # σ_1/σ_2 (None when W_l has a single singular value)
    bound: float  # l^{1/4}
    norm2: float  # ||W_l||_F²

    @property
    def holds(self) -> bool:
        return self.ratio is None or self.ratio >= self.bound

    def record(self) -> dict:
        return {
            "layer": self.layer,
            "singular_values": list(self.singular_values),
            "ratio": self.ratio,
            "bound": self.bound,
            "norm2": self.norm2,
            "holds": self.holds,
        }


def layer_spectra(weights: tuple[np.ndarray, ...]) -> tuple[LayerSpectrum, ...]:
    """Singular values of each W_l (2-D arrays), σ_1/σ_2 against l^{1/4}, ||W_l||²."""
    out = []
    for l, w in enumerate(weights, start=1):  # noqa: E741
        s = np.linalg.svd(w, compute_uv=False)
        ratio = None if s.size < 2 else float(s[0] / max(s[1], np.finfo(float).tiny))
        out.append(LayerSpectrum(l, tuple(map(float, s)), ratio, l**0.25, float((w**2).sum())))
    return tuple(out)


@dataclass(frozen=True)
class EscapeDirection:
    """The best critical point of g on the sphere over the restarts.

    ``value`` g(θ*), ``standard_error`` the sampling error of that mean, ``projected_gradient``
    the Riemannian gradient's norm there (σ'(0) as the kernel gives it), ``clarke_residual`` the
    distance from 0 of the projected Clarke subdifferential over the first-layer kinks (see
    :func:`stationarity`), ``kinks`` how many sample-unit pairs sit on a kink, ``layers`` the
    spectra, ``balance_error`` max_l |‖W_l‖² − 1/L|, ``values`` every restart's final g,
    ``violations`` the layers where σ_1/σ_2 < l^{1/4}."""

    config: EscapeDirectionConfig
    theta: tuple[np.ndarray, ...]
    value: float
    standard_error: float
    projected_gradient: float
    clarke_residual: float
    kinks: int
    layers: tuple[LayerSpectrum, ...]
    balance_error: float
    values: tuple[float, ...]
    iterations: int
    violations: tuple[int, ...] = field(default=())

    @property
    def balanced(self) -> bool:
        return self.balance_error <= 1e-6

    def record(self) -> dict:
        return {
            "value": self.value,
            "standard_error": self.standard_error,
            "projected_gradient": self.projected_gradient,
            "clarke_residual": self.clarke_residual,
            "kinks": self.kinks,
            "balanced": self.balanced,
            "balance_error": self.balance_error,
            "layers": [s.record() for s in self.layers],
            "bound_holds": not self.violations,
            "violations": list(self.violations),
            "restart_values": list(self.values),
            "iterations": self.iterations,
            "settings": self.config.settings(),
        }


def sample_products(problem: Problem, theta: tuple[np.ndarray, ...]) -> np.ndarray:
    """y(x_i)ᵀ f_θ(x_i) per sample (their mean is g(θ); their spread its standard error)."""
    from symescape.numeric.network import forward

    passed = forward(tuple(w[None] for w in theta), problem.x, problem.kernels, problem.vector)
    if problem.vector:
        return (problem.y * passed.outputs[0]).sum(axis=1)
    return problem.y * passed.output[0]


def random_directions(
    shapes: tuple[tuple[int, int], ...], count: int, rng: np.random.Generator
) -> Weights:
    """``count`` Gaussian points normalised to |θ| = 1, as an ensemble."""
    theta = tuple(rng.standard_normal((count, *shape)) for shape in shapes)
    return _scale(theta, 1 / np.sqrt(_norm2(theta)))


def _optimum(
    config: EscapeDirectionConfig,
    problem: Problem,
    found: list[tuple[tuple[np.ndarray, ...], int]],
) -> EscapeDirection:
    """The best of the ascended points, with its spectra and checks (computed at
    :func:`unit_size`, whose factor c scales g, its error and gradients back: at a teacher of
    amplitude 1e-300 the sampling error and |P∇g| underflowed to 0)."""
    problem, c = unit_size(problem)
    values = [c * float(objective(problem, tuple(w[None] for w in th))[0][0]) for th, _ in found]
    best = int(np.argmax(values))
    theta, iterations = found[best]
    products = sample_products(problem, theta)
    plain, clarke, kinks = stationarity(problem, theta)
    spectra = layer_spectra(theta)
    balance = max(abs(s.norm2 - 1 / config.depth) for s in spectra)
    return EscapeDirection(
        config,
        theta,
        values[best],
        c * float(products.std(ddof=1) / np.sqrt(products.size)),
        c * plain,
        c * clarke,
        kinks,
        spectra,
        float(balance),
        tuple(values),
        iterations,
        tuple(s.layer for s in spectra if not s.holds),
    )


TEACHER_SIZE_RANGE = (1 / 16, 16.0)
"""The RMS of y over the sample that the ascent takes as it is; outside, y is rescaled."""


def unit_size(problem: Problem) -> tuple[Problem, float]:
    """The problem with y divided by c, a power of 2 near y's RMS when that RMS is outside
    :data:`TEACHER_SIZE_RANGE` (else c = 1), and c. g is linear in y, g_y(θ) = c·g_{y/c}(θ), so the
    maximisers on the sphere are the same and values scale back exactly (c is a power of 2);
    the solvers' absolute tolerances then work at the size they were set for: a teacher of
    amplitude 1e-3 took 39 s against 5.5 s at 1."""
    largest = float(np.max(np.abs(problem.y)))
    if not np.isfinite(largest) or largest == 0:
        return problem, 1.0
    size = largest * float(np.sqrt(np.mean((problem.y / largest) ** 2)))  # y² underflows at 1e-300
    low, high = TEACHER_SIZE_RANGE
    if low <= size <= high:
        return problem, 1.0
    # a power of 2 that is a normal double (an RMS near the largest double made c = inf)
    c = float(2.0 ** np.clip(np.round(np.log2(size)), -1022, 1023))
    return replace(problem, y=problem.y / c), c


def _ascend(
    config: EscapeDirectionConfig, problem: Problem, starts: np.ndarray, progress: bool = False
) -> list[tuple[tuple[np.ndarray, ...], int]]:
    """Ascend every row of ``starts`` (E, P) with the configured solver: (θ, iterations) each
    (on the problem at :func:`unit_size`: the points, not the values, are returned)."""
    problem, _ = unit_size(problem)
    if config.solver is Solver.BATCHED:
        result = batched_ascent(
            problem, starts, config.depth, config.max_iterations, prune=config.prune
        )
        keep = np.flatnonzero(~result.pruned)
        found = [
            (tuple(w[0] for w in unflatten_ensemble(result.rows[k : k + 1], problem.shapes)),
             int(result.iterations[k]))
            for k in keep
        ]  # fmt: skip
        best = int(np.argmax(result.values[keep]))
        found[best] = polish(config, problem, *found[best])
        return found
    indices = range(len(starts))
    if progress:
        from symescape.progress import progress_bar

        indices = progress_bar(indices, desc=f"escape directions L={config.depth}", unit="restart")
    return [
        quasi_newton_ascent(
            problem,
            tuple(w[0] for w in unflatten_ensemble(starts[k : k + 1], problem.shapes)),
            config.depth,
            config.tolerance,
            config.max_iterations,
        )
        for k in indices
    ]


def polish(
    config: EscapeDirectionConfig, problem: Problem, theta: tuple[np.ndarray, ...], iterations: int
) -> tuple[tuple[np.ndarray, ...], int]:
    """The batched solver's best point, ascended once more by SciPy's L-BFGS (the original
    solver, on the fast piecewise-linear kernels, one BLAS thread): on first-layer kinks it
    settles g to round-off where the batched line search stops up to ~1e-7 short. Kept only if
    g increases."""
    fast = replace(problem, kernels=piecewise_linear_kernels(problem.kernels))
    with single_threaded_blas():
        again, more = quasi_newton_ascent(
            fast, theta, config.depth, config.tolerance, config.max_iterations
        )
        before = objective(fast, tuple(w[None] for w in theta))[0][0]
        after = objective(fast, tuple(w[None] for w in again))[0][0]
    return (again, iterations + more) if after > before else (theta, iterations)


def escape_direction(
    config: EscapeDirectionConfig,
    target: Callable[[np.ndarray], np.ndarray] | None = None,
    progress: bool = False,
) -> EscapeDirection:
    """Maximise g on the unit sphere from ``config.restarts`` random starts; the best one.

    Raises:
        NotHomogeneousError, ConfigurationError (see :func:`make_problem`); NoEscapeError when
        no restart reached a positive value of g (the target is uncorrelated with every
        network of this shape, so no escape direction exists).
    """
    problem = make_problem(config, target)
    rng = np.random.default_rng(config.seed + 2)
    starts = flatten_ensemble(random_directions(config.shapes, config.restarts, rng))
    result = _optimum(config, problem, _ascend(config, problem, starts, progress))
    if result.value <= 0:
        raise NoEscapeError("g ≤ 0 at every restart: no escape direction (target uncorrelated)")
    return result


def refine_from(
    config: EscapeDirectionConfig, problem: Problem, direction: tuple[np.ndarray, ...]
) -> EscapeDirection:
    """Ascend from one given direction (e.g. gradient descent's before escape): the local
    optimum it leads to."""
    start = flatten_weights(direction)[None, :]
    return _optimum(config, problem, _ascend(config, problem, start))


def cosine(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> float:
    """⟨a, b⟩/(|a||b|) over all layers."""
    dot = sum(float((x * y).sum()) for x, y in zip(a, b, strict=True))
    na = np.sqrt(sum(float((x**2).sum()) for x in a))
    nb = np.sqrt(sum(float((y**2).sum()) for y in b))
    return dot / (na * nb)


@dataclass(frozen=True)
class DynamicsCheck:
    """GD from a small random start on the squared loss of the same sample.

    ``escape_step`` the first step with loss below (1 − ``drop``) of its start; ``probe_step``
    where |θ| first reaches ``probe_norm`` (before the drop); ``optimum`` the solver's local
    optimum from θ/|θ| there; ``cosine`` between the two; ``ratios`` σ_1/σ_2 per layer along
    the run (rows: recorded steps); ``cosine_at_escape`` the cosine at ``escape_step`` (after
    the drop has begun the direction moves on)."""

    escape_step: int
    probe_step: int
    cosine: float
    optimum: EscapeDirection
    steps: tuple[int, ...]
    loss: tuple[float, ...]
    norms: tuple[float, ...]
    ratios: tuple[tuple[float | None, ...], ...]
    cosine_at_escape: float


def gradient_descent_check(
    config: EscapeDirectionConfig,
    init_scale: float = 0.05,
    learning_rate: float = 0.05,
    max_steps: int = 200_000,
    drop: float = 0.05,
    probe_norm: float | None = None,
    record_every: int = 50,
) -> DynamicsCheck:
    """Run GD (:func:`symescape.numeric.training.train` on the solver's fixed sample) from
    init_scale·(random unit direction) and compare its direction before the loss drops with the
    solver's optimum reached from that direction; σ₁/σ₂ recorded every ``record_every`` steps.

    Raises:
        ConfigurationError: init_scale ≤ 0 or learning_rate ≤ 0.
        NotReachedError: the loss did not drop within ``max_steps`` (a result, not a hang).
        NumericalError: the loss dropped before |θ| reached the probe norm.
    """
    from symescape.numeric.teachers import single_mode_teacher
    from symescape.numeric.training import DataMode, TrainingConfig, train

    if not (init_scale > 0 and learning_rate > 0):
        raise ConfigurationError("init_scale and learning_rate must be > 0")
    if config.outputs != 1:
        raise ConfigurationError("the GD check trains a scalar-output network (k = 1)")
    problem = make_problem(config)
    rng = np.random.default_rng(config.seed + 3)
    theta = _scale(random_directions(config.shapes, 1, rng), np.array([init_scale]))
    probe_norm = probe_norm if probe_norm is not None else 4 * init_scale
    settings = TrainingConfig(
        steps=max_steps, learning_rate=learning_rate, data=DataMode.FIXED,
        batch=config.samples, seed=config.seed, record_every=1, stop_loss_fraction=1 - drop,
    )  # fmt: skip
    record = train(
        theta, single_mode_teacher(config.input_dim), problem.kernels, settings,
        progress=False, keep_weights=True, fixed_batch=(problem.x, problem.y, None),
    )  # fmt: skip
    if not record.stopped_early:
        raise NotReachedError(f"the loss did not drop by {drop:.0%} within {max_steps} steps")
    loss = record.loss[:, 0]
    norm = np.sqrt(record.layer_norms[:, 0, :].sum(axis=1))
    step = int(record.steps[-1])
    reached = np.flatnonzero(norm >= probe_norm)
    if not reached.size or record.steps[reached[0]] >= step:
        raise NumericalError("the loss dropped before |θ| reached the probe norm")
    probe_step = int(record.steps[reached[0]])
    probe = tuple(w[reached[0], 0] / norm[reached[0]] for w in record.weight_history)
    kept = np.flatnonzero(record.steps % record_every == 0)
    steps = [int(record.steps[k]) for k in kept]
    losses = [float(loss[k]) for k in kept]
    norms = [float(norm[k]) for k in kept]
    ratios = [
        tuple(s.ratio for s in layer_spectra(tuple(w[k, 0] for w in record.weight_history)))
        for k in kept
    ]
    theta = record.weights
    optimum = refine_from(config, problem, probe)
    return DynamicsCheck(
        step,
        probe_step,
        cosine(probe, optimum.theta),
        optimum,
        tuple(steps),
        tuple(losses),
        tuple(norms),
        tuple(ratios),
        cosine(tuple(w[0] for w in theta), optimum.theta),
    )


def quasi_newton_ascent(
    problem: Problem, theta: tuple[np.ndarray, ...], depth: int, tolerance: float, max_iter: int
) -> tuple[tuple[np.ndarray, ...], int]:
    """Maximise the scale-free h(θ) = g(θ)/|θ|^L (constant along rays, so its maximisers are the
    sphere's, scaled) by L-BFGS; return the point normalised to |θ| = 1."""
    from scipy.optimize import minimize

    def negative(vector: np.ndarray) -> tuple[float, np.ndarray]:
        weights = unflatten_weights(vector, problem.shapes)
        value, grad = objective(problem, weights)
        norm2 = float(vector @ vector)
        g = float(value[0])
        flat = flatten_weights(tuple(x[0] for x in grad))
        h = g / norm2 ** (depth / 2)
        dh = flat / norm2 ** (depth / 2) - depth * g * vector / norm2 ** (depth / 2 + 1)
        return -h, -dh

    start = flatten_weights(theta)
    start = start / np.linalg.norm(start)
    result = minimize(
        negative,
        start,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "gtol": tolerance, "ftol": 0.0, "maxcor": 30},
    )
    vector = result.x / np.linalg.norm(result.x)
    return tuple(w[0] for w in unflatten_weights(vector, problem.shapes)), int(result.nit)


def _first_layer_kinks(
    problem: Problem, theta: tuple[np.ndarray, ...], delta: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Samples i and live first-layer units j with |w_j·x_i| ≤ δ|w_j||x_i|; with b_{1,j}(x_i)
    (the upstream gradient of g) and the current slope σ'(z) there."""
    from symescape.numeric.network import backward, forward

    weights = tuple(w[None] for w in theta)
    passed = forward(weights, problem.x, problem.kernels, problem.vector)
    z1 = passed.pre[0][0]
    if len(theta) == 1:
        return np.empty((0, 2), int), np.empty(0), np.empty(0)
    back = backward(weights, passed, -problem.y[None], problem.kernels)
    upstream = -back.upstream[0][0]  # b_1 for g (the pass was for −g)
    scale = np.linalg.norm(theta[0], axis=1)[None, :] * np.linalg.norm(problem.x, axis=1)[:, None]
    kinks = np.argwhere((np.abs(z1) <= delta * scale) & (np.abs(upstream) > 0))
    slopes = problem.kernels.derivative(z1)
    return kinks, upstream[kinks[:, 0], kinks[:, 1]], slopes[kinks[:, 0], kinks[:, 1]]


def _kink_columns(problem: Problem, theta: tuple[np.ndarray, ...], kinks: np.ndarray) -> np.ndarray:
    """Unit vectors in θ-space along x_i in row j of W_1, one per kink (i, j)."""
    size = sum(w.size for w in theta)
    rows, cols = theta[0].shape
    out = np.zeros((len(kinks), size))
    for k, (i, j) in enumerate(kinks):
        out[k, j * cols : (j + 1) * cols] = problem.x[i] / np.linalg.norm(problem.x[i])
    return out


def stationarity(
    problem: Problem, theta: tuple[np.ndarray, ...], delta: float = 1e-7
) -> tuple[float, float, int]:
    """(|P∇g|, Clarke residual, kinks): the Riemannian gradient's norm with σ'(0) as the kernel
    gives it, and the distance from 0 of the projected Clarke subdifferential over the first-
    layer kinks (σ'(0) free in [σ'(0−), σ'(0+)] at each sample-unit pair with |w_j·x_i| ≤ δ):
    with a finite sample g is piecewise polynomial and a maximiser may sit on a kink, where the
    Clarke residual, not the one-sided gradient, is 0."""
    from scipy.optimize import lsq_linear

    weights = tuple(w[None] for w in theta)
    _, grad = objective(problem, weights)
    vector = flatten_weights(theta)
    vector = vector / np.linalg.norm(vector)
    G = flatten_weights(tuple(g[0] for g in grad))
    tangent = G - (vector @ G) * vector
    plain = float(np.linalg.norm(tangent))
    kinks, upstream, slopes = _first_layer_kinks(problem, theta, delta)
    if not len(kinks):
        return plain, plain, 0
    low = float(-problem.kernels.sigma(np.array([-1.0]))[0])
    high = float(problem.kernels.sigma(np.array([1.0]))[0])
    columns = _kink_columns(problem, theta, kinks)
    scale = upstream * np.linalg.norm(problem.x[kinks[:, 0]], axis=1) / problem.x.shape[0]
    A = columns.T * scale[None, :]
    A = A - np.outer(vector, vector @ A)
    lower, upper = low - slopes, high - slopes
    lower, upper = np.minimum(lower, upper), np.maximum(lower, upper) + 1e-300
    fit = lsq_linear(A, -tangent, bounds=(lower, upper), tol=1e-15)
    return plain, float(np.linalg.norm(tangent + A @ fit.x)), len(kinks)


def rank_one_constant(result: EscapeDirection) -> float:
    """g*·L^{L/2}: for an optimum that is one balanced rank-one path (‖W_l‖² = 1/L, every layer
    rank one, positive downstream weights) f = L^{-L/2} σ(ŵ·x), so this is max_ŵ E[y σ(ŵ·x)],
    the same at every depth — a check of the rank-one structure across depths."""
    return result.value * result.config.depth ** (result.config.depth / 2)


def depth_sweep_settings(quick: bool, teacher: str = "relu2:m=6", outputs: int = 3) -> dict:
    """The solver settings of :func:`depth_sweep` (recorded with the figure's data)."""
    return {
        "samples": 400 if quick else 600,
        "restarts": 2,
        "width": 6,
        "input_dim": 6,
        "teacher": teacher,
        "outputs": outputs,
    }


def depth_sweep(
    depths: tuple[int, ...],
    quick: bool,
    store: SweepStore | None = None,
    teacher: str = "relu2:m=6",
    outputs: int = 3,
) -> list[dict]:
    """Every distinct local optimum at each depth (the :meth:`OptimaSearch.record`s) for one
    teacher, stored per depth when ``store`` is a :class:`symescape.sweeps.SweepStore`
    (atomic, reused on rerun)."""
    settings = depth_sweep_settings(quick, teacher, outputs)
    rows = []
    for depth in depths:
        config = EscapeDirectionConfig(depth=depth, **settings)

        def compute(config: EscapeDirectionConfig = config) -> dict:
            return search_optima(config).record()

        rows.append(stored(store, optima_search_key(config), compute))
    return rows


def optima_search_key(config: EscapeDirectionConfig) -> dict:
    """The stored-point parameters of ``search_optima(config).record()`` (default starts): every
    setting of the configuration, so the ``relu-low-rank`` claim and the ReLU figure find each
    other's searches in a shared store."""
    return {"experiment": "optima-search", **config.settings()}


# ---------------------------------------------------------------------------------------------
# The batched solver: every restart in one array computation.


def piecewise_linear_kernels(kernels: ActivationKernels) -> ActivationKernels:
    """The same positively homogeneous σ as two slopes: σ(z) = σ(1) z for z > 0, −σ(−1) z for
    z < 0 (exact for a homogeneous σ, see :func:`check_homogeneous`), σ'(0) as the kernel gives
    it; NumPy ufuncs instead of the generated piecewise code (an order of magnitude faster)."""
    up = float(kernels.sigma(np.array([1.0]))[0])
    down = -float(kernels.sigma(np.array([-1.0]))[0])
    at_zero = float(kernels.derivative(np.array([0.0]))[0])
    if down == 0.0:

        def sigma(z: np.ndarray) -> np.ndarray:
            return np.maximum(z, 0.0) if up == 1.0 else up * np.maximum(z, 0.0)
    else:

        def sigma(z: np.ndarray) -> np.ndarray:
            return up * np.maximum(z, 0.0) + down * np.minimum(z, 0.0)

    middle, half = (up + down) / 2, (up - down) / 2
    if at_zero == middle:

        def derivative(z: np.ndarray) -> np.ndarray:
            slope = np.sign(z)
            slope *= half
            slope += middle
            return slope
    else:

        def derivative(z: np.ndarray) -> np.ndarray:
            return np.where(z > 0, up, np.where(z < 0, down, at_zero))

    return replace(kernels, sigma=sigma, derivative=derivative)


def flatten_ensemble(weights: Weights) -> np.ndarray:
    """An ensemble's weights as rows (E, P), layer by layer (each row as :func:`flatten_weights`
    of that member)."""
    return np.concatenate([w.reshape(w.shape[0], -1) for w in weights], axis=1)


def unflatten_ensemble(rows: np.ndarray, shapes: tuple[tuple[int, int], ...]) -> Weights:
    """Inverse of :func:`flatten_ensemble`."""
    out, start = [], 0
    for shape in shapes:
        size = shape[0] * shape[1]
        out.append(rows[:, start : start + size].reshape((rows.shape[0], *shape)))
        start += size
    return tuple(out)


class BatchedObjective:
    """g and its Riemannian gradient P∇g = ∇g − L g θ at unit rows θ (E, P), for any subset of
    restarts in one pass of the network engine (piecewise-linear kernels, the shared sample
    copied per member so every product is a contiguous BLAS call)."""

    def __init__(self, problem: Problem, depth: int) -> None:
        self.problem = problem
        self.depth = depth
        self.kernels = piecewise_linear_kernels(problem.kernels)
        self._inputs: dict[int, np.ndarray] = {}
        self.evaluations = 0

    def inputs(self, count: int) -> np.ndarray:
        if count not in self._inputs:
            x = self.problem.x
            self._inputs[count] = np.ascontiguousarray(np.broadcast_to(x, (count, *x.shape)))
        return self._inputs[count]

    def value(self, rows: np.ndarray) -> tuple[np.ndarray, ForwardPass]:
        """g at each row (E,), with the forward pass (for :meth:`gradient`)."""
        from symescape.numeric.network import forward

        theta = unflatten_ensemble(rows, self.problem.shapes)
        vector = self.problem.vector
        # no checks per evaluation: x is the problem's own Gaussian sample, and the rows are
        # unit vectors of the problem's shapes (a NaN row would give g = NaN, which the line
        # search's comparisons reject, where it used to raise)
        passed = forward(theta, self.inputs(rows.shape[0]), self.kernels, vector, validate=False)
        products = self.problem.y * (passed.outputs if vector else passed.output)
        if vector:
            products = products.sum(axis=-1)
        self.evaluations += rows.shape[0]
        return products.sum(axis=1) / products.shape[1], passed

    def gradient(self, rows: np.ndarray, g: np.ndarray, passed: ForwardPass) -> np.ndarray:
        """P∇g = ∇g − L g θ at unit rows, from their forward pass."""
        from symescape.numeric.network import backward

        theta = unflatten_ensemble(rows, self.problem.shapes)
        f = passed.outputs if self.problem.vector else passed.output
        back = backward(theta, passed, np.broadcast_to(-self.problem.y, f.shape), self.kernels)
        return -flatten_ensemble(back.gradients) - self.depth * g[:, None] * rows

    def __call__(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g, passed = self.value(rows)
        return g, self.gradient(rows, g, passed)


def _subset(passed: ForwardPass, keep: np.ndarray) -> ForwardPass:
    return ForwardPass(tuple(z[keep] for z in passed.pre), tuple(h[keep] for h in passed.post))


@dataclass(frozen=True)
class AscentResult:
    """Batched ascent output: unit points ``rows`` (E, P), values g, Riemannian gradient norms,
    iterations per restart, and which restarts were pruned (stopped early, below the best)."""

    rows: np.ndarray
    values: np.ndarray
    gradient_norms: np.ndarray
    iterations: np.ndarray
    pruned: np.ndarray
    evaluations: int


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def batched_ascent(
    problem: Problem,
    starts: np.ndarray,
    depth: int,
    max_iterations: int = 5000,
    gradient_tolerance: float = 1e-11,
    memory: int = 20,
    prune: float | None = None,
    warmup: int = 30,
    stall_window: int = 10,
    stall_tolerance: float = 1e-11,
) -> AscentResult:
    """Maximise g on the unit sphere from every row of ``starts`` (E, P) at once: L-BFGS on
    F = −g with the Riemannian gradient P∇g = ∇g − L g θ, steps retracted by θ ↦ θ/|θ| (g/|θ|^L
    is constant on rays, so this is L-BFGS on h = g/|θ|^L), an Armijo backtracking line search
    per restart (on failure the memory is cleared and the gradient tried). A restart stops when
    |P∇g| ≤ ``gradient_tolerance``·L·g, when no step along the gradient increases g or g gained
    less than ``stall_tolerance``·g over the last
    ``stall_window`` iterations (g sits on a kink to round-off), or after ``max_iterations``;
    with ``prune``, once past ``warmup`` iterations, when its g is below ``prune`` × the best g
    found so far."""
    evaluate = BatchedObjective(problem, depth)
    rows = _unit(np.array(starts, dtype=float))
    count, size = rows.shape
    with single_threaded_blas():
        g, grad = evaluate(rows)
        history_s = np.zeros((count, memory, size))
        history_y = np.zeros((count, memory, size))
        rho = np.zeros((count, memory))
        active = np.ones(count, bool)
        pruned = np.zeros(count, bool)
        iterations = np.zeros(count, int)
        recent = [g.copy()]
        for it in range(max_iterations):
            norms = np.linalg.norm(grad, axis=1)
            active &= norms > gradient_tolerance * depth * np.abs(g)
            if it >= stall_window:  # no progress over the window: on a kink to round-off
                active &= g - recent[-stall_window] > stall_tolerance * np.abs(g)
            if prune is not None and it >= warmup:
                low = active & (g < prune * g.max())
                pruned |= low
                active &= ~low
            idx = np.flatnonzero(active)
            if not idx.size:
                break
            direction = _two_loop(-grad[idx], history_s[idx], history_y[idx], rho[idx], it, memory)
            direction -= (direction * rows[idx]).sum(axis=1, keepdims=True) * rows[idx]
            slope = (direction * grad[idx]).sum(axis=1)  # dg along the direction (> 0 wanted)
            bad = slope <= 0
            if np.any(bad):
                direction[bad] = grad[idx[bad]]
                rho[idx[bad]] = 0.0
                slope[bad] = norms[idx[bad]] ** 2
            first = rho[idx].max(axis=1) == 0
            scale = np.where(first, np.minimum(1.0, 0.1 / np.linalg.norm(direction, axis=1)), 1.0)
            new_rows, new_g, new_grad, ok = _line_search(
                evaluate, rows[idx], g[idx], direction * scale[:, None], slope * scale
            )
            iterations[idx] += 1
            # A failed line search along a quasi-Newton direction (a kink in the way) is retried
            # along the gradient with the memory cleared; only a failed gradient step stops.
            stalled = ~ok & first
            rho[idx[~ok & ~first]] = 0.0
            s = new_rows - rows[idx]
            y = grad[idx] - new_grad  # gradient of F = −g
            sy = (s * y).sum(axis=1)
            good = ok & (sy > 1e-14 * np.linalg.norm(s, axis=1) * np.linalg.norm(y, axis=1))
            slot = it % memory
            history_s[idx, slot] = np.where(good[:, None], s, 0.0)
            history_y[idx, slot] = np.where(good[:, None], y, 0.0)
            rho[idx, slot] = np.where(good, 1.0 / np.where(good, sy, 1.0), 0.0)
            rows[idx[ok]], g[idx[ok]], grad[idx[ok]] = new_rows[ok], new_g[ok], new_grad[ok]
            active[idx[stalled]] = False
            recent = [*recent[-stall_window:], g.copy()]
    return AscentResult(
        rows, g, np.linalg.norm(grad, axis=1), iterations, pruned, evaluate.evaluations
    )


def _two_loop(
    gradient: np.ndarray, s: np.ndarray, y: np.ndarray, rho: np.ndarray, it: int, memory: int
) -> np.ndarray:
    """−H∇F by the L-BFGS two-loop recursion, vectorised over restarts (``gradient`` is ∇F;
    slots with ρ = 0 are empty and drop out)."""
    q = gradient.copy()
    slots = [(it - 1 - j) % memory for j in range(min(it, memory))]
    alphas = []
    for slot in slots:
        alpha = rho[:, slot] * (s[:, slot] * q).sum(axis=1)
        q -= alpha[:, None] * y[:, slot]
        alphas.append(alpha)
    gamma = np.ones(len(q))
    if slots:  # the newest non-empty pair sets the scale: γ = sᵀy / yᵀy = 1 / (ρ yᵀy)
        order = np.array(slots)  # newest first
        have = rho[:, order] > 0
        newest = np.argmax(have, axis=1)  # first non-empty slot in newest-first order
        found = have.any(axis=1)
        rows = np.flatnonzero(found)
        chosen = order[newest[rows]]
        yy = (y[rows, chosen] ** 2).sum(axis=1)
        gamma[rows] = 1.0 / (rho[rows, chosen] * yy)
    r = gamma[:, None] * q
    for slot, alpha in zip(reversed(slots), reversed(alphas), strict=True):
        beta = rho[:, slot] * (y[:, slot] * r).sum(axis=1)
        r += (alpha - beta)[:, None] * s[:, slot]
    return -r


def _line_search(
    evaluate: BatchedObjective,
    rows: np.ndarray,
    g: np.ndarray,
    direction: np.ndarray,
    slope: np.ndarray,
    trials: int = 12,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Armijo backtracking on the sphere, per restart: the first t ∈ {1, ½, ¼, …} with
    g(θ + t d) ≥ g(θ) + 10⁻⁴ t ⟨∇g, d⟩ (and a strict increase). ``ok`` False where none
    does."""
    new_rows, new_g = rows.copy(), g.copy()
    new_grad = np.zeros_like(rows)
    ok = np.zeros(len(rows), bool)
    step = np.ones(len(rows))
    for _ in range(trials):
        todo = np.flatnonzero(~ok)
        if not todo.size:
            break
        trial = _unit(rows[todo] + step[todo, None] * direction[todo])
        value, passed = evaluate.value(trial)
        accept = (value >= g[todo] + 1e-4 * step[todo] * slope[todo]) & (value > g[todo])
        hit = todo[accept]
        if hit.size:
            kept = passed if accept.all() else _subset(passed, accept)
            grad = evaluate.gradient(trial[accept], value[accept], kept)
            new_rows[hit], new_g[hit], new_grad[hit] = trial[accept], value[accept], grad
        ok[hit] = True
        step[todo[~accept]] *= 0.5
    return new_rows, new_g, new_grad, ok


# ---------------------------------------------------------------------------------------------
# Every distinct local optimum, from random, gradient-flow and rank-2 starts.


class StartKind(Enum):
    """Where a restart begins."""

    RANDOM = "random"
    FLOW = "flow"  # the direction of GD from a small start (leading order: the flow of g)
    RANK_TWO = "rank-2"  # two disjoint rank-one paths: every layer rank two


def flow_directions(
    problem: Problem, depth: int, count: int, rng: np.random.Generator, growth: float = 10.0
) -> np.ndarray:
    """Directions of gradient descent from small random starts, at leading order (E, P).

    Near the origin GD on the squared loss follows θ' = ∇g(θ) (MATH.md §10). With u = θ/|θ| and
    ds = |θ|^{L−2} dt this is du/ds = P∇g(u), d ln|θ|/ds = L g(u): the direction moves by
    projected gradient ascent while the norm grows. Euler steps of length 0.05/|P∇g| in u (then
    u ↦ u/|u|), stopped per start once ln|θ| has grown by ln(``growth``) (at most 400 steps)."""
    shapes = problem.shapes
    rows = flatten_ensemble(random_directions(shapes, count, rng))
    evaluate = BatchedObjective(problem, depth)
    grown = np.zeros(count)
    with single_threaded_blas():
        for _ in range(400):
            todo = np.flatnonzero(grown < np.log(growth))
            if not todo.size:
                break
            g, grad = evaluate(rows[todo])
            step = 0.05 / np.maximum(np.linalg.norm(grad, axis=1), 1e-300)
            rows[todo] = _unit(rows[todo] + step[:, None] * grad)
            grown[todo] += depth * g * step
    return rows


def rank_two_starts(
    shapes: tuple[tuple[int, int], ...], count: int, rng: np.random.Generator, noise: float = 0.05
) -> np.ndarray:
    """Starts made of two disjoint rank-one paths (E, P): the hidden units split in two groups;
    path j has first-layer rows a_j (a random unit input direction), all-ones blocks on its group
    in the middle layers, a random output vector c_j; path 2 scaled by a random ρ ∈ [0.4, 1];
    plus ``noise`` × a Gaussian. Every hidden layer is rank two (before the noise)."""
    depth = len(shapes)
    if depth < 2 or shapes[0][0] < 2:
        return flatten_ensemble(random_directions(shapes, count, rng))
    width = shapes[0][0]
    groups = (np.arange(width) < width // 2, np.arange(width) >= width // 2)
    out = []
    for _ in range(count):
        layers = [np.zeros(shape) for shape in shapes]
        for j, group in enumerate(groups):
            scale = 1.0 if j == 0 else rng.uniform(0.4, 1.0)
            a = rng.standard_normal(shapes[0][1])
            layers[0][group] = scale * a / np.linalg.norm(a)
            for layer in layers[1:-1]:
                layer[np.ix_(group, group)] = 1.0 / group.sum()
            c = rng.standard_normal(shapes[-1][0])
            layers[-1][:, group] = np.outer(c / np.linalg.norm(c), np.ones(group.sum()))
        row = np.concatenate([w.ravel() for w in layers])
        out.append(row / np.linalg.norm(row) + noise * rng.standard_normal(row.size) / np.sqrt(
            row.size
        ))
    return _unit(np.array(out))


@dataclass(frozen=True)
class LocalOptimum:
    """One distinct local maximum of g on the sphere: its value, how many restarts reached it
    (by start kind), the spectra of its layers, |P∇g| there, max_l |‖W_l‖² − 1/L|, and whether
    it is the best found."""

    value: float
    count: int
    sources: tuple[tuple[str, int], ...]
    layers: tuple[LayerSpectrum, ...]
    projected_gradient: float
    balance_error: float
    best: bool
    theta: tuple[np.ndarray, ...] = field(repr=False, compare=False)
    depth: int = 1

    @property
    def stationary(self) -> bool:
        """|P∇g| ≤ 10⁻⁶·L·g (a critical point to the solver's accuracy; with g ≤ 0 or a larger
        gradient the restart stopped on a flat or kinked stretch, not at an optimum)."""
        return self.value > 0 and self.projected_gradient <= 1e-6 * self.depth * self.value

    @property
    def worst_layer(self) -> LayerSpectrum | None:
        """The layer l ≥ 2 with the smallest (σ₁/σ₂)/l^{1/4} (None if no layer has a ratio)."""
        candidates = [s for s in self.layers if s.ratio is not None and s.layer >= 2]
        return min(candidates, key=lambda s: s.ratio / s.bound) if candidates else None

    @property
    def violations(self) -> tuple[int, ...]:
        return tuple(s.layer for s in self.layers if not s.holds)

    def record(self) -> dict:
        worst = self.worst_layer
        return {
            "value": self.value,
            "stationary": self.stationary,
            "count": self.count,
            "sources": dict(self.sources),
            "best": self.best,
            "projected_gradient": self.projected_gradient,
            "balance_error": self.balance_error,
            "layers": [s.record() for s in self.layers],
            "violations": list(self.violations),
            "worst_layer": None if worst is None else worst.layer,
            "worst_ratio": None if worst is None else worst.ratio,
            "worst_bound": None if worst is None else worst.bound,
        }


@dataclass(frozen=True)
class OptimaSearch:
    """Every distinct local optimum (best first) from random, flow and rank-2 starts; the best
    as an :class:`EscapeDirection` (with stationarity checks); restarts pruned early. Its record
    is the best's record plus ``optima``, ``worst_ratio`` (with its bound and optimum) and
    ``violations`` over all optima."""

    config: EscapeDirectionConfig
    optima: tuple[LocalOptimum, ...]
    best: EscapeDirection
    starts: tuple[tuple[str, int], ...]
    pruned: int
    evaluations: int

    @property
    def worst(self) -> tuple[float, float, int] | None:
        """(σ₁/σ₂, l^{1/4}, optimum index) at the layer l ≥ 2 with the smallest ratio/bound over
        all stationary optima (None when no layer has two singular values)."""
        found = [
            (o.worst_layer.ratio, o.worst_layer.bound, k)
            for k, o in enumerate(self.optima)
            if o.worst_layer is not None and o.stationary
        ]
        return min(found, key=lambda t: t[0] / t[1]) if found else None

    def record(self) -> dict:
        worst = self.worst
        return {
            **self.best.record(),
            "optima": [o.record() for o in self.optima],
            "starts": dict(self.starts),
            "pruned": self.pruned,
            "evaluations": self.evaluations,
            "worst_ratio": None if worst is None else worst[0],
            "worst_bound": None if worst is None else worst[1],
            "worst_optimum": None if worst is None else worst[2],
            "violations": [
                {"optimum": k, "value": o.value, "best": o.best, "layers": list(o.violations)}
                for k, o in enumerate(self.optima)
                if o.violations and o.stationary
            ],
        }


def _same_optimum(a: LocalOptimum, value: float, spectra: tuple[LayerSpectrum, ...]) -> bool:
    if abs(a.value - value) > 1e-7 * abs(a.value):
        return False
    for s, t in zip(a.layers, spectra, strict=True):
        u, v = np.array(s.singular_values), np.array(t.singular_values)
        if np.max(np.abs(u - v)) > 1e-3 * max(u[0], v[0]):
            return False
    return True


def search_optima(
    config: EscapeDirectionConfig,
    flow_starts: int | None = None,
    rank_two: int | None = None,
    target: Callable[[np.ndarray], np.ndarray] | None = None,
) -> OptimaSearch:
    """Ascend ``config.restarts`` random starts, ``flow_starts`` gradient-flow directions and
    ``rank_two`` rank-2 constructions (default: as many as restarts each), all in one batch, and
    group the converged points into distinct local optima (same g to 1e-7 and the same singular
    values per layer to 1e-3 of σ₁: invariant under the hidden-unit permutations).

    Raises:
        ConfigurationError: a negative count of starts.
        (and as :func:`escape_direction`)
    """
    for name, count in (("flow_starts", flow_starts), ("rank_two", rank_two)):
        if count is not None and count < 0:
            raise ConfigurationError(f"{name} must be ≥ 0, got {count}")
    problem = make_problem(config, target)
    scaled, size = unit_size(problem)  # ascend at unit size; values scaled back by size
    rng = np.random.default_rng(config.seed + 2)
    counts = {
        StartKind.RANDOM: config.restarts,
        StartKind.FLOW: config.restarts if flow_starts is None else flow_starts,
        StartKind.RANK_TWO: config.restarts if rank_two is None else rank_two,
    }
    blocks = [flatten_ensemble(random_directions(config.shapes, counts[StartKind.RANDOM], rng))]
    # a count of 0 makes no block ('--search-starts 0' failed reshaping an empty ensemble)
    if counts[StartKind.FLOW]:
        blocks.append(flow_directions(scaled, config.depth, counts[StartKind.FLOW], rng))
    if counts[StartKind.RANK_TWO]:
        blocks.append(rank_two_starts(config.shapes, counts[StartKind.RANK_TWO], rng))
    labels = [kind.value for kind, n in counts.items() for _ in range(n)]
    starts = np.concatenate([b for b in blocks if len(b)], axis=0)
    result = batched_ascent(
        scaled, starts, config.depth, config.max_iterations, prune=config.prune
    )
    result = replace(
        result, values=result.values * size, gradient_norms=result.gradient_norms * size
    )
    order = np.argsort(-result.values)
    groups: list[tuple[LocalOptimum, dict]] = []
    for k in order:
        if result.pruned[k]:
            continue
        theta = tuple(w[0] for w in unflatten_ensemble(result.rows[k : k + 1], config.shapes))
        spectra = layer_spectra(theta)
        for index, (optimum, sources) in enumerate(groups):
            if _same_optimum(optimum, float(result.values[k]), spectra):
                sources[labels[k]] = sources.get(labels[k], 0) + 1
                groups[index] = (replace(optimum, count=optimum.count + 1), sources)
                break
        else:
            balance = max(abs(s.norm2 - 1 / config.depth) for s in spectra)
            optimum = LocalOptimum(
                float(result.values[k]), 1, (), spectra, float(result.gradient_norms[k]),
                float(balance), not groups, theta, config.depth,
            )  # fmt: skip
            groups.append((optimum, {labels[k]: 1}))
    optima = tuple(replace(o, sources=tuple(sorted(src.items()))) for o, src in groups)
    if not optima or optima[0].value <= 0:
        raise NoEscapeError("g ≤ 0 at every restart: no escape direction (target uncorrelated)")
    polished = polish(config, scaled, optima[0].theta, int(result.iterations[order[0]]))
    best = _optimum(config, problem, [polished])
    return OptimaSearch(
        config,
        optima,
        best,
        tuple((kind.value, n) for kind, n in counts.items()),
        int(result.pruned.sum()),
        result.evaluations,
    )
