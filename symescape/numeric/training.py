"""THE training loop: full networks by GD/SGD with per-layer rates (MATH.md §1, §4, §8, §9).

    W_l ← W_l − η_l (m_l ⊙ G_l),   G_l = ∂𝓛/∂W_l on the step's batch

Data: fresh Gaussian batches each step (or any sampler), a fixed batch, or the weighted
Gauss–Hermite inputs x = Σ_k s_k v_k (tensor grid over the teacher's modes), which give the exact
population gradient on the (block) ansatz. Rates: uniform η, or the normalised metric
(η_1, η_l, η_L) = (Nη, η, η/N). Masks m_l (default 1) give projected flows such as the decoupled
multi-mode model. Every experiment that trains a network runs this loop.

Two engines run the same step: the compiled JAX engine (:mod:`symescape.numeric.compiled`, the
default: one jit-compiled scan over a chunk of steps) and the NumPy engine (the exact reference,
:mod:`symescape.numeric.network`). The host feeds both the same batches in chunks, so they follow
the same trajectory to round-off. Without JAX the NumPy engine runs, after a one-line notice.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any

import numpy as np

from symescape.errors import ConfigurationError, DivergenceError
from symescape.numeric import compiled
from symescape.numeric.inits import ansatz_scalars
from symescape.numeric.losses import LOGISTIC, SQUARED, Loss
from symescape.numeric.network import (
    Weights,
    backward,
    batch_mean,
    forward,
    loss_and_gradients,
    validate_weights,
)
from symescape.numeric.teachers import Teacher
from symescape.options import require_int, require_real
from symescape.precision.gauss import gauss_hermite_rule
from symescape.symbolic.activations import Activation
from symescape.symbolic.resolved import ActivationKernels, activation_kernels


class DataMode(Enum):
    """Where each step's inputs come from."""

    FRESH = "fresh"
    FIXED = "fixed"
    GAUSS_HERMITE = "gauss-hermite"


class RateMode(Enum):
    """Per-layer learning rates."""

    UNIFORM = "uniform"
    NORMALISED = "normalised"


class Engine(Enum):
    """Which engine runs the steps: compiled (JAX; falls back to NumPy without JAX) or NumPy."""

    COMPILED = "compiled"
    NUMPY = "numpy"


class Precision(Enum):
    """Floating point of the compiled engine (the NumPy engine always runs float64)."""

    FLOAT64 = "float64"
    FLOAT32 = "float32"


class Batching(Enum):
    """How the compiled engine steps an ensemble: chosen by the shapes, vectorised, or one
    member after another."""

    AUTO = "auto"
    BATCHED = "batched"
    ONE_AT_A_TIME = "one-at-a-time"


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    """How to train. ``learning_rate`` is η; ``steps`` gradient steps; records every
    ``record_every`` steps (and the last). ``stop_loss_fraction``: stop once every member's loss is
    below that fraction of its initial loss (None: run all steps). ``stop_held_out_level``: stop
    once every member's held-out loss (an :class:`Evaluation`) has been below that level at a
    record. ``stop_ansatz_level``: stop once every member's geometric mean of the ansatz scalars
    (Π_l |X_l|)^{1/L} has reached that level at a record (the escape criterion of MATH.md §6;
    stopping waits for a margin of 1e-9 above the level, so a host-side check of the records
    with ≥ level always finds every member's crossing). ``engine``, ``precision`` and
    ``batching`` choose how the steps run (not what they compute)."""

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
    stop_held_out_level: float | None = None
    stop_ansatz_level: float | None = None
    engine: Engine = Engine.COMPILED
    precision: Precision = Precision.FLOAT64
    batching: Batching = Batching.AUTO

    def __post_init__(self) -> None:
        for name, kind in (
            ("rates", RateMode),
            ("data", DataMode),
            ("engine", Engine),
            ("precision", Precision),
            ("batching", Batching),
        ):
            object.__setattr__(self, name, kind(getattr(self, name)))
        # each field checked by type and range here, not by a raw error deep inside train()
        for name, minimum in (("steps", 0), ("batch", 1), ("nodes", 1), ("record_every", 1),
                              ("seed", 0)):  # fmt: skip
            object.__setattr__(self, name, require_int(getattr(self, name), name, minimum=minimum))
        if self.rate_width is not None:
            object.__setattr__(
                self, "rate_width", require_int(self.rate_width, "rate_width", minimum=1)
            )
        object.__setattr__(
            self,
            "learning_rate",
            require_real(self.learning_rate, "learning rate", minimum=0.0, strict=True),
        )
        if self.stop_loss_fraction is not None:
            fraction = require_real(self.stop_loss_fraction, "stop_loss_fraction")
            if not 0 < fraction < 1:
                raise ConfigurationError(
                    f"stop_loss_fraction must lie in (0, 1), got {self.stop_loss_fraction}"
                )
        for name in ("stop_held_out_level", "stop_ansatz_level"):
            if getattr(self, name) is not None:
                require_real(getattr(self, name), name, minimum=0.0, strict=True)


@dataclass(frozen=True)
class Evaluation:
    """A fixed held-out set, evaluated at every record: inputs ``x`` (B, D), targets ``y`` (B,)
    and a direction ``direction`` u (D,). Recorded: the held-out loss, the signal
    M = E_B[f(x)(u·x)] and, with ``record_gradient_norms``, ||∂M/∂W_l||_F² (MATH.md §8), which
    costs a backward pass over the held-out set at every record."""

    x: np.ndarray
    y: np.ndarray
    direction: np.ndarray
    record_gradient_norms: bool = True


@dataclass(frozen=True)
class EvaluationRecord:
    """Held-out quantities per record: ``loss`` (T, E), ``signal`` M (T, E), ``gradient_norms``
    ||∂M/∂W_l||² (T, E, L; None when the evaluation did not ask for them)."""

    loss: np.ndarray
    signal: np.ndarray
    gradient_norms: np.ndarray | None


@dataclass(frozen=True)
class TrainingRecord:
    """Recorded quantities, each with leading axis over records: ``steps`` (T,), ``loss`` (T, E),
    ``layer_norms`` ||W_l||_F² (T, E, L), ``imbalance`` normalised ||W_{l+1}||²/η_{l+1} -
    ||W_l||²/η_l (T, E, L-1), ``signal`` M = E[f(x)(v_1·x)] (T, E), ``ansatz`` X_l (T, E, L) and
    ``ansatz_deviation`` (T, E) for a single-mode teacher and equal hidden widths; ``weights`` at
    the end; ``stopped_early``; ``evaluation`` (with an :class:`Evaluation`); ``weight_history``
    (each layer (T, E, n_l, n_{l-1}), when asked for); ``engine`` that ran."""

    steps: np.ndarray
    loss: np.ndarray
    layer_norms: np.ndarray
    imbalance: np.ndarray
    signal: np.ndarray
    ansatz: np.ndarray | None
    ansatz_deviation: np.ndarray | None
    weights: Weights
    stopped_early: bool
    evaluation: EvaluationRecord | None = None
    weight_history: Weights | None = None
    engine: Engine = Engine.NUMPY


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


Sampler = Callable[[tuple[int, ...]], np.ndarray]
"""Inputs for a batch shape: ``sampler((K, E, B))`` returns (K, E, B, D)."""

ANSATZ_STOP_MARGIN = 1e-9
"""Relative margin above ``stop_ansatz_level`` before a run stops (see :class:`TrainingConfig`)."""

CHUNK_BYTES = 1 << 25
"""Fed batches per chunk are kept under this many bytes (32 MiB)."""


def train(
    weights: Weights,
    teacher: Teacher,
    kernels: ActivationKernels | str | Activation,
    config: TrainingConfig,
    progress: bool = False,
    *,
    sampler: Sampler | None = None,
    evaluation: Evaluation | None = None,
    masks: Sequence[np.ndarray] | None = None,
    keep_weights: bool = False,
    fixed_batch: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None,
) -> TrainingRecord:
    """Run GD/SGD from ``weights`` (ensemble axis first) and record the trajectory.

    Step t (t = 0..steps): the loss and gradients on batch t; a record when t is a multiple of
    ``record_every``, the last step, or the step where a stop rule holds (the run ends there,
    without updating); otherwise W_l ← W_l − η_l (m_l ⊙ G_l). ``sampler`` draws fresh inputs
    (default: standard Gaussian from ``config.seed``); ``masks`` m_l (each (n_l, n_{l-1})) project
    the update; ``evaluation`` adds held-out records; ``keep_weights`` records the weights;
    ``fixed_batch`` = (x, y, batch weights or None) trains on the caller's data, x of shape
    (B, D) or (E, B, D) and any targets y (the teacher then only gives the recorded direction).
    ``kernels``: σ's kernels, or its name or Activation (then built by ``activation_kernels``).
    ``progress`` shows a bar (steps/s, on stderr) once a run has taken two seconds (figures
    ask for it; claims and benchmarks, whose output may be parsed, do not).

    Raises:
        ConfigurationError: mismatched shapes, masks or options; a sampler's inputs not
            (K, E, B, D) or not finite.
        DivergenceError: a member's loss became NaN or infinite; the message gives the step.
    """
    if not isinstance(kernels, ActivationKernels):  # a name or an Activation, as elsewhere
        kernels = activation_kernels(kernels)
    weights = tuple(np.array(w, dtype=float) for w in validate_weights(weights))
    if weights[0].shape[2] != teacher.input_dim:
        raise ConfigurationError(
            f"network input dimension {weights[0].shape[2]} ≠ teacher's {teacher.input_dim}"
        )
    if masks is not None:
        masks = tuple(np.asarray(m, dtype=float) for m in masks)
        if len(masks) != len(weights) or any(
            m.shape != w.shape[1:] for m, w in zip(masks, weights, strict=True)
        ):
            raise ConfigurationError("masks need one (n_l, n_{l-1}) array per layer")
    if config.stop_held_out_level is not None and evaluation is None:
        raise ConfigurationError("a held-out stop level needs an evaluation set")
    if config.stop_ansatz_level is not None and not records_ansatz(weights, teacher):
        raise ConfigurationError(
            "an ansatz stop level needs a single-mode teacher and equal hidden widths"
        )
    ensemble = weights[0].shape[0]
    rates = layer_rates(weights, config.learning_rate, config.rates, config.rate_width)
    rng = np.random.default_rng(config.seed)
    if sampler is None:
        sampler = lambda shape: rng.standard_normal((*shape, teacher.input_dim))  # noqa: E731
    else:
        sampler = _checked_sampler(sampler, teacher.input_dim)
    if fixed_batch is None:
        data = _fixed_data(config, teacher, kernels, rng, ensemble)
    else:  # the caller's data replaces the config's (no grid or batch built only to be dropped)
        x, y, bw = fixed_batch
        data = (np.asarray(x, dtype=float), np.asarray(y, dtype=float), bw)
        if data[0].shape[-1] != teacher.input_dim or data[1].shape != data[0].shape[:-1]:
            raise ConfigurationError("a fixed batch needs x (…, B, D) and y (…, B)")
        if not (np.all(np.isfinite(data[0])) and np.all(np.isfinite(data[1]))):
            # else the first loss is NaN and the run reports a divergence ("lower the rate")
            raise ConfigurationError("the fixed batch's x or y contains NaN or inf")
    loop = _engine(weights, teacher, kernels, config, rates, data, evaluation, masks, keep_weights)
    total = config.steps + 1
    chunk = steps_per_chunk(config, weights, data)

    def draw(count: int) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
        if data is not None:
            return None, None
        x = sampler((count, ensemble, config.batch))
        y = teacher(x, kernels)
        if count < chunk:  # pad: steps past the last one are not run
            x = np.concatenate([x, np.zeros((chunk - count, *x.shape[1:]))])
            y = np.concatenate([y, np.zeros((chunk - count, *y.shape[1:]))])
        return x, y

    bar = _progress_bar(total, progress)
    rows: list[tuple[int, np.ndarray, dict]] = []
    sizes = [min(chunk, total - first) for first in range(0, total, chunk)]
    sent, start, done = 0, 0, -1
    try:
        while start < total:
            # The compiled engine takes the next chunk before the last one is collected: its
            # batches are drawn while the devices compute, and they never wait for a dispatch.
            while sent < len(sizes) and sent - start // chunk < loop.max_pending:
                loop.dispatch(chunk, *draw(sizes[sent]))
                sent += 1
            outputs, done, diverged = loop.collect()
            rows += _recorded_rows(outputs, start)
            if diverged >= 0:
                loss = outputs["loss"][diverged - start]
                bad = np.flatnonzero(~np.isfinite(loss)).tolist()
                raise DivergenceError(
                    f"training diverged at step {diverged}: non-finite loss in ensemble "
                    f"members {bad}; lower the learning rate",
                    diverged,
                )
            if bar is not None:
                bar.update(min(chunk, total - start) if done < 0 else done + 1 - start)
            if done >= 0:
                break
            start += chunk
    finally:
        if bar is not None:
            bar.close()
    return _assemble(rows, loop, rates, teacher, evaluation, keep_weights, done < config.steps)


def records_ansatz(weights: Weights, teacher: Teacher) -> bool:
    """Whether a run records the ansatz scalars X_l: a single-mode teacher and equal hidden
    widths (the symmetric-aligned ansatz of MATH.md §4 needs both)."""
    return teacher.modes == 1 and len({w.shape[1] for w in weights[:-1]}) <= 1


def _fixed_data(
    config: TrainingConfig,
    teacher: Teacher,
    kernels: ActivationKernels,
    rng: np.random.Generator,
    ensemble: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """(x, y, batch weights) of a fixed batch or the Gauss–Hermite grid; None for fresh data."""
    if config.data is DataMode.GAUSS_HERMITE:
        x, w = gauss_hermite_inputs(teacher, config.nodes)
        return x, teacher(x, kernels), w
    if config.data is DataMode.FIXED:
        x = rng.standard_normal((ensemble, config.batch, teacher.input_dim))
        return x, teacher(x, kernels), None
    return None


def _checked_sampler(sampler: Sampler, dim: int) -> Sampler:
    """A caller's sampler whose every draw is checked: (K, E, B, D) and finite (else the run
    would fail in the engine's shapes, or report a divergence and blame the rate)."""

    def checked(shape: tuple[int, ...]) -> np.ndarray:
        x = np.asarray(sampler(shape))
        if x.shape != (*shape, dim):
            expected = (*shape, dim)
            raise ConfigurationError(f"the sampler gave inputs of shape {x.shape} for {expected}")
        if x.dtype != object and not np.all(np.isfinite(x)):
            raise ConfigurationError("the sampler gave inputs containing NaN or inf")
        return x

    return checked


def steps_per_chunk(config: TrainingConfig, weights: Weights, data: tuple | None) -> int:
    """Steps per chunk: fed batches under :data:`CHUNK_BYTES`; fixed data, about 2³¹ FLOP
    (~50 ms on two cores: each chunk ends in a host sync, and at 2²⁷ FLOP the syncs made a GD
    step of the ``bench train`` shapes 1.5× slower). The run is then cut into equal chunks
    under that size: every chunk computes all its steps, those past the last one included
    (the last chunk is padded to the compiled length), and 1001 steps in chunks of the 96
    that the budget allows computed 1056 (``bench train``: 0.77 s → 0.73 s in equal chunks
    of 91)."""
    total = config.steps + 1
    if data is None:
        per_step = 8 * weights[0].shape[0] * config.batch * (weights[0].shape[2] + 1)
        limit = max(1, min(total, 1024, CHUNK_BYTES // per_step))
    else:
        flops = 6 * data[0].shape[-2] * sum(w.size for w in weights) + 1
        limit = max(1, min(total, 4096, (1 << 31) // flops))
    chunks = -(-total // limit)
    return -(-total // chunks)


def _progress_bar(total: int, show: bool) -> Any:
    if not show:
        return None
    from symescape.progress import progress_bar

    return progress_bar(
        total=total, desc="training", unit="step", leave=False, mininterval=1.0, delay=2.0
    )


@lru_cache(maxsize=8)
def _notice(reason: str) -> None:
    print(f"symescape: {reason}; training runs on the NumPy engine", file=sys.stderr)


def _engine(
    weights: Weights,
    teacher: Teacher,
    kernels: ActivationKernels,
    config: TrainingConfig,
    rates: np.ndarray,
    data: tuple | None,
    evaluation: Evaluation | None,
    masks: tuple | None,
    keep_weights: bool,
) -> Any:
    """The compiled loop when asked for and possible, else the NumPy loop (with a notice)."""
    ansatz = records_ansatz(weights, teacher)
    if config.engine is Engine.COMPILED:
        reason = None
        if not compiled.jax_available():
            reason = "JAX is not installed (pip install 'jax[cpu]')"
        elif config.loss not in (SQUARED, LOGISTIC):
            reason = f"the compiled engine has no loss {config.loss.name!r}"
        if reason is None:
            return _compiled_loop(
                weights, teacher, kernels, config, rates, data, evaluation, masks, keep_weights
            )
        _notice(reason)
    return NumpyLoop(
        weights, kernels, config, rates, data, evaluation, masks, keep_weights, teacher, ansatz
    )


def _compiled_loop(
    weights: Weights,
    teacher: Teacher,
    kernels: ActivationKernels,
    config: TrainingConfig,
    rates: np.ndarray,
    data: tuple | None,
    evaluation: Evaluation | None,
    masks: tuple | None,
    keep_weights: bool,
) -> compiled.CompiledLoop:
    ensemble = weights[0].shape[0]
    batched = {
        Batching.BATCHED: True,
        Batching.ONE_AT_A_TIME: False,
        Batching.AUTO: compiled.choose_batched(max(w.shape[1] for w in weights), ensemble),
    }[config.batching]
    spec = compiled.LoopSpec(
        activation=kernels.activation,
        depth=len(weights),
        loss=config.loss.name,
        fresh=data is None,
        shared_inputs=data is not None and data[0].ndim == 2,
        weighted=data is not None and data[2] is not None,
        masked=masks is not None,
        ansatz=records_ansatz(weights, teacher),
        evaluation=evaluation is not None,
        record_gradient_norms=evaluation is not None and evaluation.record_gradient_norms,
        keep_weights=keep_weights,
        stop_fraction=config.stop_loss_fraction is not None,
        stop_level=config.stop_held_out_level is not None,
        stop_ansatz=config.stop_ansatz_level is not None,
        batched=batched,
        float64=config.precision is Precision.FLOAT64,
        groups=compiled.ensemble_groups(ensemble),
    )
    args: dict[str, Any] = {
        # one scalar per layer: indexing an (L,) array inside the program fused a different
        # constant slice into each layer's update, one more kernel to compile per layer
        "rates": tuple(np.float64(rate) for rate in rates),
        "direction": teacher.directions[0],
        "record_every": np.int32(config.record_every),
        "last": np.int32(config.steps),
    }
    if data is not None:
        args["x"], args["y"] = data[0], data[1]
        if data[2] is not None:
            args["batch_weights"] = data[2]
    if masks is not None:
        args["masks"] = masks
    if evaluation is not None:
        args["eval_x"], args["eval_y"] = evaluation.x, evaluation.y
        args["eval_direction"] = evaluation.direction
    if config.stop_loss_fraction is not None:
        args["stop_fraction"] = config.stop_loss_fraction
    if config.stop_held_out_level is not None:
        args["stop_level"] = config.stop_held_out_level
    if config.stop_ansatz_level is not None:
        args["stop_ansatz"] = config.stop_ansatz_level * (1 + ANSATZ_STOP_MARGIN)
    return compiled.CompiledLoop(spec, weights, args)


class NumpyLoop:
    """The reference engine: the same steps, records and stop rules as the compiled loop, one
    NumPy step at a time (:func:`symescape.numeric.network.loss_and_gradients`)."""

    def __init__(
        self,
        weights: Weights,
        kernels: ActivationKernels,
        config: TrainingConfig,
        rates: np.ndarray,
        data: tuple | None,
        evaluation: Evaluation | None,
        masks: tuple | None,
        keep_weights: bool,
        teacher: Teacher,
        ansatz: bool,
    ) -> None:
        self.weights_, self.kernels, self.config, self.rates = weights, kernels, config, rates
        self.data, self.evaluation, self.masks = data, evaluation, masks
        self.keep_weights, self.direction, self.ansatz = keep_weights, teacher.directions[0], ansatz
        self.step, self.initial, self.done, self.diverged = 0, None, -1, -1
        self.reached = np.zeros(weights[0].shape[0], dtype=bool)
        self.escaped = np.zeros(weights[0].shape[0], dtype=bool)
        self._outputs: dict | None = None

    max_pending = 1
    """Chunks dispatched and not yet collected (a NumPy chunk is computed at dispatch)."""

    def dispatch(
        self, count: int, x: np.ndarray | None = None, y: np.ndarray | None = None
    ) -> None:
        config, rows = self.config, {"recorded": [], "loss": [], "observed": []}
        for k in range(count):
            s = self.step
            if self.done >= 0 or self.diverged >= 0:
                break
            if self.data is None:
                xs, ys, bw = x[k], y[k], None
            else:
                xs, ys, bw = self.data
            loss, passed, grads = loss_and_gradients(
                self.weights_, xs, ys, config.loss, self.kernels, bw
            )
            rows["loss"].append(loss)
            if not np.all(np.isfinite(loss)):
                self.diverged = s
                rows["recorded"].append(False)
                rows["observed"].append(None)
                break
            if s == 0:
                self.initial = loss.copy()
            last = s == config.steps
            stop = config.stop_loss_fraction is not None and bool(
                np.all(loss < config.stop_loss_fraction * self.initial)
            )
            record = s % config.record_every == 0 or last or stop
            observed = self._observe(passed, xs, bw) if record else None
            if record and config.stop_held_out_level is not None:
                self.reached |= observed["eval_loss"] < config.stop_held_out_level
                stop = stop or bool(np.all(self.reached))
            if record and config.stop_ansatz_level is not None:
                rho = np.exp(np.mean(np.log(np.abs(observed["ansatz"]) + 1e-300), axis=1))
                self.escaped |= rho >= config.stop_ansatz_level * (1 + ANSATZ_STOP_MARGIN)
                stop = stop or bool(np.all(self.escaped))
            rows["recorded"].append(record)
            rows["observed"].append(observed)
            self.step += 1
            if last or stop:
                self.done = s
                break
            gradients = grads.gradients
            if self.masks is not None:
                gradients = tuple(g * m for g, m in zip(gradients, self.masks, strict=True))
            self.weights_ = tuple(
                w - eta * g for w, eta, g in zip(self.weights_, self.rates, gradients, strict=True)
            )
        self._outputs = rows

    def _observe(self, passed: Any, x: np.ndarray, bw: np.ndarray | None) -> dict:
        w, v = self.weights_, self.direction
        out = {"norms": np.stack([(W**2).sum(axis=(1, 2)) for W in w], axis=1)}
        projection = np.broadcast_to(x, passed.output.shape + (x.shape[-1],)) @ v
        product = passed.output * projection
        out["signal"] = product.mean(axis=1) if bw is None else product @ bw
        if self.ansatz:
            out["ansatz"], out["deviation"] = ansatz_scalars(w, v)
        if self.evaluation is not None:
            ev = self.evaluation
            held = forward(w, ev.x, self.kernels)
            f = held.output
            values, _ = self.config.loss(f, np.broadcast_to(ev.y, f.shape))
            out["eval_loss"] = batch_mean(values[..., None], None)[..., 0]
            projection = ev.x @ ev.direction
            out["eval_signal"] = f @ projection / ev.x.shape[0]
            if ev.record_gradient_norms:
                grads = backward(w, held, np.broadcast_to(projection, f.shape), self.kernels)
                out["eval_gradient_norms"] = np.stack(
                    [(g**2).sum(axis=(1, 2)) for g in grads.gradients], axis=1
                )
        if self.keep_weights:
            out["weights"] = tuple(W.copy() for W in w)
        return out

    def collect(self) -> tuple[dict, int, int]:
        rows, self._outputs = self._outputs, None
        return rows, self.done, self.diverged

    def weights(self) -> Weights:
        return self.weights_


def _recorded_rows(outputs: dict, start: int) -> list[tuple[int, np.ndarray, dict]]:
    """(step, loss, observed quantities) of every recorded step of a chunk (either engine)."""
    recorded = np.asarray(outputs["recorded"], dtype=bool)
    if "observed" in outputs:  # NumPy engine: one dict per step
        return [
            (start + k, outputs["loss"][k], outputs["observed"][k])
            for k in np.flatnonzero(recorded)
        ]
    keys = [k for k in outputs if k not in ("recorded", "loss")]
    return [
        (
            start + k,
            outputs["loss"][k],
            {
                key: tuple(a[k] for a in outputs[key])
                if isinstance(outputs[key], tuple)
                else outputs[key][k]
                for key in keys
            },
        )
        for k in np.flatnonzero(recorded)
    ]


def _assemble(
    rows: list,
    loop: Any,
    rates: np.ndarray,
    teacher: Teacher,
    evaluation: Evaluation | None,
    keep_weights: bool,
    stopped: bool,
) -> TrainingRecord:
    def stack(key: str) -> np.ndarray:
        return np.array([np.asarray(r[2][key], dtype=float) for r in rows])

    norms = stack("norms")
    normalised = norms / rates[None, None, :]
    single = records_ansatz(loop.weights(), teacher)
    held_out = None
    if evaluation is not None:
        held_out = EvaluationRecord(
            stack("eval_loss"),
            stack("eval_signal"),
            stack("eval_gradient_norms") if evaluation.record_gradient_norms else None,
        )
    history = None
    if keep_weights:
        depth = len(rows[0][2]["weights"])
        history = tuple(
            np.array([np.asarray(r[2]["weights"][l], dtype=float) for r in rows])
            for l in range(depth)  # noqa: E741
        )
    return TrainingRecord(
        steps=np.array([r[0] for r in rows]),
        loss=np.array([np.asarray(r[1], dtype=float) for r in rows]),
        layer_norms=norms,
        imbalance=normalised[:, :, 1:] - normalised[:, :, :-1],
        signal=stack("signal"),
        ansatz=stack("ansatz") if single else None,
        ansatz_deviation=stack("deviation") if single else None,
        weights=loop.weights(),
        stopped_early=stopped,
        evaluation=held_out,
        weight_history=history,
        engine=Engine.NUMPY if isinstance(loop, NumpyLoop) else Engine.COMPILED,
    )
