"""Multi-mode teachers (MATH.md §9): the stage cascade from modewise blocks (figure 5).

Full-matrix GD with the weighted tensor Gauss–Hermite inputs x = Σ_k s_k v_k (the exact population
gradient: inputs orthogonal to the modes do not move the block structure), from modewise blocks
on the ansatz along each v_k at scale ε, rates normalised by the block width. Stage k escapes when
the geometric mean of block k's scalars (X_1^{(k)} = mean of its first-layer rows along v_k,
X_l^{(k)} = n_b × mean of its diagonal block, X_L^{(k)} = n_b × mean of its readout) reaches ρ*.
Measured at ε = 0.05, a = (4, 2, 1), L = 4: the stages escape at t = 55, 56, 62 against
decoupled predictions 83, 166, 332 — the off-block entries, driven from zero, grow to O(1) and pull
modes 2 and 3 out early; no three separated plateaus (see the README for the sweep).
The decoupled model predicts each stage by the single-mode reduced ODE
with amplitude a_k (K_k = a_k μ₁ c_1^{L-1}); the ranking rule orders stages by decreasing a_k.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import Enum
from functools import cached_property, lru_cache

import numpy as np

from symescape.errors import ConfigurationError, NumericalError, UnknownNameError
from symescape.experiments.sweeps import SweepStore, stored
from symescape.numeric.escape import escape_time_ode
from symescape.numeric.network import Weights, flatten_weights, unflatten_weights
from symescape.numeric.reduced import reduced_model
from symescape.numeric.stability import (
    SaddleBlocks,
    SchurPerronResult,
    metzler_gauge,
    saddle_blocks,
    schur_perron,
)
from symescape.numeric.teachers import Teacher, orthonormal_teacher
from symescape.numeric.training import DataMode, Engine, TrainingConfig, train
from symescape.options import RHO_STAR, require_choice, require_real
from symescape.precision.gauss import gauss_hermite_rule
from symescape.symbolic.classification import classify
from symescape.symbolic.resolved import ActivationKernels, activation_kernels


@dataclass(frozen=True, kw_only=True)
class CascadeConfig:
    activation: str = "tanh"
    depth: int = 4
    amplitudes: tuple[float, ...] = (4.0, 2.0, 1.0)
    eps: float = 0.05
    block_width: int = 4
    nodes: int = 16
    learning_rate: float = 0.02  # 0.05 meets the edge of stability after escape (loss spikes)
    time: float = 600.0

    def __post_init__(self) -> None:
        if self.depth < 2 or self.block_width < 1 or self.nodes < 1:
            raise ConfigurationError("modewise blocks need depth ≥ 2, block width ≥ 1, nodes ≥ 1")
        if not (np.isfinite(self.eps) and 0 < self.eps < RHO_STAR):
            raise ConfigurationError(f"need 0 < ε < ρ* = {RHO_STAR}, got {self.eps}")


def block_scalars(weights: Weights, directions: np.ndarray, block_width: int) -> np.ndarray:
    """Block-diagonal ansatz scalars, shape (E, M, L)."""
    modes, depth = directions.shape[0], len(weights)
    out = np.empty((weights[0].shape[0], modes, depth))
    for k in range(modes):
        rows = slice(k * block_width, (k + 1) * block_width)
        out[:, k, 0] = (weights[0][:, rows, :] @ directions[k]).mean(axis=1)
        for l in range(1, depth - 1):  # noqa: E741
            out[:, k, l] = weights[l][:, rows, rows].mean(axis=(1, 2)) * block_width
        out[:, k, -1] = weights[-1][:, 0, rows].mean(axis=1) * block_width
    return out


def off_diagonal_mass(weights: Weights, modes: int, block_width: int) -> float:
    """Largest |entry| of the internal matrices outside the diagonal blocks (0 at the start)."""
    worst = 0.0
    mask = np.kron(1 - np.eye(modes), np.ones((block_width, block_width))).astype(bool)
    for w in weights[1:-1]:
        worst = max(worst, float(np.abs(w[0][mask]).max(initial=0.0)))
    return worst


def modewise_start(config: CascadeConfig) -> Weights:
    """The width-M network of the modewise start: every block at ε on its own mode (M×M
    identities times ε, readout ε), ensemble axis of length 1."""
    modes, depth = len(config.amplitudes), config.depth
    eye = np.eye(modes)[None]
    return (
        (config.eps * eye,)
        + tuple(config.eps * eye for _ in range(depth - 2))
        + (np.full((1, 1, modes), config.eps),)
    )


def stage_scalars(small: Weights) -> np.ndarray:
    """Per mode k the geometric mean over layers of |diagonal scalar| of a width-M network
    (U_kk, Y_kk of each internal layer, Z_k): the stage-k escape coordinate, shape (..., M)."""
    modes = small[0].shape[-1]
    k = np.arange(modes)
    diagonal = np.stack(
        [small[0][..., k, k]] + [Y[..., k, k] for Y in small[1:-1]] + [small[-1][..., 0, k]],
        axis=-1,
    )  # (..., M, L)
    return np.exp(np.mean(np.log(np.abs(diagonal) + 1e-300), axis=-1))


def stage_crossing_times(times: list[float], rho: np.ndarray) -> list[float]:
    """Per mode, the first recorded time at which its stage scalar (``rho``, shape (T, M))
    reaches ρ*; NaN for a mode that never does."""
    reached = np.asarray(rho) >= RHO_STAR
    return [
        float(times[int(np.argmax(column))]) if column.any() else float("nan")
        for column in reached.T
    ]


def axis_gauss_hermite_batch(
    teacher: Teacher, kernels: ActivationKernels, nodes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, weights): the Gauss–Hermite rule on each mode's axis, x = s_i v_k (M·n points),
    every axis carrying the one-dimensional weights w_i.

    The decoupled model's loss on these points equals its loss on the tensor grid (nᴹ points)
    when σ is odd: the block-diagonal network is f(x) = Σ_k g_k(v_k·x) with g_k odd (no
    biases), the teacher y = Σ_k a_k σ(v_k·x), so with e_k = g_k − a_k σ,
    ½E[(Σ_k e_k)²] = Σ_k ½E[e_k²] + Σ_{j≠k} ½E[e_j]E[e_k], and E[e_k] = 0 on the symmetric
    rule; at x = s v_k every other mode's term is e_j(0) = 0, so each axis point's loss is
    ½e_k(s)². The gradients agree likewise. The identity needs what :func:`cascade`'s decoupled
    run has: odd σ, the squared loss, off-block entries zero at the start and held there by
    :func:`decoupled_mask`, whose blocks are the input coordinates, so the teacher's directions
    must be the identity (checked here; with a rotated frame the two losses differ).

    Raises:
        ConfigurationError: the teacher's directions are not the first M coordinate axes.
    """
    if not np.array_equal(teacher.directions, np.eye(teacher.modes, teacher.input_dim)):
        raise ConfigurationError(
            "the axis rule stands for the tensor grid only in the mask's coordinates: the "
            "teacher's directions must be the identity (orthonormal_teacher without a seed)"
        )
    s, w = gauss_hermite_rule(nodes)
    x = np.concatenate([np.outer(s, v) for v in teacher.directions])
    return x, teacher(x, kernels), np.tile(w, teacher.modes)


def cascade(
    config: CascadeConfig,
    decoupled: bool = False,
    progress: bool = False,
    engine: Engine = Engine.COMPILED,
) -> dict:
    """The stage cascade from modewise blocks on the block-mean reduced flow (the width-M network of
    :func:`block_mean_reduce`, exact for any block width), or, with ``decoupled``, on the decoupled
    model (off-block entries held at zero). Stage escape times against the single-mode prediction
    and the ranking rule; the largest off-block entry is recorded along the run. Runs
    :func:`~symescape.numeric.training.train` (Gauss–Hermite data, decoupled: masked updates, and
    for odd σ on the axis points of :func:`axis_gauss_hermite_batch`, the same loss)."""
    modes, depth = len(config.amplitudes), config.depth
    teacher = orthonormal_teacher(modes, list(config.amplitudes))
    kernels = activation_kernels(config.activation)
    weights = modewise_start(config)
    steps = int(round(config.time / config.learning_rate))
    training = TrainingConfig(
        steps=steps,
        learning_rate=config.learning_rate,
        data=DataMode.GAUSS_HERMITE,  # directions = identity: x = s (decoupled, odd σ: axes)
        nodes=config.nodes,
        record_every=max(1, steps // 600),
        engine=engine,
    )
    # decoupled with odd σ: the same loss and gradients on M·n axis points as on nᴹ grid points
    axis_batch = (
        axis_gauss_hermite_batch(teacher, kernels, config.nodes)
        if decoupled and classify(config.activation).odd is True
        else None
    )
    record = train(
        weights,
        teacher,
        kernels,
        training,
        progress,
        masks=decoupled_mask(modes, depth) if decoupled else None,
        keep_weights=True,
        fixed_batch=axis_batch,
    )
    history = [w[:, 0] for w in record.weight_history]  # each (T, n_l, n_{l-1})
    times = (record.steps * config.learning_rate).tolist()
    losses = record.loss[:, 0].tolist()
    off_block = 1 - np.eye(modes)
    off = np.max([np.abs(W * off_block).max(axis=(1, 2)) for W in history[:-1]], axis=0).tolist()
    rho = stage_scalars(history)  # (T, M)
    stage_times = stage_crossing_times(times, rho)
    predicted = [
        float(
            escape_time_ode(
                reduced_model(config.activation, depth, amplitude=a), np.full(depth, config.eps)
            ).time
        )
        for a in config.amplitudes
    ]
    return {
        "settings": asdict(config),
        "decoupled": decoupled,
        "times": times,
        "loss": losses,
        "rho": rho.tolist(),
        "off_diagonal": off,
        "stage_times": stage_times,
        "predicted_decoupled": predicted,
        "ratio": [m / p for m, p in zip(stage_times, predicted, strict=True)],
        "order_measured": [int(i) for i in np.argsort(stage_times)],
        "order_ranking_rule": [int(i) for i in np.argsort(-np.array(config.amplitudes))],
    }


def real_network_cascade(
    config: CascadeConfig,
    input_dim: int = 16,
    batch: int = 256,
    perturbation: float = 0.1,
    seeds: int = 2,
    held_out: int = 4096,
    progress: bool = False,
    engine: Engine = Engine.COMPILED,
) -> dict:
    """The cascade on a finite network: width M·n_b (n_b = ``config.block_width``), inputs in
    R^D with fresh Gaussian batches (SGD), rates (n_b η, η, …, η, η/n_b) as in
    :func:`block_mean_reduce`, started from the modewise blocks at ε plus a random perturbation of
    relative size ``perturbation`` (entries ``perturbation``·ε·N(0, 1)/√fan_in).

    Recorded per seed: the held-out loss (``held_out`` fixed inputs), the stage scalars of the
    block means (geometric mean of |diagonal| of :func:`block_mean_reduce`, as in
    :func:`cascade`), the distance from the block-mean manifold ‖W − expand(reduce(W))‖/‖W‖, and
    each mode's alignment |w_eff·v_k|/‖w_eff‖ of the end-to-end linear map
    w_eff = W_L ⋯ W_1 (1×D)."""
    from symescape.numeric.training import Evaluation, RateMode

    if not (np.isfinite(perturbation) and perturbation >= 0) or seeds < 1 or held_out < 1:
        raise ConfigurationError("need perturbation ≥ 0, seeds ≥ 1 and held_out ≥ 1")
    modes, nb = len(config.amplitudes), config.block_width
    teacher = orthonormal_teacher(input_dim, list(config.amplitudes))
    V = teacher.directions
    kernels = activation_kernels(config.activation)
    rng = np.random.default_rng(0)
    weights = tuple(
        np.repeat(w, seeds, axis=0)
        + perturbation * config.eps * rng.standard_normal((seeds, *w.shape[1:]))
        / np.sqrt(w.shape[2])
        for w in block_mean_expand(modewise_start(config), V, nb)
    )
    x_eval = rng.standard_normal((held_out, input_dim))
    steps = int(round(config.time / config.learning_rate))
    training = TrainingConfig(
        steps=steps,
        learning_rate=config.learning_rate,
        rates=RateMode.NORMALISED,
        rate_width=nb,
        data=DataMode.FRESH,
        batch=batch,
        record_every=max(1, steps // 400),
        seed=1,
        engine=engine,
    )
    record = train(
        weights,
        teacher,
        kernels,
        training,
        progress,
        # the held-out loss is what is read; no ||∂M/∂W_l||² (a backward pass per record)
        evaluation=Evaluation(x_eval, teacher(x_eval, kernels), V[0], record_gradient_norms=False),
        keep_weights=True,
    )
    # Every record of every seed at once: fold (T, E) into one ensemble axis.
    records = len(record.steps)
    w = tuple(layer.reshape(records * seeds, *layer.shape[2:]) for layer in record.weight_history)
    reduced = block_mean_reduce(w, V, nb)
    rho = stage_scalars(reduced).reshape(records, seeds, modes)
    back = block_mean_expand(reduced, V, nb)
    num = sum(np.sum((a - b) ** 2, axis=(1, 2)) for a, b in zip(w, back, strict=True))
    den = sum(np.sum(a**2, axis=(1, 2)) for a in w)
    manifold = np.sqrt(num / den).reshape(records, seeds)
    effective = w[-1]
    for layer in reversed(w[:-1]):
        effective = effective @ layer  # (T·E, 1, D)
    effective = effective[:, 0, :]
    alignment = (
        np.abs(effective @ V.T) / np.linalg.norm(effective, axis=1)[:, None]
    ).reshape(records, seeds, modes)
    times = (record.steps * config.learning_rate).tolist()
    loss = record.evaluation.loss  # (T, E)
    stage_times = [stage_crossing_times(times, rho[:, e]) for e in range(seeds)]
    plateaus = [count_plateaus(times, loss[:, e].tolist()) for e in range(seeds)]
    return {
        "settings": {
            **asdict(config),
            "input_dim": input_dim,
            "batch": batch,
            "perturbation": perturbation,
            "seeds": seeds,
            "held_out": held_out,
        },
        "times": times,
        "loss": loss.tolist(),
        "rho": rho.tolist(),
        "manifold_distance": manifold.tolist(),
        "alignment": alignment.tolist(),
        "stage_times": stage_times,
        "plateaus": plateaus,
        "order_measured": [[int(i) for i in np.argsort(st)] for st in stage_times],
        "order_ranking_rule": [int(i) for i in np.argsort(-np.array(config.amplitudes))],
    }


REAL_WIDTHS = (8, 32)
"""Block widths n_b of the finite networks of figure 5 and of the claim ``fig5-cascade``."""


CASCADE_FLOWS = {"block-mean": False, "decoupled": True}
"""The two flows of a cascade by name, with :func:`cascade`'s ``decoupled`` flag."""


def cascade_flows(
    config: CascadeConfig,
    store: SweepStore | None = None,
    progress: bool = False,
    names: tuple[str, ...] = tuple(CASCADE_FLOWS),
) -> dict[str, dict]:
    """:func:`cascade` on the block-mean flow and on the decoupled model, by name
    ("block-mean", "decoupled"; ``names`` picks some); stored per flow when a ``store`` is given
    (the ``fig5-cascade`` claim and figure 5 use the same points)."""
    unknown = [n for n in names if n not in CASCADE_FLOWS]
    if unknown:
        raise UnknownNameError(f"unknown cascade flows {unknown}; known: {list(CASCADE_FLOWS)}")
    flows = {}
    for name in names:
        decoupled = CASCADE_FLOWS[name]

        def compute(decoupled: bool = decoupled) -> dict:
            return cascade(config, decoupled=decoupled, progress=progress)

        params = {"experiment": "cascade-flow", "decoupled": decoupled, **asdict(config)}
        flows[name] = stored(store, params, compute)
    return flows


def real_cascades(
    config: CascadeConfig,
    quick: bool,
    store: SweepStore | None = None,
    progress: bool = False,
) -> dict:
    """:func:`real_network_cascade` at each block width of :data:`REAL_WIDTHS` (two seeds at
    n_b = 8, one at 32; quick: n_b = 8, one seed), to t = 200 (every stage of the block-mean
    flow is over by t ≈ 65; the decoupled model's second stage is due at t ≈ 166). Stored per
    width when a ``store`` is given."""
    from dataclasses import replace

    widths = REAL_WIDTHS[:1] if quick else REAL_WIDTHS
    runs = {}
    for nb in widths:
        seeds = 1 if quick or nb > 8 else 2  # n_b = 32: 13 s per seed on two cores
        cfg = replace(config, block_width=nb, time=200.0)

        def compute(cfg: CascadeConfig = cfg, seeds: int = seeds) -> dict:
            return real_network_cascade(cfg, seeds=seeds, progress=progress)

        params = {"experiment": "cascade-real", "seeds": seeds, **asdict(cfg)}
        runs[nb] = stored(store, params, compute)
    return runs


def block_mean_reduce(weights: Weights, directions: np.ndarray, block_width: int) -> Weights:
    """The block-mean point as a width-M network on inputs s = V x (MATH.md §9).

    Block k's first-layer rows u_kᵀV become row k of U (M×M); the internal block (j, k), constant
    Y^{jk}/n_b, becomes Y^{jk}; the readout Z_k/n_b becomes Z_k. The function is unchanged, and one
    GD step of the full network with rates (n_b η, η, η/n_b) is one GD step of rate η here (since
    δ_full = δ̃/n_b): the block-mean reduced flow is plain gradient flow of the small network.
    """
    V = np.atleast_2d(directions)
    modes, nb = V.shape[0], block_width

    def block_means(w: np.ndarray) -> np.ndarray:
        E, rows, cols = w.shape
        return w.reshape(E, rows // nb, nb, cols // nb, nb).mean(axis=(2, 4))

    first = weights[0] @ V.T  # (E, M·n_b, M)
    U = first.reshape(first.shape[0], modes, nb, modes).mean(axis=2)
    internal = tuple(block_means(w) * nb for w in weights[1:-1])
    readout = weights[-1].reshape(weights[-1].shape[0], 1, modes, nb).mean(axis=3) * nb
    return (U, *internal, readout)


def block_mean_expand(small: Weights, directions: np.ndarray, block_width: int) -> Weights:
    """Inverse of :func:`block_mean_reduce`: the full network on the block-mean manifold."""
    V = np.atleast_2d(directions)
    nb = block_width
    first = np.repeat(small[0], nb, axis=1) @ V
    internal = tuple(np.repeat(np.repeat(w, nb, axis=1), nb, axis=2) / nb for w in small[1:-1])
    readout = np.repeat(small[-1], nb, axis=2) / nb
    return (first, *internal, readout)


def decoupled_mask(modes: int, depth: int) -> tuple[np.ndarray, ...]:
    """Masks keeping only the diagonal (mode-to-itself) entries of the small network: the
    decoupled model of MATH.md §9 (projected gradient flow onto the block-diagonal subspace)."""
    eye = np.eye(modes)
    return (eye,) + tuple(eye for _ in range(depth - 2)) + (np.ones((1, modes)),)


@dataclass(frozen=True)
class BlockMeanProblem:
    """The block-mean reduced flow of a cascade configuration: the width-M network's parameter
    shapes, the weighted tensor Gauss–Hermite nodes s (inputs x = s: directions = identity), the
    teacher values there, and the activation's kernels. ``field`` is F(θ) by the network's backward
    pass (it accepts complex θ, for complex steps); ``field_and_jacobian`` is F and ∂F/∂θ from the
    symbolic layer (:mod:`symescape.block_mean`)."""

    activation: str
    depth: int
    shapes: tuple[tuple[int, ...], ...]
    nodes: np.ndarray
    weights: np.ndarray
    target: np.ndarray

    @property
    def modes(self) -> int:
        return self.shapes[0][0]

    def field(self, theta: np.ndarray) -> np.ndarray:
        from symescape.numeric.losses import SQUARED
        from symescape.numeric.network import loss_and_gradients

        if not np.iscomplexobj(theta) and self.compiled_field is not None:
            return self.compiled_field(theta)
        kernels = activation_kernels(self.activation)
        _, _, grads = loss_and_gradients(
            unflatten_weights(theta, self.shapes),
            self.nodes,
            self.target,
            SQUARED,
            kernels,
            self.weights,
        )
        return -flatten_weights(grads.gradients)

    @cached_property
    def compiled_field(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """The field as one compiled program (3× the NumPy pass on a cascade's 4096 nodes; the
        flows integrate it thousands of times); None without JAX. Complex θ (complex steps)
        takes the NumPy pass."""
        from symescape.numeric.compiled import compiled_gradient_field, jax_available

        if not jax_available():
            return None
        return compiled_gradient_field(
            activation_kernels(self.activation).activation,
            self.shapes,
            self.nodes,
            self.target,
            self.weights,
        )

    def field_and_jacobian(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from symescape.symbolic.block_mean import block_mean_field_and_jacobian

        evaluate = block_mean_field_and_jacobian(
            self.activation, self.depth, self.nodes, self.weights, self.target
        )
        return evaluate(theta)

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        """∂F/∂θ, analytic (SymPy-derived Hessian of the network, lambdified once)."""
        return self.field_and_jacobian(theta)[1]

    def complex_step_jacobian(self, theta: np.ndarray, h: float = 1e-30) -> np.ndarray:
        """∂F/∂θ to round-off by complex steps of the backward pass (an independent route)."""
        n = theta.size
        J = np.empty((n, n))
        for j in range(n):
            probe = theta.astype(complex)
            probe[j] += 1j * h
            J[:, j] = self.field(probe).imag / h
        return J


@lru_cache(maxsize=32)
def block_mean_problem(
    activation: str, depth: int, amplitudes: tuple[float, ...], nodes: int
) -> BlockMeanProblem:
    """The block-mean reduced flow for a teacher with ``amplitudes`` on orthonormal modes."""
    from symescape.numeric.training import gauss_hermite_inputs

    modes = len(amplitudes)
    teacher = orthonormal_teacher(modes, list(amplitudes))
    x, w = gauss_hermite_inputs(teacher, nodes)  # directions = identity: x = s
    shapes = ((modes, modes),) * (depth - 1) + ((1, modes),)
    target = teacher(x, activation_kernels(activation))
    return BlockMeanProblem(activation, depth, shapes, x, w, target)


def _problem(config: CascadeConfig) -> BlockMeanProblem:
    return block_mean_problem(
        config.activation, config.depth, tuple(config.amplitudes), config.nodes
    )


@dataclass(frozen=True)
class MultiModeFamily:
    """The homotopy from the decoupled model (ν = 0) to the block-mean flow (ν = 1) on the width-M
    network's flattened parameters θ: F_ν = (m + ν(1 - m)) ⊙ F_bm(θ), m the decoupled mask.
    ``channels`` split ∂_ν F = (1 - m) ⊙ F_bm into first-layer cross-block rotations and the
    off-block entries of each internal layer; the threshold is mode 1's stage escape."""

    nu: float
    problem: BlockMeanProblem
    x0: np.ndarray

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        return self.problem.shapes

    def field(self, theta: np.ndarray) -> np.ndarray:
        return self._weight(self.nu) * self.problem.field(theta)

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        return self._weight(self.nu)[:, None] * self.problem.jacobian(theta)

    def channels(self) -> list:
        groups = _offblock_groups(self.shapes)
        return [lambda theta, g=g: g * self.problem.field(theta) for g in groups]

    def threshold(self, theta: np.ndarray) -> float:
        diagonal = theta[_mode_one_indices(self.shapes)]
        return float(np.mean(np.log(np.abs(diagonal)))) - np.log(RHO_STAR)

    def threshold_gradient(self, theta: np.ndarray) -> np.ndarray:
        grad = np.zeros_like(theta)
        index = _mode_one_indices(self.shapes)
        grad[index] = 1.0 / (len(index) * theta[index])
        return grad

    def _weight(self, nu: float) -> np.ndarray:
        mask = _flat_mask(self.shapes)
        return mask + nu * (1 - mask)


def multimode_family(config: CascadeConfig, nu: float) -> MultiModeFamily:
    """The family at ``nu`` for a modewise start at ε (shared quadrature and teacher)."""
    x0 = np.concatenate([w[0].ravel() for w in modewise_start(config)])
    return MultiModeFamily(float(nu), _problem(config), x0)


def _flat_mask(shapes: tuple) -> np.ndarray:
    modes = shapes[0][0]
    parts = [np.eye(modes).ravel() for _ in shapes[:-1]] + [np.ones(modes)]
    return np.concatenate(parts)


def _offblock_groups(shapes: tuple) -> list[np.ndarray]:
    """Indicator vectors: first-layer cross-block rotations, then each internal layer's
    off-block entries."""
    modes, total = shapes[0][0], int(sum(np.prod(s) for s in shapes))
    groups, start = [], 0
    for _ in shapes[:-1]:
        group = np.zeros(total)
        group[start : start + modes * modes] = (1 - np.eye(modes)).ravel()
        groups.append(group)
        start += modes * modes
    return groups


def _mode_one_indices(shapes: tuple) -> np.ndarray:
    modes = shapes[0][0]
    block = modes * modes
    diagonal = [layer * block for layer in range(len(shapes) - 1)]
    return np.array(diagonal + [block * (len(shapes) - 1)])


def count_plateaus(
    times: list[float], loss: list[float], drop: float = 0.3, floor: float = 1e-3
) -> int:
    """Plateaus that end in a drop: stretches of at least 5 % of the run without a drop, each
    followed by a drop (the loss falling by more than a factor 1 - ``drop`` within 2 % of the
    run, and by more than ``floor`` times the initial loss, so that the fluctuations of a noisy
    (SGD, held-out) loss near zero are not drops). A single escape gives 1; the three-stage
    cascade gives 3."""
    t, raw = np.asarray(times), np.asarray(loss, dtype=float)
    y = np.log(raw)
    span = t[-1] - t[0]
    falling = np.zeros(len(t), dtype=bool)
    for i in range(len(t)):
        j = np.searchsorted(t, t[i] + 0.02 * span)
        falling[i] = (
            j < len(t)
            and y[j] < y[i] + np.log(1 - drop)
            and raw[i] - raw[j] > floor * raw[0]
        )
    plateaus, run = 0, 0.0
    for i in range(1, len(t)):
        if falling[i]:
            if run >= 0.05 * span:
                plateaus += 1
            run = 0.0
        else:
            run += t[i] - t[i - 1]
    return plateaus


def family_derivative(config: CascadeConfig, nu: float) -> object:
    """The adjoint dT/dν (with channels) of mode 1's stage escape time on the decoupled →
    block-mean family at ``nu`` (:func:`~symescape.numeric.homotopy.homotopy_derivative`)."""
    from symescape.numeric.homotopy import homotopy_derivative

    family = multimode_family(config, nu)
    return homotopy_derivative(
        family.field,
        family.jacobian,
        family.channels(),
        family.x0,
        family.threshold,
        family.threshold_gradient,
        1e4,
        rtol=1e-10,
    )


def family_stage_time(config: CascadeConfig, nu: float) -> float:
    """Mode 1's stage escape time T(ν) on the family at ``nu``, integrated directly."""
    from symescape.numeric.homotopy import escape_time

    family = multimode_family(config, nu)
    return escape_time(family.field, family.x0, family.threshold, 1e4, rtol=1e-12)[0]


def multimode_homotopy_check(
    config: CascadeConfig, nu: float = 0.5, step: float = 1e-3
) -> tuple[object, float]:
    """The adjoint dT/dν (with channels) on the decoupled → block-mean family at ``nu``, and the
    central difference (T(ν+h) − T(ν−h))/2h of mode 1's stage escape time, for comparison."""
    central = (
        family_stage_time(config, nu + step) - family_stage_time(config, nu - step)
    ) / (2 * step)
    return family_derivative(config, nu), central


def homotopy_integral_check(config: CascadeConfig, nodes: int = 4) -> dict:
    """T(1) − T(0) two ways on the decoupled → block-mean family (mode 1's stage escape time):
    directly from the two endpoint runs, and as ∫_0^1 dT/dν dν by ``nodes``-point Gauss–Legendre
    quadrature of the adjoint derivative (Proposition 23). The integrand is smooth in ν, so the
    two agree to the quadrature's error (≈ 1e-5 relative at 4 nodes)."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    nus, weights = (x + 1) / 2, w / 2
    derivatives = [family_derivative(config, float(nu)).derivative for nu in nus]
    endpoints = (family_stage_time(config, 0.0), family_stage_time(config, 1.0))
    integral = float(np.dot(weights, derivatives))
    difference = endpoints[1] - endpoints[0]
    return {
        "nu": nus.tolist(),
        "derivatives": derivatives,
        "integral": integral,
        "endpoints": endpoints,
        "difference": difference,
        "relative_gap": abs(integral / difference - 1),
    }


@dataclass(frozen=True)
class StageSaddle:
    """The stage-1 saddle of the block-mean flow and its linearisation.

    ``theta`` is the end (t = ``time``) of block 1's flow alone (its first-layer row free to
    rotate toward every mode; all other blocks and couplings held at 0), ``residual`` |F(θ)|∞.
    It is quasi-stationary, not stationary: block 1's flow has no fixed point on the plateau and
    drifts on a slow manifold (|F| = 3.1–3.4e-5 from t = 500 to 10⁴; it settles only near t ≈ 10⁶,
    where the top eigenvalue is ≈ 0.20 against 0.06 here: L = 4 tanh, a = (4, 2, 1), 16 nodes,
    measured 2026-12-07). ``drift_eigenvalue`` is the top eigenvalue at t = ``time``/2: its gap
    to ``unstable`` shows the drift. ``block_one`` lists the entries of θ that block 1's flow
    moves (its first-layer row, the diagonal internal entries, the readout).
    ``row`` is block 1's first-layer row in the mode basis, ``jacobian`` ∂F/∂θ there (from the
    symbolic layer, or by complex steps: :class:`JacobianRoute`), ``eigenvalues`` its spectrum
    (descending real part), ``unstable`` the top eigenvalue, ``pairs`` the 2×2 Jacobian blocks
    of (rotation of block k's row toward v_1, off-block amplitude from block k into block 1)
    for k ≥ 2, and ``perron_applicable`` whether those have Proposition 24's strict sign
    structure (negative diagonal, non-negative off-diagonal).

    The closure of Proposition 24 at this saddle: ``first`` the first-layer rows of blocks 2..M
    (rotations into the mode space), ``second`` the off-block amplitudes W_2[0, k] from block k
    into block 1. ``closure_leak`` is max |J[closure, rest]| (0: the closure is an invariant
    subspace of the linearisation), ``gauge`` the signs making its couplings non-negative
    (:func:`symescape.stability.metzler_gauge`), ``blocks`` the gauged [[-A, B], [C, -D]] split
    and ``perron`` Schur–Perron on it (marginal: here A = D = 0)."""

    theta: np.ndarray
    residual: float
    time: float
    drift_eigenvalue: float
    block_one: tuple[int, ...]
    row: np.ndarray
    jacobian: np.ndarray
    eigenvalues: np.ndarray
    unstable: float
    pairs: tuple[np.ndarray, ...]
    perron_applicable: bool
    first: tuple[int, ...]
    second: tuple[int, ...]
    closure_leak: float
    gauge: np.ndarray | None
    blocks: SaddleBlocks | None
    perron: SchurPerronResult | None


class JacobianRoute(Enum):
    """How ∂F/∂θ of the block-mean flow is computed; both are exact to round-off (1.9e-15
    relative apart at figure 5's setting, 16 nodes).

    SYMBOLIC: ∂F/∂θ = E[−∇f∇fᵀ + (y − f)∇²f] from the SymPy-derived Hessian, lambdified
    (:meth:`BlockMeanProblem.jacobian`); COMPLEX_STEP: column j = Im F(θ + ih e_j)/h with
    h = 1e-30, from the backward pass on complex θ (σ analytic, its NumPy kernel taking
    complex input: :meth:`BlockMeanProblem.complex_step_jacobian`)."""

    SYMBOLIC = "symbolic"
    COMPLEX_STEP = "complex-step"


def stage_saddle(
    config: CascadeConfig,
    time: float = 3000.0,
    jacobian: JacobianRoute = JacobianRoute.SYMBOLIC,
) -> StageSaddle:
    """The stage-1 saddle: integrate the block-mean flow restricted to block 1 to t = ``time``
    (LSODA: the late flow is stiff), linearise the full block-mean flow there (``jacobian``:
    the SymPy-derived Jacobian, or complex steps, which skip its ~3 s derivation) and apply
    Proposition 24 to the rotation / off-block closure. The end point is quasi-stationary (see
    :class:`StageSaddle`); the top eigenvalue at ``time``/2 is recorded to show the drift.

    Raises:
        ConfigurationError: ``time`` not finite and > 0, or ``jacobian`` not a route.
        NumericalError: the integration failed (LSODA's message attached).
    """
    from scipy.integrate import solve_ivp

    time = require_real(time, "the flow time", minimum=0.0, strict=True)
    jacobian = require_choice(JacobianRoute, jacobian, "jacobian")
    family = multimode_family(config, 1.0)
    problem = family.problem
    modes, depth = len(config.amplitudes), config.depth
    block = modes * modes
    # Block 1's variables: its first-layer row (all modes), its diagonal internal entries, readout.
    active = list(range(modes)) + [layer * block for layer in range(1, depth - 1)]
    active.append(block * (depth - 1))

    def embed(z: np.ndarray) -> np.ndarray:
        """Block 1's variables into θ, every other entry at 0 (block 1's flow alone: the
        restriction holds them there)."""
        x = np.zeros(family.x0.size)
        x[active] = z
        return x

    # LSODA integrates block 1's variables alone: its finite-difference Jacobians then cost 6
    # field evaluations, not one per entry of θ (30); 5092 → 2913 evaluations, the same end
    # point to 1.5e-10 relative (rtol)
    sol = solve_ivp(
        lambda t, z: problem.field(embed(z))[active],
        (0.0, time),
        family.x0[active],
        method="LSODA",
        rtol=1e-10,
        atol=1e-12,
        t_eval=(time / 2, time),
    )
    if sol.status != 0:
        raise NumericalError(f"block 1's flow failed before t = {time:g}: {sol.message}")

    def linearised(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if jacobian is JacobianRoute.COMPLEX_STEP:
            return problem.field(theta), problem.complex_step_jacobian(theta)
        return problem.field_and_jacobian(theta)

    theta = embed(sol.y[:, -1])
    field, J = linearised(theta)
    residual = float(np.abs(field).max())
    values = np.linalg.eigvals(J)
    values = values[np.argsort(-values.real)]
    drift = float(np.linalg.eigvals(linearised(embed(sol.y[:, 0]))[1]).real.max())
    pairs = []
    for k in range(1, modes):
        rotation = k * modes  # W_1[k, 0]: block k's row toward v_1
        amplitude = block + k  # W_2[0, k]: block k into block 1
        pairs.append(J[np.ix_([rotation, amplitude], [rotation, amplitude])])
    applicable = all(p[0, 0] < 0 and p[1, 1] < 0 and p[0, 1] >= 0 and p[1, 0] >= 0 for p in pairs)
    first = tuple(k * modes + j for k in range(1, modes) for j in range(modes))
    second = tuple(block + k for k in range(1, modes))
    closure = list(first + second)
    rest = [i for i in range(theta.size) if i not in closure]
    leak = float(np.abs(J[np.ix_(closure, rest)]).max(initial=0.0))
    gauge = metzler_gauge(J, list(first), list(second))
    parts = perron = None
    if gauge is not None:
        local = list(range(len(first))), list(range(len(first), len(closure)))
        gauged = gauge[:, None] * J[np.ix_(closure, closure)] * gauge[None, :]
        parts = saddle_blocks(gauged, *local)
        perron = schur_perron(parts.A, parts.B, parts.C, parts.D, marginal=True)
    return StageSaddle(
        theta,
        residual,
        time,
        drift,
        tuple(active),
        theta[:modes].copy(),
        J,
        values,
        float(values[0].real),
        tuple(pairs),
        applicable,
        first,
        second,
        leak,
        gauge,
        parts,
        perron,
    )
