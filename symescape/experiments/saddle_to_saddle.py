"""Saddle to saddle: gradient flow of a deep homogeneous (ReLU) network from a small start, past
the first escape, through the later plateaus (MATH.md §10; seed 004's conjecture).

From θ(0) = ε·u (u a random unit direction) the squared loss 𝓛(θ) = E[|f_θ(x) − y(x)|²]/2 on a
fixed Gaussian sample is followed along the gradient flow θ' = −∇𝓛(θ) (an adaptive Runge–Kutta
integration of the flow, in flow time t). Near the origin the flow is the flow of g (the first
escape, :mod:`symescape.experiments.escape_directions`); afterwards it may visit further saddles,
each seen as a plateau of the loss. At each plateau we report its time span, its loss and the
effective rank of every layer,

    rank_eff(W_l) = #{i : σ_i(W_l) > τ max_t σ_1(W_l(t))}    (τ = ``rank_threshold``),

and the bottleneck rank min_l rank_eff(W_l) (the smallest rank the representation passes
through). Measured against the layer's largest σ_1 along the run, the ε-sized start counts as
rank 0: the first plateau is the saddle at the origin. The conjecture: the bottleneck rank grows
by one per saddle.

A plateau is a maximal run of the time grid where the loss changes by at most ``flat`` × 𝓛(0)
over every window of ``window`` grid steps, lasting at least ``min_windows`` windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symescape.errors import ConfigurationError, SymescapeError
from symescape.experiments.escape_directions import (
    EscapeDirectionConfig,
    Problem,
    flatten_ensemble,
    make_problem,
    piecewise_linear_kernels,
    random_directions,
    unflatten_ensemble,
)
from symescape.numeric.network import flat_squared_loss
from symescape.numeric.teachers import TeacherSpec
from symescape.numeric.threads import single_threaded_blas


class FlowError(SymescapeError):
    """The gradient-flow integration failed (the integrator's message is attached), or the
    flow left the finite range (a non-finite loss or gradient)."""


def _has_left_start(loss: float, initial: float, flat: float) -> bool:
    """Whether a flow whose loss went from ``initial`` to ``loss`` has left its start: it fell
    by more than 10 × ``flat`` of the start value (the run's doublings stop on it, and
    :attr:`SaddleRun.left_start` reports it)."""
    return bool(loss < (1 - 10 * flat) * initial)


LARGEST_TIME_LOG10 = float(np.log10(np.finfo(float).max))
"""log10 of the longest default flow time (after its doublings) a run accepts: a double's."""


@dataclass(frozen=True, kw_only=True)
class SaddleConfig:
    """Network, teacher, start and detection settings.

    ``init_scale`` ε = |θ(0)|; ``time`` the flow time to integrate to (None: start from
    ``10/ε^{max(L−2, 1)}`` and double, at most ``doublings`` times, until the loss has left its
    start and the last half of the run is flat; the flow stops once 𝓛 < ``stop_fraction``·𝓛(0));
    ``grid`` points of the recorded time grid; plateau detection as in the module docstring;
    ``rank_threshold`` τ."""

    depth: int = 3
    width: int = 10
    input_dim: int = 6
    outputs: int = 2
    teacher: TeacherSpec | str = "units:3,1"
    activation: str = "relu"
    samples: int = 500
    init_scale: float = 1e-2
    time: float | None = None
    doublings: int = 6
    grid: int = 600
    window: int = 6
    flat: float = 5e-3
    min_windows: int = 2
    rank_threshold: float = 0.1
    rtol: float = 1e-4
    stop_fraction: float = 1e-2
    seed: int = 0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.init_scale) and self.init_scale > 0):
            raise ConfigurationError(f"init_scale must be > 0, got {self.init_scale}")
        if self.time is not None and not (np.isfinite(self.time) and self.time > 0):
            raise ConfigurationError(f"time must be > 0, got {self.time}")
        if not 0 < self.rank_threshold < 1:
            raise ConfigurationError(f"rank_threshold must be in (0, 1), got {self.rank_threshold}")
        if not (self.flat > 0 and self.rtol > 0):
            raise ConfigurationError("flat and rtol must be > 0")
        for name in ("grid", "window", "min_windows"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.doublings < 0:
            raise ConfigurationError(f"doublings must be ≥ 0, got {self.doublings}")
        if self.grid < 2 * self.window * self.min_windows:
            raise ConfigurationError("the grid must hold at least two plateaus' windows")
        if self.time is None:
            # 10/ε^{L−2} at L = 200, ε = 0.01 is 10^397: it underflowed to a division by zero
            longest = self.default_time_log10() + self.doublings * np.log10(2.0)
            if longest > LARGEST_TIME_LOG10:
                raise ConfigurationError(
                    f"the default flow time 10/ε^max(L−2, 1), doubled up to {self.doublings} "
                    f"times, reaches 10^{longest:.1f} (ε = {self.init_scale:g}, L = "
                    f"{self.depth}): beyond double precision; a start this small does not leave "
                    "the saddle in computable time: raise init_scale (--init-scale) or give the "
                    "time (--time)"
                )
        object.__setattr__(self, "teacher", self.problem_config().teacher)

    def default_time_log10(self) -> float:
        """log10 of the first flow time tried without ``time``: 10/ε^{max(L−2, 1)}."""
        return 1.0 - max(self.depth - 2, 1) * float(np.log10(self.init_scale))

    def problem_config(self) -> EscapeDirectionConfig:
        """The same sample, teacher and network shapes as the escape-direction solver uses."""
        return EscapeDirectionConfig(
            activation=self.activation,
            depth=self.depth,
            width=self.width,
            input_dim=self.input_dim,
            outputs=self.outputs,
            teacher=self.teacher,
            samples=self.samples,
            seed=self.seed,
        )


SMALL_START_LOSS = 0.1
"""A start is small when its loss is within this fraction of the loss at the origin."""


@dataclass(frozen=True)
class Plateau:
    """One plateau: flow times [start, end], its (median) loss, the effective rank of every
    layer and the bottleneck rank at its middle, and those singular values. ``final``: the
    state where the flow was stopped (𝓛 < ``stop_fraction``·𝓛(0)), held to the end of the
    grid: the end point of the run, not a saddle."""

    start: float
    end: float
    loss: float
    layer_ranks: tuple[int, ...]
    bottleneck_rank: int
    singular_values: tuple[tuple[float, ...], ...]
    final: bool = False

    def record(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "loss": self.loss,
            "layer_ranks": list(self.layer_ranks),
            "bottleneck_rank": self.bottleneck_rank,
            "singular_values": [list(s) for s in self.singular_values],
            "final": self.final,
        }


@dataclass(frozen=True)
class SaddleRun:
    """The recorded flow (``times``, ``loss``, ``ranks`` per grid point and layer), the
    plateaus found, and the bottleneck ranks along them."""

    config: SaddleConfig
    times: np.ndarray
    loss: np.ndarray
    ranks: np.ndarray
    plateaus: tuple[Plateau, ...]
    evaluations: int
    stopped: float | None = None
    origin_loss: float = float("nan")

    @property
    def bottleneck_ranks(self) -> tuple[int, ...]:
        return tuple(p.bottleneck_rank for p in self.plateaus)

    @property
    def start_is_small(self) -> bool:
        """Whether θ(0) = ε·u starts at the saddle at the origin: 𝓛(θ(0)) within
        :data:`SMALL_START_LOSS` (relative) of 𝓛(0) = E|y|²/2. A large start (ε = 100) begins
        far above it, and the plateaus found are not the saddle-to-saddle sequence."""
        return bool(abs(self.loss[0] - self.origin_loss) <= SMALL_START_LOSS * self.origin_loss)

    @property
    def left_start(self) -> bool:
        """Whether the flow left its start: the loss fell by more than 10 × ``flat`` of its
        start value. A flow that never left (ε = 1e-300, a zero teacher, depth 20 from 0.01)
        was shown as one plateau with the ranks of the random start, relative to themselves."""
        return _has_left_start(self.loss[-1], self.loss[0], self.config.flat)

    def record(self, trajectory: bool = False) -> dict:
        out = {
            "settings": {
                **{k: v for k, v in vars(self.config).items() if k != "teacher"},
                "teacher": self.config.teacher.text(),
            },
            "plateaus": [p.record() for p in self.plateaus],
            "bottleneck_ranks": list(self.bottleneck_ranks),
            "final_loss": float(self.loss[-1]),
            "initial_loss": float(self.loss[0]),
            "origin_loss": self.origin_loss,
            "start_is_small": self.start_is_small,
            "left_start": self.left_start,
            "time": float(self.times[-1]),
            "stopped": self.stopped,
            "evaluations": self.evaluations,
        }
        if trajectory:
            out["times"] = self.times.tolist()
            out["loss"] = self.loss.tolist()
            out["ranks"] = self.ranks.tolist()
        return out


def effective_ranks(
    theta: tuple[np.ndarray, ...], threshold: float, reference: np.ndarray | None = None
) -> tuple[tuple[int, ...], tuple[tuple[float, ...], ...]]:
    """rank_eff(W_l) = #{i : σ_i(W_l) > τ r_l} per layer (2-D arrays), with the singular values;
    r_l = ``reference[l]`` (the largest σ_1(W_l) along the run, so that the ε-sized remains of
    the start count as rank 0) or σ_1(W_l) itself."""
    ranks, values = [], []
    for index, w in enumerate(theta):
        s = np.linalg.svd(w, compute_uv=False)
        scale = s[0] if reference is None else reference[index]
        ranks.append(int(np.sum(s > threshold * scale)) if scale > 0 else 0)
        values.append(tuple(map(float, s)))
    return tuple(ranks), tuple(values)


def find_plateaus(
    times: np.ndarray, loss: np.ndarray, window: int, flat: float, min_windows: int
) -> list[tuple[int, int]]:
    """Index ranges [i, j] of the grid where |𝓛(t_{k+w}) − 𝓛(t_k)| ≤ ``flat``·𝓛(t_0) for every
    k in [i, j − w], at least ``min_windows`` windows long (maximal runs)."""
    change = np.abs(loss[window:] - loss[:-window])
    still = change <= flat * loss[0]
    runs, k = [], 0
    while k < len(still):
        if not still[k]:
            k += 1
            continue
        start = k
        while k < len(still) and still[k]:
            k += 1
        end = k - 1 + window
        if end - start >= min_windows * window:
            runs.append((start, end))
    return runs


class _Flow:
    """−∇𝓛 as a flat vector field (piecewise-linear kernels, one network); remembers the loss at
    the last point it was called at (the integrator's stop event reads it for free)."""

    def __init__(self, problem: Problem) -> None:
        # one network, its batch checked once: the flow evaluates the field ~7000 times
        self._loss_and_gradient = flat_squared_loss(
            problem.shapes, problem.x, problem.y, piecewise_linear_kernels(problem.kernels)
        )
        self.evaluations = 0
        self._last: tuple[np.ndarray, float] | None = None

    def loss_and_field(self, vector: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = self._loss_and_gradient(vector)
        if not (np.isfinite(value) and np.all(np.isfinite(gradient))):
            raise FlowError(
                f"the loss or its gradient became non-finite (loss {value}): the flow left "
                "the finite range"
            )
        self.evaluations += 1
        self._last = (vector.copy(), value)
        return value, -gradient

    def loss(self, vector: np.ndarray) -> float:
        if self._last is not None and np.array_equal(self._last[0], vector):
            return self._last[1]
        return self.loss_and_field(vector)[0]

    def __call__(self, _t: float, vector: np.ndarray) -> np.ndarray:
        return self.loss_and_field(vector)[1]


def _integrate(
    flow: _Flow, start: np.ndarray, t0: float, t1: float, rtol: float, floor: float
) -> object:
    """Adaptive RK45 on [t0, t1] with dense output, stopped once the loss is below ``floor``."""
    from scipy.integrate import solve_ivp

    def converged(_t: float, vector: np.ndarray) -> float:
        return flow.loss(vector) - floor

    converged.terminal = True
    result = solve_ivp(
        flow, (t0, t1), start, method="RK45", rtol=rtol, atol=rtol * 1e-3, dense_output=True,
        events=converged,
    )  # fmt: skip
    if result.status < 0:
        raise FlowError(f"gradient-flow integration failed: {result.message}")
    return result


def _state_at(pieces: list, t: float) -> np.ndarray:
    for piece in pieces:
        if piece.t[0] <= t <= piece.t[-1]:
            return piece.sol(t)
    return pieces[-1].y[:, -1]


def flow_memory(config: SaddleConfig) -> float:
    """Bytes one field evaluation needs, roughly: the activations of every sample and layer
    (×6) and RK45's seven stages of the parameters (×10), besides the sample itself; the dense
    output grows with the steps taken, on top of this. For a refusal before allocating."""
    width, depth, outputs = config.width, config.depth, config.outputs
    parameters = width * config.input_dim + (depth - 2) * width**2 + outputs * width
    activations = config.samples * max(width, outputs) * (depth + 1) * 6
    return 8.0 * (activations + 10 * parameters + config.samples * config.input_dim)


def saddle_to_saddle(config: SaddleConfig) -> SaddleRun:
    """Integrate the gradient flow from ε·u and find the plateaus and their ranks.

    Raises:
        ConfigurationError, NotHomogeneousError: as :func:`make_problem`; FlowError: the
        integrator failed, or the loss or its gradient became non-finite.
    """
    problem = make_problem(config.problem_config())
    flow = _Flow(problem)
    rng = np.random.default_rng(config.seed + 4)
    start = config.init_scale * flatten_ensemble(random_directions(problem.shapes, 1, rng))[0]
    origin = float(flow.loss(np.zeros_like(start)))  # 𝓛(0) = E|y|²/2, the saddle's loss
    # 10/ε^{max(L−2, 1)}, finite: the config refuses a start whose time is beyond a double
    horizon = config.time or 10.0 / config.init_scale ** max(config.depth - 2, 1)
    with single_threaded_blas():
        initial = flow.loss(start)
        floor = config.stop_fraction * initial
        pieces = [_integrate(flow, start, 0.0, horizon, config.rtol, floor)]
        for _ in range(0 if config.time else config.doublings):
            late = flow.loss(pieces[-1].y[:, -1])
            middle = flow.loss(_state_at(pieces, horizon / 2))
            stopped = pieces[-1].status == 1
            if stopped or (
                _has_left_start(late, initial, config.flat)
                and abs(late - middle) <= config.flat * initial
            ):
                break  # converged, or escaped with a flat last half
            pieces.append(
                _integrate(flow, pieces[-1].y[:, -1], horizon, 2 * horizon, config.rtol, floor)
            )
            horizon *= 2
        stopped = float(pieces[-1].t[-1]) if pieces[-1].status == 1 else None
        # the grid spans the run, not the time asked for: a flow stopped at t = 1017.7 with
        # --time 1e5 had 600 points 167 apart, and its plateaus (ranks 0, 1, 2) vanished
        end = horizon if stopped is None else stopped
        times = np.linspace(0.0, end, config.grid + 1)
        states = np.array([_state_at(pieces, t) for t in times])
        loss = np.array([flow.loss(s) for s in states])
    layers = [
        [w[0] for w in unflatten_ensemble(s[None], problem.shapes)] for s in states
    ]
    spectra = np.array(
        [[np.linalg.svd(w, compute_uv=False)[0] for w in theta] for theta in layers]
    )
    reference = spectra.max(axis=0)  # σ_1(W_l) at its largest along the run
    ranks = np.array(
        [effective_ranks(tuple(t), config.rank_threshold, reference)[0] for t in layers]
    )
    plateaus = []
    for i, j in find_plateaus(times, loss, config.window, config.flat, config.min_windows):
        middle = (i + j) // 2
        layer_ranks, values = effective_ranks(
            tuple(layers[middle]), config.rank_threshold, reference
        )
        final = stopped is not None and j == len(times) - 1
        plateaus.append(
            Plateau(
                # the final state ends where the flow was stopped, not at the end of the grid
                # it is held to (the JSON said stopped 1017.7 for a 'plateau' 1020–2000)
                min(float(times[i]), stopped) if final else float(times[i]),
                stopped if final else float(times[j]),
                float(np.median(loss[i : j + 1])),
                layer_ranks,
                min(layer_ranks),
                values,
                final,
            )
        )
    if stopped is not None and not (plateaus and plateaus[-1].final):
        # The stop state is the run's end point: reported even when the grid ends too soon
        # after the stop for the flatness windows to see it.
        layer_ranks, values = effective_ranks(tuple(layers[-1]), config.rank_threshold, reference)
        plateaus.append(
            Plateau(stopped, stopped, float(loss[-1]), layer_ranks, min(layer_ranks), values, True)
        )
    return SaddleRun(
        config, times, loss, ranks, tuple(plateaus), flow.evaluations, stopped, origin
    )
