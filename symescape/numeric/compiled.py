"""The compiled training engine (JAX): one jit-compiled ``lax.scan`` over a chunk of steps in which
the forward and backward passes, the SGD/GD update, the recorded quantities and the stop and
divergence checks are fused (MATH.md §0, §1).

Each step is the NumPy engine's (:mod:`symescape.numeric.network`) term by term, for every member
of the ensemble:

    z_1 = W_1 x,  h_l = σ(z_l),  f = z_L,  δ_L = ∂ℓ/∂f,  δ_l = σ'(z_l) ⊙ (W_{l+1}ᵀ δ_{l+1}),
    G_l = E_B[δ_l h_{l-1}ᵀ],  W_l ← W_l − η_l (m_l ⊙ G_l)

with σ and σ' generated from the symbolic activation through the code-generation boundary
(``activation_kernels(…, Backend.JAX)``), so the compiled step and the NumPy step evaluate the
same formulas. The ensemble is either vectorised (``vmap``, one batched computation) or stepped
one member after another (``lax.map``); :func:`choose_batched` picks by the shapes, from
measurements on two cores (``symescape bench ensemble``).

Precision: float64 by default, enabled only around this engine's own calls with the
``jax.enable_x64`` context manager, so JAX's global default (float32) is not changed for other
code in the process; float32 on request.

The host driver (:func:`symescape.numeric.training.train`) feeds the chunks, reads back one row
of outputs per step (zeros where a step recorded nothing) and raises on divergence.
"""

from __future__ import annotations

import importlib.util
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from symescape.options import Backend
from symescape.processes import usable_cores
from symescape.symbolic.activations import Activation
from symescape.symbolic.resolved import activation_kernels

COMPILED_LOSSES = ("squared", "logistic")
"""Losses the compiled engine has (by :class:`~symescape.numeric.losses.Loss` name)."""


def jax_available() -> bool:
    """Whether JAX can be imported (the compiled engine's only requirement)."""
    return importlib.util.find_spec("jax") is not None


HOST_DEVICES_VARIABLE = "SYMESCAPE_HOST_DEVICES"
"""Environment variable: how many XLA host devices to expose (default: the usable cores)."""


def configure_host_devices() -> None:
    """Expose one XLA host (CPU) device per usable core, before JAX starts.

    XLA runs a program on one CPU device on one thread for small operations, so the step of a
    width-16 ensemble used one of the two cores; with one device per core the ensemble is split
    across them (:func:`ensemble_groups`), which measured 2.3× faster on two cores
    (``symescape bench train``). ``--xla_cpu_multi_thread_eigen=false`` is added too: with a
    device per core, Eigen's own threads for each device's small products only compete with
    the other device (the fixed-batch ``bench train`` step 1.39 → 1.12 CPU s, 0.69 → 0.56 s).
    Flags are added to ``XLA_FLAGS`` only when JAX is not yet imported, and never over a flag
    the user set; ``SYMESCAPE_HOST_DEVICES=1`` keeps one device, with Eigen's threads. A GPU is
    unaffected.
    """
    import os
    import sys

    flags = planned_xla_flags()
    if "jax" not in sys.modules and flags != os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = flags


def planned_xla_flags() -> str:
    """``XLA_FLAGS`` as :func:`configure_host_devices` sets them, without setting them: the
    user's flags, plus ``--xla_force_host_platform_device_count`` (from
    ``SYMESCAPE_HOST_DEVICES``, else the usable cores) when they do not name it and it is > 1,
    plus ``--xla_cpu_multi_thread_eigen=false`` when they do not name it and there are several
    devices."""
    import os

    flags = os.environ.get("XLA_FLAGS", "")
    added = []
    setting = os.environ.get(HOST_DEVICES_VARIABLE, "")
    count = int(setting) if setting.isdigit() and int(setting) > 0 else usable_cores()
    if "xla_force_host_platform_device_count" not in flags and count > 1:
        added.append(f"--xla_force_host_platform_device_count={count}")
    # one device (one core, or SYMESCAPE_HOST_DEVICES=1) keeps Eigen's threads: it has no
    # other device to compete with (the fifth session measured one single-threaded device worse)
    if "xla_cpu_multi_thread_eigen" not in flags and count > 1:
        added.append("--xla_cpu_multi_thread_eigen=false")
    return " ".join([flags, *added]).strip()


def ensemble_groups(members: int) -> int:
    """Over how many host devices the ensemble is split: the most that divide ``members`` evenly
    (each device then steps ``members / groups`` networks; 1 when JAX has one device)."""
    configure_host_devices()
    import jax

    devices = len(jax.devices())
    return max(d for d in range(1, min(devices, members) + 1) if members % d == 0)


def choose_batched(width: int, members: int) -> bool:
    """Vectorise the ensemble (True) or step members one at a time (False).

    Measured (``bench ensemble``, two cores): at width 16 the batched step is faster; from
    width ~64 one member at a time keeps each matrix product in cache and is faster.
    """
    return members == 1 or width <= 32


@dataclass(frozen=True)
class LoopSpec:
    """The static structure of the compiled loop; one compiled program per spec (and shapes).

    ``fresh``: a new batch is fed for every step (else a fixed batch); ``shared_inputs``: the
    fixed inputs are (B, D), shared by all members (else (E, B, D)); ``weighted``: batch weights
    (Gauss–Hermite); ``masked``: gradients are multiplied by fixed masks m_l; ``ansatz``: record
    the ansatz scalars X_l and the distance from the ansatz; ``evaluation``: record the held-out
    loss and signal M = E[f (u·x)]; ``record_gradient_norms``: and ||∂M/∂W_l||² (a backward pass
    over the held-out set); ``keep_weights``: record the weights;
    ``stop_fraction``: stop once every member's loss is below a fraction of its initial loss;
    ``stop_level``: stop once every member's held-out loss has been below a level;
    ``stop_ansatz``: stop once every member's (Π_l |X_l|)^{1/L} has reached a level;
    ``groups``: the ensemble is split evenly over this many devices (:func:`ensemble_groups`)."""

    activation: Activation
    depth: int
    loss: str
    fresh: bool
    shared_inputs: bool
    weighted: bool
    masked: bool
    ansatz: bool
    evaluation: bool
    keep_weights: bool
    stop_fraction: bool
    stop_level: bool
    stop_ansatz: bool
    batched: bool
    float64: bool
    groups: int = 1
    record_gradient_norms: bool = True


def jax_precision(float64: bool) -> Any:
    """A context in which JAX computes in float64 (or float32): ``jax.enable_x64`` (JAX ≥ 0.6),
    ``jax.experimental.enable_x64`` / ``disable_x64`` before; the global default is untouched."""
    import jax

    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(float64)
    from jax import experimental

    return experimental.enable_x64() if float64 else experimental.disable_x64()


def _loss_function(name: str) -> Callable:
    import jax.numpy as jnp
    from jax.scipy.special import expit

    if name == "squared":

        def squared(f: Any, y: Any) -> tuple[Any, Any]:
            r = f - y
            return r * r / 2, r

        return squared

    def logistic(f: Any, y: Any) -> tuple[Any, Any]:
        m = y * f
        return jnp.logaddexp(0.0, -m), -y * expit(-m)

    return logistic


def _member_functions(spec: LoopSpec) -> tuple[Callable, Callable]:
    """(step, observe) for one network: weights tuple of (n_l, n_{l-1}), inputs (B, D)."""
    import jax.numpy as jnp

    kernels = activation_kernels(spec.activation, Backend.JAX)
    sigma, derivative = kernels.sigma, kernels.derivative
    loss_fn = _loss_function(spec.loss)
    depth = spec.depth

    # Layout inside the step, by what measured faster (bench train / ensemble, two cores):
    # batched (narrow) ensembles run feature-major, h_l of shape (n_l, B) and z = W h, so the
    # batch is the long contiguous axis (width 16: 0.68 → 0.63 s per 1001 GD steps); members
    # stepped one at a time (wide) stay batch-major, (B, n_l) and z = h Wᵀ (width 64: 21
    # against 20 steps/s feature-major).
    feature_major = spec.batched

    def layer(W: Any, h: Any) -> Any:
        return W @ h if feature_major else h @ W.T

    def forward(w: tuple, x: Any) -> tuple[list, list]:
        h = x.T if feature_major else x
        pre, post = [], [h]
        for index, W in enumerate(w):
            z = layer(W, h)
            pre.append(z)
            if index < depth - 1:
                h = sigma(z)
                post.append(h)
        return pre, post

    def output(pre: list) -> Any:
        return pre[-1][0] if feature_major else pre[-1][:, 0]

    def backward(w: tuple, pre: list, post: list, dloss: Any, scale: Any) -> list:
        """G_l = E_B[δ_l h_{l-1}ᵀ]. Unweighted, the mean is taken after the product (1/B on the
        n_l × n_{l-1} gradient, not on the n_l × B deltas: one pass less per layer; exact when
        B is a power of two, else within a rounding of the NumPy engine's order); weighted,
        each sample's weight multiplies δ_l first, as there. Feature-major, the product
        contracts the batch axis, the minor axis of both factors, as written: spelled
        ``δ @ hᵀ``, XLA copied every h transposed at every step (~6 % of the ``bench train``
        step)."""
        delta = dloss[None, :] if feature_major else dloss[:, None]
        grads = [None] * depth
        per_sample = not isinstance(scale, float)
        for l in range(depth, 0, -1):  # noqa: E741 - l is the layer index of MATH.md
            weighted = delta * scale if per_sample else delta
            if feature_major:
                product = jnp.einsum("ib,jb->ij", weighted, post[l - 1])
            else:
                product = weighted.T @ post[l - 1]
            grads[l - 1] = product if per_sample else product * scale
            if l > 1:
                back = w[l - 1].T @ delta if feature_major else delta @ w[l - 1]
                delta = derivative(pre[l - 2]) * back
        return grads

    def scale_of(batch: int, bw: Any) -> Any:
        """1/B (a Python float: weakly typed, so float32 runs stay float32), or the batch
        weights as a row (feature-major) or column beside the deltas."""
        if bw is None:
            return 1.0 / batch
        return bw[None, :] if feature_major else bw[:, None]

    def mean(values: Any, bw: Any) -> Any:
        return values.sum() / values.shape[0] if bw is None else (values * bw).sum()

    def step(w: tuple, x: Any, y: Any, bw: Any) -> tuple[Any, Any, list]:
        pre, post = forward(w, x)
        f = output(pre)
        values, dloss = loss_fn(f, y)
        return mean(values, bw), f, backward(w, pre, post, dloss, scale_of(x.shape[0], bw))

    def observe(w: tuple, x: Any, f: Any, bw: Any, args: dict) -> dict:
        out = {"norms": jnp.stack([(W**2).sum() for W in w])}
        v = args["direction"]
        out["signal"] = mean(f * (x @ v), bw)
        if spec.ansatz:
            X = [(w[0] @ v).mean()] + [W.mean() * W.shape[1] for W in w[1:]]
            width = w[0].shape[0]
            rebuilt = [X[0] * jnp.ones((w[0].shape[0], 1)) * v[None, :]] + [
                jnp.broadcast_to(X[l] / width, W.shape) for l, W in enumerate(w) if l > 0
            ]
            out["ansatz"] = jnp.stack(X)
            out["deviation"] = jnp.max(
                jnp.stack([jnp.abs(W - R).max() for W, R in zip(w, rebuilt, strict=True)])
            )
        if spec.evaluation:
            xe, ye, u = args["eval_x"], args["eval_y"], args["eval_direction"]
            pre, post = forward(w, xe)
            fe = output(pre)
            values, _ = loss_fn(fe, ye)
            projection = xe @ u
            out["eval_loss"] = mean(values, None)
            out["eval_signal"] = mean(fe * projection, None)
            if spec.record_gradient_norms:
                grads = backward(w, pre, post, projection, scale_of(xe.shape[0], None))
                out["eval_gradient_norms"] = jnp.stack([(G**2).sum() for G in grads])
        if spec.keep_weights:
            out["weights"] = tuple(w)
        return out

    return step, observe


def _chunk_function(spec: LoopSpec, length: int | None) -> Callable:
    """The chunk: a scan of the fused step over the fed batches (or ``length`` steps)."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    member_step, member_observe = _member_functions(spec)

    def one_at_a_time(function: Callable, *mapped: Any) -> Any:
        return lax.map(lambda a: function(*a), mapped)

    def over_members(function: Callable, *mapped: Any) -> Any:
        if spec.batched:
            return jax.vmap(function)(*mapped)
        if spec.groups == 1:
            return one_at_a_time(function, *mapped)
        # one sequence of members per device: (E, …) → (groups, E/groups, …), vmapped over the
        # device axis, so the partitioner keeps each device's sequence on its own core
        def split(t: Any) -> Any:
            return t.reshape(spec.groups, t.shape[0] // spec.groups, *t.shape[1:])

        grouped = jax.vmap(lambda *g: one_at_a_time(function, *g))(*jax.tree.map(split, mapped))
        return jax.tree.map(lambda t: t.reshape(-1, *t.shape[2:]), grouped)

    def chunk(carry: dict, feed: dict, args: dict) -> tuple[dict, dict]:
        members = carry["weights"][0].shape[0]

        def data(inputs: dict) -> tuple[Any, Any, Any]:
            if spec.fresh:
                x, y = inputs["x"], inputs["y"]
            else:
                x, y = args["x"], args["y"]
                if spec.shared_inputs:
                    x = jnp.broadcast_to(x, (members, *x.shape))
            y = jnp.broadcast_to(y, x.shape[:2])
            bw = args.get("batch_weights")
            if bw is not None and bw.ndim == 1:
                bw = jnp.broadcast_to(bw, x.shape[:2])
            return x, y, bw

        def observe_all(w: tuple, x: Any, f: Any, bw: Any) -> dict:
            if bw is None:
                return over_members(
                    lambda w_, x_, f_: member_observe(w_, x_, f_, None, args), w, x, f
                )
            return over_members(
                lambda w_, x_, f_, b_: member_observe(w_, x_, f_, b_, args), w, x, f, bw
            )

        def record_stop_flags(observed: dict, reached: Any, escaped: Any) -> dict:
            """The held-out and ansatz stop rules at a record step. Their reductions over the
            ensemble run inside the record branch, so only at record steps: split over two
            devices, each is a rendezvous of the devices."""
            stop = jnp.array(False)
            if spec.stop_level:
                reached = reached | (observed["eval_loss"] < args["stop_level"])
                stop = stop | jnp.all(reached)
            if spec.stop_ansatz:
                rho = jnp.exp(jnp.mean(jnp.log(jnp.abs(observed["ansatz"]) + 1e-300), axis=1))
                escaped = escaped | (rho >= args["stop_ansatz"])
                stop = stop | jnp.all(escaped)
            return {"reached": reached, "escaped": escaped, "stop": stop}

        def body(state: dict, inputs: dict) -> tuple[dict, dict]:
            s = state["step"]
            w = state["weights"]
            # No reduction over the ensemble at every step unless the loss-fraction stop rule
            # asks for one: split over two devices, every such reduction is a per-step
            # rendezvous of the devices (the fixed-batch step of `bench train` 0.74–0.81 →
            # 0.67–0.69 s without it). Divergence is therefore tracked per member (the host
            # reports the earliest step), and the other stop rules reduce at record steps.
            active = state["done"] < 0
            x, y, bw = data(inputs)
            if bw is None:
                loss, f, grads = over_members(lambda a, b, c: member_step(a, b, c, None), w, x, y)
            else:
                loss, f, grads = over_members(member_step, w, x, y, bw)
            finite = jnp.isfinite(loss)
            healthy = (state["diverged"] < 0) & finite
            initial = jnp.where(s == 0, loss, state["initial"])
            stop_now = jnp.array(False)
            if spec.stop_fraction:
                stop_now = jnp.all(loss < args["stop_fraction"] * initial)
            last = s == args["last"]
            record = active & ((s % args["record_every"] == 0) | last | stop_now)
            shapes = jax.eval_shape(observe_all, w, x, f, bw)

            def recorded() -> tuple[dict, dict]:
                observed = observe_all(w, x, f, bw)
                return observed, record_stop_flags(observed, state["reached"], state["escaped"])

            def skipped() -> tuple[dict, dict]:
                zeros = jax.tree.map(lambda t: jnp.zeros(t.shape, t.dtype), shapes)
                flags = {"reached": state["reached"], "escaped": state["escaped"]}
                return zeros, {**flags, "stop": jnp.array(False)}

            observed, flags = lax.cond(record, recorded, skipped)
            stop_now = stop_now | flags["stop"]
            reached, escaped = flags["reached"], flags["escaped"]
            finished = active & (last | stop_now)
            update = (active & ~finished & healthy)[:, None, None]
            masks = args.get("masks")
            new_w = []
            for index, (W, G) in enumerate(zip(w, grads, strict=True)):
                if masks is not None:
                    G = G * masks[index]
                new_w.append(jnp.where(update, W - args["rates"][index] * G, W))
            new_state = {
                "step": s + 1,
                "weights": tuple(new_w),
                "initial": initial,
                "reached": reached,
                "escaped": escaped,
                "done": jnp.where(finished, s, state["done"]),
                "diverged": jnp.where(active & ~finite & (state["diverged"] < 0), s,
                                      state["diverged"]),
            }
            return new_state, {"recorded": record, "loss": jnp.where(active, loss, 0.0), **observed}

        return lax.scan(body, carry, feed, length=length)

    return chunk


@lru_cache(maxsize=64)
def _chunk_program(spec: LoopSpec, length: int | None) -> Callable:
    """The jit-compiled chunk (fresh batches: any fed length; fixed data: ``length`` steps)."""
    configure_host_devices()
    import jax

    _use_compilation_cache()
    return jax.jit(_chunk_function(spec, length))


@lru_cache(maxsize=1)
def _use_compilation_cache() -> None:
    """Keep compiled programs on disk between processes (JAX's persistent compilation cache), in
    ``$SYMESCAPE_JAX_CACHE`` or ``~/.cache/symescape/jax``; left alone when the process already
    set a cache directory, and off when ``SYMESCAPE_JAX_CACHE=off``. Compiling the loop takes a
    few seconds per program; a second run of the same experiment skips it."""
    import os
    from pathlib import Path

    import jax

    setting = os.environ.get("SYMESCAPE_JAX_CACHE", "")
    if setting == "off" or jax.config.jax_compilation_cache_dir:
        return
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    jax.config.update("jax_compilation_cache_dir", setting or str(base / "symescape" / "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


class CompiledLoop:
    """The compiled engine's state between chunks: weights, initial loss, stop flags, the step
    at which the run finished and, per member, the step at which it diverged (−1 while
    running; :meth:`collect` reports the earliest)."""

    def __init__(
        self,
        spec: LoopSpec,
        weights: tuple[np.ndarray, ...],
        args: dict[str, Any],
    ) -> None:
        configure_host_devices()
        import jax

        self.spec = spec
        self.dtype = np.float64 if spec.float64 else np.float32
        members = weights[0].shape[0]
        self._shardings: tuple[Any, Any] | None = None
        if spec.groups > 1:
            from jax.sharding import Mesh, NamedSharding, PartitionSpec

            mesh = Mesh(np.array(jax.devices()[: spec.groups]), ("members",))
            self._shardings = (
                NamedSharding(mesh, PartitionSpec("members")),  # (E, …)
                NamedSharding(mesh, PartitionSpec(None, "members")),  # fed batches (K, E, …)
                NamedSharding(mesh, PartitionSpec()),  # the carry's scalars, on every device
            )
        with jax_precision(spec.float64):
            self._args = {
                k: self._device(v, member_axis=0 if self._per_member(k, v) else None)
                for k, v in args.items()
            }
            # The carry is placed as the program returns it (per-member arrays split over the
            # devices, scalars on every device): an uncommitted first carry compiled the chunk
            # program a second time at the second chunk of every split run (~0.8 s each).
            self._carry = {
                "step": self._device(np.int32(0), member_axis=2),
                "weights": tuple(self._device(w, member_axis=0) for w in weights),
                "initial": self._device(np.full(members, np.nan), member_axis=0),
                "reached": self._device(np.zeros(members, dtype=bool), member_axis=0),
                "escaped": self._device(np.zeros(members, dtype=bool), member_axis=0),
                "done": self._device(np.int32(-1), member_axis=2),
                "diverged": self._device(np.full(members, -1, dtype=np.int32), member_axis=0),
            }
        self._pending: deque[tuple[Any, dict]] = deque()
        self._collected = self._carry

    max_pending = 2
    """Chunks dispatched and not yet collected: the next chunk is queued behind the running
    one, so the devices do not wait for the host between chunks (its batches drawn meanwhile)."""

    def _per_member(self, key: str, value: Any) -> bool:
        """Whether a fixed argument has the ensemble axis first (then it is split over the
        devices with the weights; left whole, every step would move it between devices)."""
        if key == "x":
            return not self.spec.shared_inputs
        return key in ("y", "batch_weights") and np.ndim(value) == 2

    def _device(self, value: Any, member_axis: int | None = None) -> Any:
        """On the device(s): split over the ensemble's devices along ``member_axis`` 0 or 1, or
        on every device (``member_axis`` 2), when the ensemble is split; else uncommitted, for
        the compiled program to place."""
        import jax

        if value is None:
            return None
        if isinstance(value, tuple):
            return tuple(self._device(v, member_axis) for v in value)
        value = np.asarray(value)
        if value.dtype.kind == "f":
            value = value.astype(self.dtype, copy=False)
        if member_axis is None or self._shardings is None:
            # not jnp.asarray: outside a trace it compiles a small program per shape and
            # dtype (42 of them, 0.7 s, in verify --quick)
            return jax.device_put(value)
        return jax.device_put(value, self._shardings[member_axis])

    def dispatch(
        self, count: int, x: np.ndarray | None = None, y: np.ndarray | None = None
    ) -> None:
        """Start ``count`` steps (asynchronously); fresh batches ``x`` (K, E, B, D), ``y``."""
        program = _chunk_program(self.spec, None if self.spec.fresh else count)
        with jax_precision(self.spec.float64):
            feed = (
                {"x": self._device(x, member_axis=1), "y": self._device(y, member_axis=1)}
                if self.spec.fresh
                else None
            )
            self._carry, outputs = program(self._carry, feed, self._args)
            self._pending.append((outputs, self._carry))

    def collect(self) -> tuple[dict[str, np.ndarray], int, int]:
        """The oldest uncollected chunk's per-step outputs (host arrays), and the done /
        diverged steps after it. A chunk queued behind one where the run ended is discarded
        with the loop: the weights are those after the last collected chunk."""
        outputs, self._collected = self._pending.popleft()
        per_member = np.asarray(self._collected["diverged"])
        diverged = per_member[per_member >= 0]
        done = int(self._collected["done"])
        return _to_host(outputs), done, int(diverged.min()) if diverged.size else -1

    def weights(self) -> tuple[np.ndarray, ...]:
        return tuple(np.asarray(w, dtype=float) for w in self._collected["weights"])


def _to_host(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _to_host(v) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return tuple(_to_host(v) for v in tree)
    return np.asarray(tree)


def compiled_gradient_field(
    activation: Activation,
    shapes: tuple[tuple[int, ...], ...],
    x: np.ndarray,
    y: np.ndarray,
    batch_weights: np.ndarray,
) -> Callable[[np.ndarray], np.ndarray]:
    """θ ↦ −∇_θ 𝓛(θ) with 𝓛 = Σ_b w_b (f(x_b) − y_b)²/2 on a fixed weighted batch (scalar
    output), θ the layers' entries concatenated row-major (``flatten_weights``' order): the
    NumPy engine's ``loss_and_gradients``, term by term, as one jit-compiled float64 program
    (feature-major, as the batched engine). Built once per batch; needs JAX.

    For the reduced flows that integrate such a field (the block-mean flow of a cascade on
    4096 Gauss–Hermite nodes: 1.1 ms per evaluation against 3.3 ms, two cores, 2026-12-06).
    """
    import jax
    import jax.numpy as jnp

    spec = LoopSpec(
        activation, len(shapes), "squared", fresh=False, shared_inputs=True, weighted=True,
        masked=False, ansatz=False, evaluation=False, keep_weights=False, stop_fraction=False,
        stop_level=False, stop_ansatz=False, batched=True, float64=True,
    )  # fmt: skip
    step, _ = _member_functions(spec)
    sizes = [int(np.prod(shape)) for shape in shapes]
    offsets = np.cumsum([0, *sizes])

    def field(theta: Any, xs: Any, ys: Any, bw: Any) -> Any:
        w = tuple(
            theta[offsets[k] : offsets[k + 1]].reshape(shape) for k, shape in enumerate(shapes)
        )
        _, _, grads = step(w, xs, ys, bw)
        return -jnp.concatenate([g.reshape(-1) for g in grads])

    with jax_precision(True):
        program = jax.jit(field)
        data = tuple(jax.device_put(np.asarray(a, dtype=float)) for a in (x, y, batch_weights))

    def evaluate(theta: np.ndarray) -> np.ndarray:
        # θ goes in as a NumPy array: jnp.asarray(θ) first cost ~190 µs a call (it runs a
        # program of its own), eight times the field's own ~25 µs at a cascade's sizes
        with jax_precision(True):
            return np.asarray(program(np.asarray(theta, dtype=np.float64), *data))

    return evaluate
