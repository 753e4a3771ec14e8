"""Predict the plateau of the network you actually train (issue 17).

Given an activation, depth, widths, initialisation, teacher, loss, learning rate and per-layer
rate normalisation, :func:`predict` answers "how many GD steps will the network sit on the
plateau?", says which result the answer rests on, and says plainly when the setting is outside it.

- Symmetric ansatz, one teacher mode (MATH.md §4, Theorem 4): the reduced flow
  dX_l/dt = −E_s[ℓ'(f, y) ∂_l f] is exact, and GD with rates η_l is exactly the map
  X ← X + η m ⊙ F(X) (:mod:`symescape.numeric.discrete`). The escape step comes from the map's
  modified equation G̃ = G − (η/2) J_G G (first order in η); the error estimate covers the O(η²)
  remainder and the rounding to a whole step.
- Several teacher modes: leading order only (MATH.md §6), T_lead with K = |β| c_1^{L−1}.
- He-normal with the first r layers scaled by ε (MATH.md §8, Theorem 11): the theory gives the
  exponent, T ∝ ε^{−(r−2)} (r ≥ 3; ln 1/ε for r = 2; ε-independent for r = 1), not the
  prefactor. With a calibration (one measured run at ε₀) the prediction is
  T(ε) = T(ε₀) law(ε)/law(ε₀); without one, steps are None and ``validity`` says so.
- A teacher with E[ψ s] = 0, K ≤ 0, a piecewise-linear student or c_1 = 0: no prediction, and
  ``validity`` names the reason (and the lowest non-zero Hermite order for E[ψ s] = 0).

:func:`check` trains the configured network with :func:`symescape.numeric.training.train` and
puts prediction and measurement side by side. Configurations come from TOML or JSON
(:func:`load_config`) or a mapping (:func:`config_from_mapping`), converted to typed options at
once.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from symescape.errors import (
    ConfigurationError,
    GaussianDomainError,
    NoEscapeError,
    NoLinearPathError,
    NumericalError,
    OutsideHypothesisError,
    SymescapeError,
    ZeroFirstHermiteError,
)
from symescape.numeric.discrete import (
    GradientDescentMap,
    StepMethod,
    ansatz_metric,
    escape_steps,
)
from symescape.numeric.escape import CriterionKind, EscapeCriterion, EscapeStatus
from symescape.numeric.function_teacher import function_teacher
from symescape.numeric.inits import ansatz_weights, he_normal_weights
from symescape.numeric.losses import loss_from
from symescape.numeric.quadrature import corrected_time, leading_time
from symescape.numeric.reduced import population_rule, teacher_reduced_model
from symescape.numeric.training import (
    CHUNK_BYTES,
    DataMode,
    Engine,
    RateMode,
    TrainingConfig,
    records_ansatz,
    train,
)
from symescape.options import (
    RHO_STAR,
    check_memory,
    require_choice,
    require_int,
    require_real,
    validate_chain_depth,
    validate_depth,
)
from symescape.symbolic.activations import Activation, activation
from symescape.symbolic.classification import ActivationClass, classify
from symescape.symbolic.resolved import activation_kernels, function_kernel
from symescape.symbolic.teacher import (
    LabelMode,
    LossKind,
    TeacherConstants,
    TeacherSpec,
    student_teacher,
    teacher_constants,
    teacher_spec,
)

DEFAULT_NODES = 96
"""Gauss–Hermite nodes of the reduced field and of the check's population data."""


class InitKind(Enum):
    """The initialisation: the symmetric ansatz at given scales, or He-normal with ε-scaled
    bottleneck layers."""

    ANSATZ = "ansatz"
    HE_NORMAL = "he-normal"


@dataclass(frozen=True, kw_only=True)
class InitConfig:
    """``eps``: every X_l(0) = ε (ansatz) or the factor of the first ``bottleneck`` = r layers
    (He-normal, default r = L); ``scales``: explicit X_l(0) on the ansatz (overrides ε)."""

    kind: InitKind = InitKind.ANSATZ
    eps: float = 0.1
    scales: tuple[float, ...] | None = None
    bottleneck: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", require_choice(InitKind, self.kind, "init kind"))
        # by type as well as range: true, 1.9 or "0.1" in a file are refused, not coerced
        object.__setattr__(self, "eps", require_real(self.eps, "init.eps", minimum=0, strict=True))
        object.__setattr__(self, "seed", require_int(self.seed, "init.seed", minimum=0))
        if self.bottleneck is not None:
            r = require_int(self.bottleneck, "init.bottleneck", minimum=1)
            object.__setattr__(self, "bottleneck", r)
        if self.scales is not None:
            scales = tuple(
                require_real(s, "init.scales", minimum=0, strict=True) for s in self.scales
            )
            object.__setattr__(self, "scales", scales)
        # a setting the chosen start does not use is refused, not silently dropped
        if self.kind is InitKind.ANSATZ and self.bottleneck is not None:
            raise ConfigurationError(
                "init.bottleneck is for He-normal starts; the ansatz sets every X_l(0) (ε or "
                "init.scales)"
            )
        if self.kind is InitKind.HE_NORMAL and self.scales is not None:
            raise ConfigurationError(
                "init.scales is for ansatz starts; a He-normal start is scaled by init.eps on "
                "its first init.bottleneck layers"
            )


@dataclass(frozen=True)
class Calibration:
    """One measured escape: ``steps`` at ``eps`` (He-normal prefactor)."""

    eps: float
    steps: float

    def __post_init__(self) -> None:
        eps = require_real(self.eps, "calibration eps", minimum=0.0, strict=True)
        steps = require_real(self.steps, "calibration steps", minimum=0.0, strict=True)
        object.__setattr__(self, "eps", eps)
        object.__setattr__(self, "steps", steps)


@dataclass(frozen=True, kw_only=True)
class PredictConfig:
    """One training setting (see the module doc). ``widths`` are the hidden widths
    (n_1, …, n_{L−1}); ``rates`` default to the normalised metric on the ansatz and uniform for
    He-normal; ``criterion`` defaults to product:ρ* on the ansatz and loss:0.5 for He-normal;
    ``batch`` is the check's fresh-batch size (He-normal), ``nodes`` its Gauss–Hermite nodes
    (ansatz); ``max_steps`` bounds predictions and runs."""

    activation: Activation
    depth: int
    teacher: TeacherSpec
    widths: tuple[int, ...]
    input_dim: int = 8
    init: InitConfig = field(default_factory=InitConfig)
    loss: LossKind = LossKind.SQUARED
    learning_rate: float = 0.05
    rates: RateMode | None = None
    criterion: EscapeCriterion | None = None
    calibration: Calibration | None = None
    batch: int = 512
    nodes: int = DEFAULT_NODES
    max_steps: int = 10**6

    def __post_init__(self) -> None:
        depth = validate_depth(self.depth)
        object.__setattr__(self, "depth", depth)
        object.__setattr__(self, "activation", activation(self.activation))
        teacher = teacher_spec(self.teacher)
        live = tuple(mode for mode in teacher.modes if mode.expr.is_zero is not True)
        if live and len(live) < len(teacher.modes):
            # a mode g_k ≡ 0 adds nothing to y: without it a single live mode is predicted
            # exactly on the ansatz instead of at leading order for "several modes"
            teacher = TeacherSpec(live, teacher.labels)
        object.__setattr__(self, "teacher", teacher)
        if not isinstance(self.init, InitConfig):
            raise ConfigurationError(
                f"init must be an InitConfig (config_from_mapping takes a dict), got "
                f"{type(self.init).__name__}"
            )
        object.__setattr__(self, "loss", require_choice(LossKind, self.loss, "loss"))
        widths = tuple(require_int(w, "widths", minimum=1) for w in self.widths)
        if len(widths) != depth - 1:
            raise ConfigurationError(
                f"widths must list {depth - 1} hidden widths ≥ 1 for depth {depth}, got {widths}"
            )
        object.__setattr__(self, "widths", widths)
        for name, minimum in (("input_dim", 1), ("batch", 1), ("nodes", 2), ("max_steps", 1)):
            object.__setattr__(self, name, require_int(getattr(self, name), name, minimum=minimum))
        # the reduced field holds ~4 arrays per layer on the nodes, and its resolution check 4×
        # the nodes: nodes = 1e8 ran for minutes without a word (the check had a size test)
        field_bytes = 8 * 4 * self.nodes * (4 * depth + 8)
        check_memory(field_bytes, f"the reduced field on {self.nodes} nodes")
        if self.input_dim < len(self.teacher.modes):
            raise ConfigurationError(
                f"input_dim {self.input_dim} < number of teacher modes {len(self.teacher.modes)}"
            )
        eta = require_real(self.learning_rate, "learning_rate", minimum=0, strict=True)
        object.__setattr__(self, "learning_rate", eta)
        if self.rates is None:
            ansatz = self.init.kind is InitKind.ANSATZ
            object.__setattr__(self, "rates", RateMode.NORMALISED if ansatz else RateMode.UNIFORM)
        object.__setattr__(self, "rates", require_choice(RateMode, self.rates, "rates"))
        if self.criterion is None:
            default = (
                EscapeCriterion(CriterionKind.PRODUCT, RHO_STAR)
                if self.init.kind is InitKind.ANSATZ
                else EscapeCriterion(CriterionKind.LOSS, 0.5)
            )
            object.__setattr__(self, "criterion", default)
        if self.init.kind is InitKind.ANSATZ:
            if len(set(widths)) > 1:
                raise ConfigurationError(f"the ansatz needs equal hidden widths, got {widths}")
            if self.init.scales is not None and len(self.init.scales) != depth:
                raise ConfigurationError(f"init.scales needs {depth} values")
        r = self.bottleneck
        if not 1 <= r <= depth:
            raise ConfigurationError(f"init.bottleneck r = {r}: need 1 ≤ r ≤ L = {depth}")

    @property
    def width(self) -> int:
        return self.widths[0] if self.widths else 1

    @property
    def bottleneck(self) -> int:
        return self.depth if self.init.bottleneck is None else int(self.init.bottleneck)

    @property
    def scales(self) -> np.ndarray:
        """X_l(0) on the ansatz."""
        if self.init.scales is not None:
            return np.array(self.init.scales, dtype=float)
        return np.full(self.depth, self.init.eps)


@dataclass(frozen=True)
class Prediction:
    """The answer. ``steps`` (None when not predicted), ``time`` = steps × η, ``order`` of the
    approximation, ``error_estimate`` in steps (None when unknown), ``basis`` (which result),
    ``validity`` (why, when the setting is outside the theory, or what it covers), and
    ``details`` (constants and the other orders, for the record)."""

    steps: int | float | None
    time: float | None
    order: str
    error_estimate: float | None
    basis: str
    validity: str
    details: Mapping[str, Any]

    def record(self) -> dict[str, Any]:
        """The JSON object of ``symescape predict --json``."""
        return {
            "steps": self.steps,
            "time": self.time,
            "order": self.order,
            "error_estimate": self.error_estimate,
            "basis": self.basis,
            "validity": self.validity,
            "details": dict(self.details),
        }


# --- configuration ------------------------------------------------------------------------------

_KEYS = {
    "activation",
    "depth",
    "width",
    "widths",
    "input_dim",
    "init",
    "teacher",
    "amplitude",
    "labels",
    "loss",
    "learning_rate",
    "rates",
    "criterion",
    "calibration",
    "batch",
    "nodes",
    "max_steps",
}
_INIT_KEYS = {"kind", "eps", "scales", "bottleneck", "seed"}


def _calibration(value: object) -> Calibration:
    """A [calibration] table: exactly eps (> 0) and steps (a positive integer count)."""
    if not isinstance(value, Mapping) or set(value) != {"eps", "steps"}:
        raise ConfigurationError(
            "calibration must be a table with exactly eps (the start scale ε₀) and steps (the "
            f"measured escape step at ε₀), got {value!r:.80}"
        )
    eps = require_real(value["eps"], "calibration eps", minimum=0, strict=True)
    return Calibration(eps, require_int(value["steps"], "calibration steps", minimum=1))


def config_from_mapping(data: Mapping[str, Any]) -> PredictConfig:
    """A :class:`PredictConfig` from a mapping (a parsed TOML/JSON file, or flags), e.g.
    ``{"activation": "tanh", "depth": 4, "teacher": "erf(s)", "init": {"kind": "ansatz",
    "eps": 0.05}, "loss": "squared", "learning_rate": 0.02}``.

    Raises:
        ConfigurationError: unknown keys, missing activation/depth, wrong types or values.
        ActivationError: an activation or teacher that cannot be parsed.
    """
    if not isinstance(data, Mapping):
        raise ConfigurationError(
            f"a configuration is a mapping of keys ({', '.join(sorted(_KEYS))}), got "
            f"{type(data).__name__}"
        )
    unknown = set(data) - _KEYS
    if unknown:
        raise ConfigurationError(
            f"unknown configuration keys {sorted(unknown)}; known: {', '.join(sorted(_KEYS))}"
        )
    for key in ("activation", "depth"):
        if key not in data:
            raise ConfigurationError(f"the configuration needs {key!r}")
    try:
        student = activation(data["activation"])
        # the chain's limit first: the widths tuple of depth 1e11 ran out of memory ('out of
        # memory: use smaller sizes') before depth 1e5 got this reason
        depth = validate_chain_depth(data["depth"])
        init_value = data.get("init", {})
        if not isinstance(init_value, Mapping):
            raise ConfigurationError(
                f"init must be a table of init keys ({', '.join(sorted(_INIT_KEYS))}), got "
                f"{init_value!r:.60}"
            )
        init_data = dict(init_value)
        bad = set(init_data) - _INIT_KEYS
        if bad:
            raise ConfigurationError(
                f"unknown init keys {sorted(bad)}; known: {sorted(_INIT_KEYS)}"
            )
        init = InitConfig(**init_data)
        labels = require_choice(LabelMode, data.get("labels", "value"), "labels")
        if "teacher" in data:
            spec = teacher_spec(data["teacher"], labels)
        else:
            spec = replace(student_teacher(student), labels=labels)
        if "amplitude" in data:
            spec = spec.scaled(data["amplitude"])
        if "widths" in data and "width" in data:
            raise ConfigurationError(
                "give width (every hidden layer) or widths (one per hidden layer), not both"
            )
        if "widths" in data:
            widths = tuple(data["widths"])
        else:
            widths = (data.get("width", 8),) * (depth - 1)
        criterion = data.get("criterion")
        calibration = data.get("calibration")
        return PredictConfig(
            activation=student,
            depth=depth,
            teacher=spec,
            widths=widths,
            input_dim=data.get("input_dim", 8),
            init=init,
            loss=require_choice(LossKind, data.get("loss", "squared"), "loss"),
            learning_rate=data.get("learning_rate", 0.05),
            rates=(
                None if data.get("rates") is None
                else require_choice(RateMode, data["rates"], "rates")
            ),
            criterion=None if criterion is None else EscapeCriterion.parse(str(criterion)),
            calibration=None if calibration is None else _calibration(calibration),
            batch=data.get("batch", 512),
            nodes=data.get("nodes", DEFAULT_NODES),
            max_steps=data.get("max_steps", 10**6),
        )
    except SymescapeError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"bad configuration: {exc}") from None


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> PredictConfig:
    """Read a ``.toml`` or ``.json`` file (by suffix), apply ``overrides`` (flags), convert.

    Raises:
        ConfigurationError: unreadable file, unknown suffix, bad contents; a mapping (use
            :func:`config_from_mapping`).
    """
    if isinstance(path, Mapping):
        raise ConfigurationError("load_config reads a file; for a mapping use config_from_mapping")
    path = Path(path)
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            raise ConfigurationError(f"{path}: a configuration file ends in .toml or .json")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: the configuration must be a table/object")
    return config_from_mapping(_merge(data, overrides or {}))


def _merge(data: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(data)
    for key, value in overrides.items():
        if key == "init":
            base = dict(merged.get("init", {}))
            if "eps" in value:  # --eps replaces the file's explicit scales, which override ε
                base.pop("scales", None)
            merged["init"] = {**base, **value}
        else:
            merged[key] = value
            # a --width on the command line replaces the file's widths (and the reverse)
            other = {"width": "widths", "widths": "width"}.get(key)
            merged.pop(other, None)
    return merged


# --- prediction ---------------------------------------------------------------------------------


def bottleneck_law(eps: float, r: int) -> float:
    """The ε-dependence of T off the manifold (MATH.md §6, §8): ε^{−(r−2)} (r ≥ 3),
    ln(1/ε) (r = 2), 1 (r = 1)."""
    if r >= 3:
        return eps ** (-(r - 2))
    if r == 2:
        return math.log(1 / eps)
    return 1.0


def _outside(reason: str, details: Mapping[str, Any] | None = None) -> Prediction:
    return Prediction(None, None, "none", None, "none", reason, dict(details or {}))


def predict(config: PredictConfig) -> Prediction:
    """The predicted escape step for ``config`` (module doc). Settings outside the theory are
    a result (steps None, ``validity`` says why), not an exception.

    Raises:
        ConfigurationError: ``config`` is not a :class:`PredictConfig` (build one with
            :func:`load_config` or :func:`config_from_mapping`).
    """
    if not isinstance(config, PredictConfig):
        raise ConfigurationError(
            f"predict needs a PredictConfig (load_config or config_from_mapping), got "
            f"{type(config).__name__}"
        )
    try:
        constants = teacher_constants(config.activation, config.depth, config.teacher, config.loss)
    except ZeroFirstHermiteError as exc:
        return _outside(str(exc), {"hermite_order": exc.order})
    except (NoLinearPathError, OutsideHypothesisError) as exc:
        return _outside(f"outside the theory: {exc}")
    details = _constant_details(constants)
    if not constants.escapes:
        return _outside(
            f"K = {float(constants.K):.6g} ≤ 0: the flow does not escape the saddle along the "
            "teacher at leading order (flip the teacher's sign or the student's)",
            details,
        )
    if config.init.kind is InitKind.HE_NORMAL:
        return _predict_he_normal(config, details)
    if not config.teacher.single:
        return _predict_leading(config, constants, details)
    return _predict_ansatz(config, constants, details)


def _constant_details(constants: TeacherConstants) -> dict[str, Any]:
    cls = constants.classification
    return {
        "K": float(constants.K),
        "K_exact": None if constants.K.exact is None else str(constants.K.exact),
        "kappa": None if constants.kappa is None else float(constants.kappa),
        "q": cls.q,
        "class": cls.activation_class.value,
        "beta": [float(b) for b in constants.beta],
        "centred": constants.centred,
    }


def _notes(config: PredictConfig, details: Mapping[str, Any]) -> list[str]:
    notes = []
    if details.get("centred"):
        notes.append(
            "class D student: the prediction is for the centred σ̃ = σ − σ(0) and teacher "
            "g − g(0), whose origin is the saddle (--check trains that network)"
        )
    if details.get("kappa") == 0.0 and config.depth > 1 and details.get("q") is not None:
        notes.append(
            "E[ψ s^q] = 0: the first correction κ vanishes, the next one is of higher order"
        )
    return notes


def _predict_ansatz(
    config: PredictConfig, constants: TeacherConstants, details: dict[str, Any]
) -> Prediction:
    try:
        model = teacher_reduced_model(
            config.activation, config.depth, config.teacher, config.loss, config.nodes
        )
    except GaussianDomainError as exc:
        return _outside(f"outside the theory: {exc}", details)
    gd = GradientDescentMap(
        model, config.learning_rate, ansatz_metric(config.depth, config.width, config.rates)
    )
    try:
        result = escape_steps(
            gd, config.scales, config.criterion, StepMethod.MODIFIED, max_steps=config.max_steps
        )
    except NoEscapeError as exc:
        return _outside(str(exc), details)
    details = {**details, **_analytic_orders(config, constants), "steps_flow": result.steps_flow}
    notes = _notes(config, details)
    if result.status is not EscapeStatus.ESCAPED:
        return _outside(f"no escape predicted: {result.message}", details)
    iterated = result.method is StepMethod.SUMMATION
    if iterated:
        notes.append(result.message)
    return Prediction(
        steps=result.steps,
        time=result.steps * config.learning_rate,
        order=(
            "the reduced GD map iterated (exact on the ansatz up to its quadrature)"
            if iterated
            else "exact reduced flow + first-order step-size correction (O(η²) neglected)"
        ),
        error_estimate=result.error_estimate,
        basis="Theorem 4 (exact reduced flow on the symmetric ansatz, any per-example loss) "
        + ("iterated as the GD map" if iterated else "with the modified equation of the GD map"),
        validity="; ".join(
            ["inside: the symmetric ansatz is flow-invariant and GD on it is the reduced map"]
            + notes
        ),
        details=details,
    )


def _analytic_orders(config: PredictConfig, constants: TeacherConstants) -> dict[str, Any]:
    """T_lead/η and (balanced start) T_1/η, for the product criterion and the normalised rates."""
    out: dict[str, Any] = {"steps_leading": None, "steps_corrected": None}
    criterion = config.criterion
    if criterion.kind is not CriterionKind.PRODUCT or config.rates is not RateMode.NORMALISED:
        return out
    K, eta, scales = float(constants.K), config.learning_rate, config.scales
    try:
        out["steps_leading"] = leading_time(scales, K, criterion.value) / eta
    except ConfigurationError:  # ρ* beyond the quadrature: the flow's own result says why
        return out
    q, kappa = constants.classification.q, constants.kappa
    if q is not None and kappa is not None and np.all(scales == scales[0]):
        try:
            T1 = corrected_time(scales[0], K, float(kappa), q, config.depth, criterion.value)
            out["steps_corrected"] = float(T1[0]) / eta
        except (ConfigurationError, NumericalError):  # near the breakdown, or past a double
            pass
    return out


def _predict_leading(
    config: PredictConfig, constants: TeacherConstants, details: dict[str, Any]
) -> Prediction:
    if config.criterion.kind is not CriterionKind.PRODUCT:
        return _outside("several teacher modes: only the product criterion is predicted", details)
    K, eps = float(constants.K), float(np.min(config.scales))
    steps = leading_time(config.scales, K, config.criterion.value) / config.learning_rate
    q = constants.classification.q or config.depth
    relative = eps ** min(q - 1, max(config.depth - 2, 1))
    return Prediction(
        steps=math.ceil(steps),
        time=math.ceil(steps) * config.learning_rate,
        order="leading order (T_lead, relative error O(ε^min(q−1, L−2)))",
        error_estimate=steps * relative,
        basis="Theorems 5/6 (leading-order escape) along β/|β| with K = |β| c_1^(L−1)",
        validity="several teacher modes: the single-direction ansatz is not flow-invariant, so "
        "only the leading order is predicted (gradient flow; no step-size correction)",
        details=details,
    )


def _predict_he_normal(config: PredictConfig, details: dict[str, Any]) -> Prediction:
    r, eps = config.bottleneck, config.init.eps
    exponent = -(r - 2) if r >= 3 else 0
    details = {**details, "bottleneck": r, "exponent": exponent}
    law = {1: "T = Θ(1)", 2: "T = Θ(ln 1/ε)"}.get(r, f"T ∝ ε^{exponent}")
    basis = f"Theorem 11 (off-manifold critical-depth law: {law}, independent of L)"
    if config.calibration is None:
        return Prediction(
            None,
            None,
            "exponent only",
            None,
            basis,
            "He-normal start: off the symmetric ansatz the theory predicts the exponent "
            f"of T in ε ({law}), not the prefactor; calibrate on one ε "
            "(symescape predict CONFIG --calibrate, or a [calibration] table with eps and "
            "steps) to predict steps",
            details,
        )
    cal = config.calibration
    if max(eps, cal.eps) >= 1:
        # the law is the small-ε asymptotics; at r = 2, ln(1/ε) is 0 at ε = 1 and negative past
        raise ConfigurationError(
            f"a calibrated He-normal prediction needs ε < 1 and ε₀ < 1 (the law {law} is for "
            f"small ε), got ε = {eps:g}, ε₀ = {cal.eps:g}"
        )
    scaled = cal.steps * bottleneck_law(eps, r) / bottleneck_law(cal.eps, r)
    if not scaled <= config.max_steps:  # also inf, past the doubles
        return _outside(
            f"no escape predicted within max_steps = {config.max_steps}: the law calibrated at "
            f"ε₀ = {cal.eps:g} ({cal.steps:g} steps) gives {scaled:.6g} steps at ε = {eps:g}",
            details,
        )
    steps = round(scaled)
    return Prediction(
        steps=steps,
        time=steps * config.learning_rate,
        order="exponent from the theory, prefactor from one calibration run",
        error_estimate=None,
        basis=basis,
        validity=f"He-normal start: prefactor calibrated at ε₀ = {cal.eps:g} "
        f"({cal.steps:g} steps); the error is not estimated by the theory",
        details={**details, "calibration": {"eps": cal.eps, "steps": cal.steps}},
    )


# --- measurement --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    """The escape step measured by training (None if not reached within ``steps_run``)."""

    steps: int | None
    steps_run: int
    criterion: EscapeCriterion


@dataclass(frozen=True)
class Check:
    """Prediction and measurement side by side; ``relative_error`` = |pred − meas| / meas."""

    prediction: Prediction
    measurement: Measurement
    learning_rate: float

    @property
    def relative_error(self) -> float | None:
        p, m = self.prediction.steps, self.measurement.steps
        if p is None or m is None:
            return None
        return abs(p - m) / m

    def record(self) -> dict[str, Any]:
        return {
            **self.prediction.record(),
            "measured_steps": self.measurement.steps,
            "measured_time": None
            if self.measurement.steps is None
            else self.measurement.steps * self.learning_rate,
            "relative_error": self.relative_error,
        }


def _student_and_offset(config: PredictConfig) -> tuple[Activation, float]:
    """The student the ansatz network uses (σ̃ for class D, as the reduced model) and the
    teacher's offset g(0) (subtracted for class D)."""
    cls = classify(config.activation)
    if cls.activation_class is not ActivationClass.D:
        return cls.activation, 0.0
    g0 = float(np.asarray(function_kernel(config.teacher.modes[0])(np.zeros(1)))[0])
    return cls.centred.activation, g0


def measure(
    config: PredictConfig, steps: int | None = None, engine: Engine = Engine.COMPILED
) -> Measurement:
    """Train the configured network (one run) and return its escape step.

    Ansatz: Gauss–Hermite population data (``nodes``), the configured rates, the configured
    criterion on the ansatz scalars (product) or on the loss (fraction of the initial loss).
    He-normal: fresh Gaussian batches of ``batch``, loss criterion relative to the initial loss.
    ``steps`` bounds the run (default ``max_steps``); ``engine`` chooses how the steps run
    (the compiled engine pays a compilation once; the NumPy engine is quicker for short runs).

    Raises:
        ConfigurationError: several teacher modes (not supported here); bad options; the run
            would need more memory than the machine has (refused before allocating).
        DivergenceError: the run diverged (lower the learning rate).
    """
    if not config.teacher.single:
        raise ConfigurationError("measuring supports single-mode teachers only")
    check_memory(training_memory(config), "the training run")
    budget = config.max_steps if steps is None else min(int(steps), config.max_steps)
    if config.init.kind is InitKind.ANSATZ:
        student, offset = _student_and_offset(config)
    else:  # off the ansatz the network is the one configured, σ uncentred
        student, offset = config.activation, 0.0
    teacher = function_teacher(config.teacher, config.input_dim, offsets=(offset,))
    kernels = activation_kernels(student)
    criterion = config.criterion
    loss_stop = criterion.value if criterion.kind is CriterionKind.LOSS else None
    fixed_batch = None
    if config.init.kind is InitKind.ANSATZ:
        weights = ansatz_weights(config.scales, teacher.directions[0], config.width)
        data = DataMode.GAUSS_HERMITE
        rule = population_rule(student, config.teacher.modes[0], config.teacher.labels,
                               config.nodes)  # fmt: skip
        if rule.breakpoints:
            # the population on the prediction's own rule, split at g's jumps: on the plain
            # rule, floor(s)'s run escaped at step 973 with 96 nodes, 1007 with 1000 and 4000
            x = np.outer(rule.nodes, teacher.directions[0])
            fixed_batch = (x, teacher(x, kernels), rule.weights)
    else:
        weights = he_normal_weights(
            (config.input_dim, *config.widths, 1),
            seed=config.init.seed,
            epsilon=config.init.eps,
            bottleneck=config.bottleneck,
        )
        data = DataMode.FRESH
    record = train(
        weights,
        teacher,
        kernels,
        TrainingConfig(
            steps=budget,
            learning_rate=config.learning_rate,
            rates=config.rates,
            data=data,
            batch=config.batch,
            nodes=config.nodes,
            seed=config.init.seed,
            loss=loss_from(config.loss.value),
            stop_loss_fraction=loss_stop,
            # stop at the crossing: at a large η the GD map may blow up after it, and a run
            # that went on to the budget lost an escape measured on time (η = 50: step 4 of 4
            # predicted, then divergence at step 96)
            stop_ansatz_level=(
                criterion.value if loss_stop is None and records_ansatz(weights, teacher) else None
            ),
            record_every=1 if loss_stop is None else max(1, budget // 1000),
            engine=engine,
        ),
        fixed_batch=fixed_batch,
    )
    if loss_stop is not None:
        found = int(record.steps[-1]) if record.stopped_early else None
        return Measurement(found, int(record.steps[-1]), criterion)
    X = np.abs(record.ansatz[:, 0, :])
    hit = np.flatnonzero(np.mean(np.log(X), axis=1) >= np.log(criterion.value))
    found = int(record.steps[hit[0]]) if hit.size else None
    return Measurement(found, int(record.steps[-1]), criterion)


def calibrate(config: PredictConfig, eps: float | None = None) -> Calibration:
    """One He-normal run at ε₀ (default 2ε, capped below 1) giving the prefactor.

    Raises:
        ConfigurationError: not a He-normal configuration, or no escape within max_steps.
    """
    if config.init.kind is not InitKind.HE_NORMAL:
        raise ConfigurationError("calibration is for He-normal starts (the ansatz needs none)")
    eps0 = min(2 * config.init.eps, 0.9) if eps is None else float(eps)
    run = measure(replace(config, init=replace(config.init, eps=eps0)))
    if run.steps is None:
        raise ConfigurationError(
            f"the calibration run at ε₀ = {eps0:g} did not escape in {run.steps_run} steps"
        )
    return Calibration(eps0, float(run.steps))


def training_memory(config: PredictConfig) -> float:
    """Bytes a check's training run needs, roughly: each data point's activations and
    back-propagated errors through every layer (×6), the weights with their gradients and
    updates (×4), and the fed chunk of fresh batches. For a refusal before allocating."""
    points = config.batch if config.init.kind is InitKind.HE_NORMAL else config.nodes
    units = config.input_dim + sum(config.widths) + 1
    sizes = (config.input_dim, *config.widths, 1)
    parameters = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    return 8.0 * (6 * points * units + 4 * parameters) + CHUNK_BYTES


def check_prediction(config: PredictConfig, engine: Engine = Engine.COMPILED) -> Check:
    """Predict, then train the configured network and measure (a budget of 1.5 × the
    prediction + 100 steps when there is one).

    Raises:
        ConfigurationError: the run would need more memory than the machine has (checked
            first, before the prediction's work); as :func:`predict` and :func:`measure`.
    """
    check_memory(training_memory(config), "the training run")
    prediction = predict(config)
    budget = None if prediction.steps is None else int(1.5 * prediction.steps) + 100
    return Check(prediction, measure(config, budget, engine), config.learning_rate)
