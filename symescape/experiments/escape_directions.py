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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from symescape.errors import ConfigurationError, SymescapeError
from symescape.numeric.losses import SQUARED, Loss
from symescape.numeric.network import (
    Weights,
    flatten_weights,
    loss_and_gradients,
    unflatten_weights,
)
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


@dataclass(frozen=True, kw_only=True)
class EscapeDirectionConfig:
    """Network, teacher and solver settings.

    The teacher is y = Σ_k a_k σ_t(v_k·x) with orthonormal v_k (seeded), σ_t
    ``teacher_activation``; ``samples`` Gaussian inputs define g.
    """

    activation: str = "relu"
    depth: int = 4
    width: int = 12
    input_dim: int = 8
    teacher_activation: str = "relu"
    teacher_amplitudes: tuple[float, ...] = (1.0, -0.8, 0.6)
    samples: int = 4000
    restarts: int = 8
    max_iterations: int = 5000
    tolerance: float = 1e-13
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.depth, bool) or int(self.depth) != self.depth or self.depth < 1:
            raise ConfigurationError(f"depth must be an integer ≥ 1, got {self.depth!r}")
        for name in ("width", "input_dim", "samples", "restarts", "max_iterations"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if len(self.teacher_amplitudes) > self.input_dim:
            raise ConfigurationError("more teacher modes than input dimensions")
        if not (np.isfinite(self.tolerance) and self.tolerance > 0):
            raise ConfigurationError(f"tolerance must be > 0, got {self.tolerance}")

    @property
    def shapes(self) -> tuple[tuple[int, int], ...]:
        if self.depth == 1:
            return ((1, self.input_dim),)
        inner = ((self.width, self.width),) * (self.depth - 2)
        return ((self.width, self.input_dim), *inner, (1, self.width))


@dataclass(frozen=True)
class Problem:
    """The fixed sample and teacher values that define g, and the student's kernels."""

    x: np.ndarray
    y: np.ndarray
    kernels: ActivationKernels
    shapes: tuple[tuple[int, int], ...]


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
    if target is None:
        teacher = orthonormal_teacher(
            config.input_dim, list(config.teacher_amplitudes), seed=config.seed + 1
        )
        y = teacher(x, activation_kernels(config.teacher_activation))
    else:
        y = np.asarray(target(x), dtype=float)
    if y.shape != (config.samples,) or not np.all(np.isfinite(y)):
        raise ConfigurationError(
            f"the target must give {config.samples} finite values, got shape {np.shape(y)}"
        )
    return Problem(x, y, kernels, config.shapes)


def _norm2(theta: Weights) -> np.ndarray:
    return sum((w**2).sum(axis=(1, 2)) for w in theta)


def _scale(theta: Weights, factor: np.ndarray) -> Weights:
    return tuple(w * factor[:, None, None] for w in theta)


def objective(problem: Problem, theta: Weights) -> tuple[np.ndarray, Weights]:
    """g(θ) per ensemble member (E,) and ∇g."""
    value, _, grads = loss_and_gradients(theta, problem.x, problem.y, CORRELATION, problem.kernels)
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
            "settings": {
                k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(self.config).items()
            },
        }


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
    """The best of the ascended points, with its spectra and checks."""
    values = [float(objective(problem, tuple(w[None] for w in th))[0][0]) for th, _ in found]
    best = int(np.argmax(values))
    theta, iterations = found[best]
    f = loss_and_gradients(
        tuple(w[None] for w in theta), problem.x, problem.y, SQUARED, problem.kernels
    )[1].output[0]
    products = problem.y * f
    plain, clarke, kinks = stationarity(problem, theta)
    spectra = layer_spectra(theta)
    balance = max(abs(s.norm2 - 1 / config.depth) for s in spectra)
    return EscapeDirection(
        config,
        theta,
        values[best],
        float(products.std(ddof=1) / np.sqrt(products.size)),
        plain,
        clarke,
        kinks,
        spectra,
        float(balance),
        tuple(values),
        iterations,
        tuple(s.layer for s in spectra if not s.holds),
    )


def escape_direction(
    config: EscapeDirectionConfig,
    target: Callable[[np.ndarray], np.ndarray] | None = None,
    progress: bool = False,
) -> EscapeDirection:
    """Maximise g on the unit sphere from ``config.restarts`` random starts; the best one.

    Raises:
        NotHomogeneousError, ConfigurationError (see :func:`make_problem`); ArithmeticError when
        no restart reached a positive value of g (the target is uncorrelated with every
        network of this shape, so no escape direction exists).
    """
    problem = make_problem(config, target)
    rng = np.random.default_rng(config.seed + 2)
    starts = random_directions(config.shapes, config.restarts, rng)
    indices = range(config.restarts)
    if progress:
        from tqdm.auto import tqdm

        indices = tqdm(indices, desc=f"escape directions L={config.depth}", unit="restart")
    found = [
        quasi_newton_ascent(
            problem,
            tuple(w[k] for w in starts),
            config.depth,
            config.tolerance,
            config.max_iterations,
        )
        for k in indices
    ]
    result = _optimum(config, problem, found)
    if result.value <= 0:
        raise ArithmeticError("g ≤ 0 at every restart: no escape direction (target uncorrelated)")
    return result


def refine_from(
    config: EscapeDirectionConfig, problem: Problem, direction: tuple[np.ndarray, ...]
) -> EscapeDirection:
    """Ascend from one given direction (e.g. gradient descent's before escape): the local
    optimum it leads to."""
    found = quasi_newton_ascent(
        problem, direction, config.depth, config.tolerance, config.max_iterations
    )
    return _optimum(config, problem, [found])


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
    """Run GD from init_scale·(random unit direction) and compare its direction before the loss
    drops with the solver's optimum reached from that direction.

    Raises:
        ConfigurationError: init_scale ≤ 0 or learning_rate ≤ 0.
        ArithmeticError: the loss did not drop within ``max_steps`` (a result, not a hang).
    """
    if not (init_scale > 0 and learning_rate > 0):
        raise ConfigurationError("init_scale and learning_rate must be > 0")
    problem = make_problem(config)
    rng = np.random.default_rng(config.seed + 3)
    theta = _scale(random_directions(config.shapes, 1, rng), np.array([init_scale]))
    probe_norm = probe_norm if probe_norm is not None else 4 * init_scale
    start_loss = None
    probe, probe_step = None, -1
    steps, losses, norms, ratios = [], [], [], []
    for step in range(max_steps + 1):
        loss, _, grads = loss_and_gradients(theta, problem.x, problem.y, SQUARED, problem.kernels)
        loss = float(loss[0])
        start_loss = loss if start_loss is None else start_loss
        norm = float(np.sqrt(_norm2(theta))[0])
        if probe is None and norm >= probe_norm:
            probe, probe_step = tuple(w[0] / norm for w in theta), step
        if step % record_every == 0:
            steps.append(step)
            losses.append(loss)
            norms.append(norm)
            ratios.append(tuple(s.ratio for s in layer_spectra(tuple(w[0] for w in theta))))
        if loss < (1 - drop) * start_loss:
            break
        theta = tuple(w - learning_rate * g for w, g in zip(theta, grads.gradients, strict=True))
    else:
        raise ArithmeticError(f"the loss did not drop by {drop:.0%} within {max_steps} steps")
    if probe is None or probe_step >= step:
        raise ArithmeticError("the loss dropped before |θ| reached the probe norm")
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
    passed = forward(weights, problem.x, problem.kernels)
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


def depth_sweep(
    depths: tuple[int, ...], quick: bool, store: object | None = None, progress: bool = False
) -> list[dict]:
    """The optimum at each depth (JSON records), stored per depth when ``store`` is a
    :class:`symescape.sweeps.SweepStore` (atomic, reused on rerun)."""
    settings = {"samples": 2000 if quick else 4000, "restarts": 3 if quick else 6}

    def compute(depth: int) -> dict:
        config = EscapeDirectionConfig(depth=depth, **settings)
        result = escape_direction(config, progress=progress)
        return {**result.record(), "rank_one_constant": rank_one_constant(result)}

    rows = []
    for depth in depths:
        params = {"figure": "relu", "depth": depth, **settings}
        rows.append(
            store.get(params, lambda d=depth: compute(d)) if store is not None else compute(depth)
        )
    return rows
