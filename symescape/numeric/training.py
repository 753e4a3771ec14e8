"""Training full networks by GD/SGD with per-layer rates (MATH.md §1, §4, §8).

Data: fresh Gaussian batches each step, a fixed batch, or the weighted Gauss–Hermite inputs
x = Σ_k s_k v_k (tensor grid over the teacher's modes), which give the exact population gradient
on the (block) ansatz. Rates: uniform η, or the normalised metric (η_1, η_l, η_L) = (Nη, η, η/N).
Every member of an ensemble is stepped in the same batched computation.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from symescape.errors import ConfigurationError, DivergenceError
from symescape.numeric.inits import ansatz_scalars
from symescape.numeric.losses import SQUARED, Loss
from symescape.numeric.network import Weights, loss_and_gradients, validate_weights
from symescape.numeric.teachers import Teacher
from symescape.precision.gauss import gauss_hermite_rule
from symescape.symbolic.resolved import ActivationKernels


class DataMode(Enum):
    """Where each step's inputs come from."""

    FRESH = "fresh"
    FIXED = "fixed"
    GAUSS_HERMITE = "gauss-hermite"


class RateMode(Enum):
    """Per-layer learning rates."""

    UNIFORM = "uniform"
    NORMALISED = "normalised"


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    """How to train. ``learning_rate`` is η; ``steps`` gradient steps; records every
    ``record_every`` steps (and the last). ``stop_loss_fraction``: stop once every member's loss is
    below that fraction of its initial loss (None: run all steps)."""

    steps: int
    learning_rate: float
    rates: RateMode = RateMode.UNIFORM
    data: DataMode = DataMode.FRESH
    batch: int = 256
    nodes: int = 64
    record_every: int = 1
    seed: int = 0
    loss: Loss = field(default=SQUARED)
    stop_loss_fraction: float | None = None
    rate_width: int | None = None  # N of the normalised rates; default the first hidden width

    def __post_init__(self) -> None:
        object.__setattr__(self, "rates", RateMode(self.rates))
        object.__setattr__(self, "data", DataMode(self.data))
        if self.steps < 0 or self.batch < 1 or self.nodes < 1 or self.record_every < 1:
            raise ConfigurationError(
                "steps ≥ 0, batch ≥ 1, nodes ≥ 1 and record_every ≥ 1 are required"
            )
        if not np.isfinite(self.learning_rate) or self.learning_rate <= 0:
            raise ConfigurationError(
                f"learning rate must be finite and > 0, got {self.learning_rate}"
            )


@dataclass(frozen=True)
class TrainingRecord:
    """Recorded quantities, each with leading axis over records: ``steps`` (T,), ``loss`` (T, E),
    ``layer_norms`` ||W_l||_F² (T, E, L), ``imbalance`` normalised ||W_{l+1}||²/η_{l+1} -
    ||W_l||²/η_l (T, E, L-1), ``signal`` M = E[f(x)(v_1·x)] (T, E), ``ansatz`` X_l (T, E, L) and
    ``ansatz_deviation`` (T, E) for a single-mode teacher; ``weights`` at the end;
    ``stopped_early``."""

    steps: np.ndarray
    loss: np.ndarray
    layer_norms: np.ndarray
    imbalance: np.ndarray
    signal: np.ndarray
    ansatz: np.ndarray | None
    ansatz_deviation: np.ndarray | None
    weights: Weights
    stopped_early: bool


def layer_rates(
    weights: Weights, learning_rate: float, mode: RateMode, width: int | None = None
) -> np.ndarray:
    """η_l per layer: uniform, or (Nη, η, …, η, η/N) with N = ``width`` (default the first hidden
    width; for modewise blocks, the block width)."""
    depth = len(weights)
    rates = np.full(depth, learning_rate, dtype=float)
    if RateMode(mode) is RateMode.NORMALISED and depth > 1:
        width = weights[0].shape[1] if width is None else width
        rates[0] *= width
        rates[-1] /= width
    return rates


def gauss_hermite_inputs(teacher: Teacher, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs x = Σ_k s_k v_k on the tensor Gauss–Hermite grid (nodes^M points), with weights."""
    s, w = gauss_hermite_rule(nodes)
    grid = np.array(list(itertools.product(s, repeat=teacher.modes)))
    weight = np.prod(np.array(list(itertools.product(w, repeat=teacher.modes))), axis=1)
    return grid @ teacher.directions, weight


def train(
    weights: Weights,
    teacher: Teacher,
    kernels: ActivationKernels,
    config: TrainingConfig,
    progress: bool = False,
) -> TrainingRecord:
    """Run GD/SGD from ``weights`` (ensemble axis first) and record the trajectory.

    Raises:
        DivergenceError: a member's loss became NaN or infinite; the message gives the step.
    """
    weights = tuple(np.array(w, dtype=float) for w in validate_weights(weights))
    if weights[0].shape[2] != teacher.input_dim:
        raise ConfigurationError(
            f"network input dimension {weights[0].shape[2]} ≠ teacher's {teacher.input_dim}"
        )
    ensemble = weights[0].shape[0]
    rates = layer_rates(weights, config.learning_rate, config.rates, config.rate_width)
    rng = np.random.default_rng(config.seed)
    fixed_x = batch_weights = None
    if config.data is DataMode.GAUSS_HERMITE:
        fixed_x, batch_weights = gauss_hermite_inputs(teacher, config.nodes)
    elif config.data is DataMode.FIXED:
        fixed_x = rng.standard_normal((ensemble, config.batch, teacher.input_dim))
    fixed_y = None if fixed_x is None else teacher(fixed_x, kernels)
    v = teacher.directions[0]
    records: dict[str, list] = {
        k: [] for k in ("steps", "loss", "norms", "imbalance", "signal", "ansatz", "deviation")
    }
    initial_loss = None
    stopped = False
    iterator = range(config.steps + 1)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="training", unit="step", leave=False, mininterval=1.0)
    for step in iterator:
        if fixed_x is None:
            x = rng.standard_normal((ensemble, config.batch, teacher.input_dim))
            y = teacher(x, kernels)
        else:
            x, y = fixed_x, fixed_y
        loss, passed, grads = loss_and_gradients(weights, x, y, config.loss, kernels, batch_weights)
        if not np.all(np.isfinite(loss)):
            bad = np.flatnonzero(~np.isfinite(loss)).tolist()
            raise DivergenceError(
                f"training diverged at step {step}: non-finite loss in ensemble "
                f"members {bad}; lower the learning rate",
                step,
            )
        if initial_loss is None:
            initial_loss = loss.copy()
        last = step == config.steps
        done = config.stop_loss_fraction is not None and np.all(
            loss < config.stop_loss_fraction * initial_loss
        )
        if step % config.record_every == 0 or last or done:
            _record(records, step, loss, passed, weights, rates, x, batch_weights, v, teacher)
        if last or done:
            stopped = bool(done and not last)
            break
        weights = tuple(
            w - eta * g for w, eta, g in zip(weights, rates, grads.gradients, strict=True)
        )
    single = teacher.modes == 1
    return TrainingRecord(
        steps=np.array(records["steps"]),
        loss=np.array(records["loss"]),
        layer_norms=np.array(records["norms"]),
        imbalance=np.array(records["imbalance"]),
        signal=np.array(records["signal"]),
        ansatz=np.array(records["ansatz"]) if single else None,
        ansatz_deviation=np.array(records["deviation"]) if single else None,
        weights=weights,
        stopped_early=stopped,
    )


def _record(
    records: dict,
    step: int,
    loss: np.ndarray,
    passed: object,
    weights: Weights,
    rates: np.ndarray,
    x: np.ndarray,
    batch_weights: np.ndarray | None,
    v: np.ndarray,
    teacher: Teacher,
) -> None:
    norms = np.stack([(w**2).sum(axis=(1, 2)) for w in weights], axis=1)
    normalised = norms / rates[None, :]
    records["steps"].append(step)
    records["loss"].append(loss)
    records["norms"].append(norms)
    records["imbalance"].append(normalised[:, 1:] - normalised[:, :-1])
    projection = np.broadcast_to(x, passed.output.shape + (x.shape[-1],)) @ v
    product = passed.output * projection
    if batch_weights is None:
        records["signal"].append(product.mean(axis=1))
    else:
        records["signal"].append(product @ batch_weights)
    if teacher.modes == 1:
        X, deviation = ansatz_scalars(weights, v)
        records["ansatz"].append(X)
        records["deviation"].append(deviation)
