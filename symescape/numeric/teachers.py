"""Teachers y(x) = Σ_k a_k σ(v_k · x) with orthonormal v_k (MATH.md §0), and vector-output
teachers R^D → R^k given by small fixed networks (:class:`NetworkTeacher`, MATH.md §10).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from symescape.errors import ConfigurationError
from symescape.symbolic.resolved import ActivationKernels


@dataclass(frozen=True)
class Teacher:
    """Amplitudes ``a`` (M,) and orthonormal directions ``directions`` (M, D)."""

    amplitudes: np.ndarray
    directions: np.ndarray

    def __post_init__(self) -> None:
        a = np.atleast_1d(np.asarray(self.amplitudes, dtype=float))
        v = np.atleast_2d(np.asarray(self.directions, dtype=float))
        if v.shape[0] != a.shape[0]:
            raise ConfigurationError(f"{a.shape[0]} amplitudes for {v.shape[0]} directions")
        if not np.all(np.isfinite(a)) or not np.all(np.isfinite(v)):
            raise ConfigurationError("teacher amplitudes and directions must be finite")
        if not np.allclose(v @ v.T, np.eye(v.shape[0]), atol=1e-10):
            raise ConfigurationError("teacher directions must be orthonormal")
        object.__setattr__(self, "amplitudes", a)
        object.__setattr__(self, "directions", v)

    @property
    def modes(self) -> int:
        return self.amplitudes.shape[0]

    @property
    def input_dim(self) -> int:
        return self.directions.shape[1]

    def __call__(self, x: np.ndarray, kernels: ActivationKernels) -> np.ndarray:
        """y for inputs of shape (..., D): Σ_k a_k σ(v_k·x)."""
        return kernels.sigma(x @ self.directions.T) @ self.amplitudes


def single_mode_teacher(input_dim: int, amplitude: float = 1.0, seed: int | None = None) -> Teacher:
    """y = a σ(v·x); v = e_1 unless a seed asks for a random unit vector."""
    return orthonormal_teacher(input_dim, [amplitude], seed)


def orthonormal_teacher(
    input_dim: int, amplitudes: list[float], seed: int | None = None
) -> Teacher:
    """M = len(amplitudes) orthonormal directions: the first M basis vectors, or a random
    orthonormal frame (QR of a Gaussian matrix) when ``seed`` is given."""
    modes = len(amplitudes)
    if input_dim < modes:
        raise ConfigurationError(f"input dimension {input_dim} < number of modes {modes}")
    if seed is None:
        directions = np.eye(modes, input_dim)
    else:
        q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((input_dim, modes)))
        directions = (q * np.sign(np.diag(r))).T
    return Teacher(np.asarray(amplitudes, dtype=float), directions)


class TeacherKind(Enum):
    """Vector-output teachers R^D → R^k (issue 16; MATH.md §10 with y ∈ R^k)."""

    MODES = "modes"  # k = 1: y = Σ_j a_j σ(v_j·x), the scalar teacher above
    LINEAR = "linear"  # y = A x, A = U diag(s) Vᵀ with chosen singular values s
    UNITS = "units"  # y_j = a_j σ(v_j·x), orthonormal v_j: needs rank len(a) at the bottleneck
    RELU2 = "relu2"  # y = B σ(C x): m random unit rows in C, Gaussian B (k × m)
    DEEP = "deep"  # y = A_d σ(… σ(A_1 x)) with one rank-r middle layer: bottleneck rank r


DEFAULT_AMPLITUDES = {
    TeacherKind.MODES: (1.0, -0.8, 0.6),
    TeacherKind.LINEAR: (2.0, 1.0),
    TeacherKind.UNITS: (2.0, 1.0),
}
_OPTIONS = {
    TeacherKind.MODES: {},
    TeacherKind.LINEAR: {},
    TeacherKind.UNITS: {},
    TeacherKind.RELU2: {"m": 4},
    TeacherKind.DEEP: {"rank": 2, "depth": 3, "width": 8},
}


@dataclass(frozen=True)
class TeacherSpec:
    """A teacher named by ``kind`` with amplitudes (or singular values) ``values`` and integer
    ``options`` (``m`` hidden units; ``rank``, ``depth``, ``width`` of a deep teacher)."""

    kind: TeacherKind
    values: tuple[float, ...] = ()
    options: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        # 'modes:0' searched for 14 s, then said g ≤ 0 at every restart: y ≡ 0 has no direction
        if self.values and not any(self.values):
            raise ConfigurationError(
                f"teacher {self.text()} is identically 0 (every value is 0): there is nothing to "
                "learn, and no escape direction"
            )

    def option(self, name: str) -> int:
        return dict(self.options).get(name, _OPTIONS[self.kind][name])

    @property
    def amplitudes(self) -> tuple[float, ...]:
        return self.values or DEFAULT_AMPLITUDES.get(self.kind, ())

    def text(self) -> str:
        args = [f"{v:g}" for v in self.values] + [f"{k}={v}" for k, v in self.options]
        return self.kind.value + (":" + ",".join(args) if args else "")


def _number(text: str, integer: bool) -> float:
    try:
        number = int(text) if integer else float(text)
    except ValueError:
        number = None
    if number is None or not np.isfinite(number):
        what = "an integer (key=integer options)" if integer else "a number"
        raise ConfigurationError(f"teacher argument {text!r} is not {what}")
    return number


def parse_teacher(text: str) -> TeacherSpec:
    """``NAME[:ARG,…]`` with NAME a :class:`TeacherKind` value and each ARG a number (the
    amplitudes / singular values, in order) or ``key=integer``: ``linear:3,1``, ``units:2,1``,
    ``relu2:m=6``, ``deep:rank=2,depth=3,width=8``, ``modes:1,-0.8,0.6``. Numbers only, no
    expressions.

    Raises:
        ConfigurationError: an unknown name or key, a malformed or non-finite number, an empty
            argument, an option given twice.
    """
    name, _, rest = str(text).strip().partition(":")
    try:
        kind = TeacherKind(name.strip().lower())
    except ValueError:
        known = ", ".join(k.value for k in TeacherKind)
        raise ConfigurationError(f"unknown teacher {name!r}; known: {known}") from None
    values, options = [], []
    arguments = [a.strip() for a in rest.split(",")] if rest.strip() else []
    if "" in arguments:  # 'modes:1,,2' dropped the empty entry silently
        raise ConfigurationError(f"teacher {text!r} has an empty argument")
    for arg in arguments:
        key, eq, value = (part.strip() for part in arg.partition("="))
        if eq and key in dict(options):  # 'relu2:m=6,m=7' took the last value silently
            raise ConfigurationError(f"teacher option {key} is given twice")
        if eq and key not in _OPTIONS[kind]:
            raise ConfigurationError(
                f"teacher {kind.value} has no option {key!r}; "
                f"options: {', '.join(_OPTIONS[kind]) or 'none'}"
            )
        number = _number(value if eq else arg, integer=bool(eq))
        if eq:
            if number < 1:
                raise ConfigurationError(f"teacher option {key} must be ≥ 1")
            options.append((key, int(number)))
        else:
            values.append(number)
    if values and kind in (TeacherKind.RELU2, TeacherKind.DEEP):
        raise ConfigurationError(f"teacher {kind.value} takes only key=integer options")
    return TeacherSpec(kind, tuple(values), tuple(options))


@dataclass(frozen=True)
class NetworkTeacher:
    """y(x) = A_d σ(A_{d-1} … σ(A_1 x)) ∈ R^k with fixed 2-D matrices ``weights`` (A_1 … A_d)
    and σ the kernels passed at call time (no σ for a one-matrix, linear teacher)."""

    spec: TeacherSpec
    weights: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        for a, b in zip(self.weights, self.weights[1:], strict=False):
            if b.shape[1] != a.shape[0]:
                raise ConfigurationError("teacher matrices do not chain")
        if not all(np.all(np.isfinite(w)) for w in self.weights):
            raise ConfigurationError("teacher weights must be finite")

    @property
    def outputs(self) -> int:
        return self.weights[-1].shape[0]

    @property
    def input_dim(self) -> int:
        return self.weights[0].shape[1]

    def __call__(self, x: np.ndarray, kernels: ActivationKernels) -> np.ndarray:
        """y for inputs (..., D): shape (..., k)."""
        h = x @ self.weights[0].T
        for a in self.weights[1:]:
            h = kernels.sigma(h) @ a.T
        return h


def _frame(rows: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """``rows`` orthonormal vectors in R^dim (rows of the result), rows ≤ dim."""
    q, r = np.linalg.qr(rng.standard_normal((dim, rows)))
    return (q * np.sign(np.diag(r))).T


def build_teacher(spec: TeacherSpec, input_dim: int, outputs: int, seed: int) -> NetworkTeacher:
    """The teacher ``spec`` for inputs in R^D and k = ``outputs``, from a seeded generator.

    - linear: A = U diag(s) Vᵀ (k × D), U, V random orthonormal frames, len(s) ≤ min(k, D);
    - units: y_j = a_j σ(v_j·x) for j < len(a) (orthonormal v_j), other outputs 0;
    - relu2: C has m random unit rows, B (k × m) Gaussian / √m;
    - deep: A_1 (width × D) Gaussian / √D, a rank-r middle layer U Vᵀ / √r, further middle
      layers Gaussian / √width, last (k × width) Gaussian / √width;
    - modes (k = 1 only): the scalar orthonormal teacher Σ_j a_j σ(v_j·x).

    Raises:
        ConfigurationError: more values than the shapes allow, modes with k > 1.
    """
    if input_dim < 1 or outputs < 1:
        raise ConfigurationError("input dimension and outputs must be ≥ 1")
    rng = np.random.default_rng(seed)
    a = np.asarray(spec.amplitudes, dtype=float)
    if spec.kind is TeacherKind.MODES:
        if outputs != 1:
            raise ConfigurationError("the modes teacher has one output; use units for k > 1")
        t = orthonormal_teacher(input_dim, list(a), seed=seed)
        return NetworkTeacher(spec, (t.directions, t.amplitudes[None, :]))
    if spec.kind in (TeacherKind.LINEAR, TeacherKind.UNITS):
        limit = min(outputs, input_dim)
        if len(a) > limit:
            given = "" if spec.values else f" (its defaults {', '.join(f'{v:g}' for v in a)})"
            raise ConfigurationError(
                f"teacher {spec.kind.value} with {len(a)} values{given} needs k and D ≥ "
                f"{len(a)}; got k = {outputs}, D = {input_dim}"
            )
        v = _frame(len(a), input_dim, rng)
        if spec.kind is TeacherKind.UNITS:
            readout = np.zeros((outputs, len(a)))
            readout[np.arange(len(a)), np.arange(len(a))] = a
            return NetworkTeacher(spec, (v, readout))
        u = _frame(len(a), outputs, rng).T
        return NetworkTeacher(spec, ((u * a) @ v,))
    if spec.kind is TeacherKind.RELU2:
        m = spec.option("m")
        c = rng.standard_normal((m, input_dim))
        c /= np.linalg.norm(c, axis=1, keepdims=True)
        return NetworkTeacher(spec, (c, rng.standard_normal((outputs, m)) / np.sqrt(m)))
    rank, depth, width = spec.option("rank"), spec.option("depth"), spec.option("width")
    if depth < 3 or rank > width:
        raise ConfigurationError("a deep teacher needs depth ≥ 3 and rank ≤ width")
    layers = [rng.standard_normal((width, input_dim)) / np.sqrt(input_dim)]
    layers.append(
        rng.standard_normal((width, rank)) @ rng.standard_normal((rank, width)) / np.sqrt(rank)
    )
    layers.extend(rng.standard_normal((width, width)) / np.sqrt(width) for _ in range(depth - 3))
    layers.append(rng.standard_normal((outputs, width)) / np.sqrt(width))
    return NetworkTeacher(spec, tuple(layers))
