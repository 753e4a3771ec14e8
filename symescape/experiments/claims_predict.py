"""Claims of ``symescape predict`` (issue 17): the predicted escape step against training.

- ``predict-ansatz-gd``: on the symmetric ansatz, the step predicted from the exact reduced map
  (modified equation, first order in η) against full-network GD on Gauss–Hermite population data,
  teacher ≠ student, squared and logistic loss, two learning rates.
- ``predict-he-calibrated``: He-normal start with r = 3 ε-scaled layers; the prefactor from one
  run at ε₀, the exponent −(r−2) from Theorem 11; predicted against measured SGD escape at two
  further ε.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from symescape.experiments.claim_registry import Claim, claim, largest_or_nan, verdict_for

if TYPE_CHECKING:
    from symescape.experiments.predict import PredictConfig

ANSATZ_TOLERANCE = 0.01
"""Relative error allowed between predicted and measured steps on the ansatz (issue 17)."""

HE_TOLERANCE = 0.15
"""Relative error allowed for the calibrated He-normal prediction (issue 17)."""


def ansatz_case(
    student: str, teacher: str, loss: str, eta: float, eps: float, **extra: object
) -> PredictConfig:
    """The ansatz setting of the claim and its tests: L = 4, width 6, D = 3."""
    from symescape.experiments.predict import config_from_mapping

    return config_from_mapping(
        {
            "activation": student,
            "depth": 4,
            "width": 6,
            "input_dim": 3,
            "teacher": teacher,
            "loss": loss,
            "learning_rate": eta,
            "init": {"kind": "ansatz", "eps": eps},
            **extra,
        }
    )


def he_case(eps: float, calibration: dict | None = None) -> PredictConfig:
    """The He-normal setting: tanh, L = 4, r = 3, width 16, D = 8, η = 0.1, batch 256."""
    from symescape.experiments.predict import config_from_mapping

    data = {
        "activation": "tanh",
        "depth": 4,
        "width": 16,
        "input_dim": 8,
        "learning_rate": 0.1,
        "batch": 256,
        "max_steps": 20000,
        "init": {"kind": "he-normal", "eps": eps, "bottleneck": 3},
    }
    if calibration is not None:
        data["calibration"] = calibration
    return config_from_mapping(data)


def ansatz_cases(quick: bool) -> list[tuple[str, str, str, float]]:
    """(student, teacher, loss, η) of ``predict-ansatz-gd``."""
    pairs = [("tanh", "erf(s)"), ("gelu", "tanh(s)")]
    cases = [(s, t, loss, eta) for s, t in pairs for loss in ("squared", "logistic") for eta in
             (0.2, 1.0)]  # fmt: skip
    quick_cases = [("tanh", "erf(s)", "squared", 1.0), ("gelu", "tanh(s)", "logistic", 1.0)]
    return quick_cases if quick else cases


@claim("predict-ansatz-gd")
def check_predict_ansatz(quick: bool) -> Claim:
    from symescape.experiments.predict import check_prediction
    from symescape.numeric.training import Engine

    eps = 0.1 if quick else 0.05
    rows, worst = [], 0.0
    for student, teacher, loss, eta in ansatz_cases(quick):
        config = ansatz_case(student, teacher, loss, eta, eps)
        # the compiled engine in the full run: it steps to the same escape step as the NumPy
        # reference (all 8 cases, checked), in 15 s with an empty JAX cache against 36 s (two
        # idle cores, 2026-12-06); quick's two short runs stay on NumPy (no compile)
        result = check_prediction(config, Engine.NUMPY if quick else Engine.COMPILED)
        error = result.relative_error
        worst = float("inf") if error is None else largest_or_nan((worst, error))
        rows.append(
            f"{student}/{teacher} {loss} η={eta}: {result.prediction.steps} vs "
            f"{result.measurement.steps}"
        )
    return Claim(
        id="predict-ansatz-gd",
        statement="On the symmetric ansatz the escape step of GD (teacher ≠ student, squared or "
        "logistic loss) is the reduced map's, predicted by its first-order modified equation",
        predicted="predicted steps = measured steps (within 1 %)",
        measured=f"L = 4, ε = {eps}: " + "; ".join(rows) + f"; worst relative error {worst:.2e}",
        tolerance=f"{ANSATZ_TOLERANCE:.0%}",
        verdict=verdict_for(worst <= ANSATZ_TOLERANCE),
        details={"rows": rows, "worst": worst},
    )


@claim("predict-he-calibrated")
def check_predict_he(quick: bool) -> Claim:
    from symescape.experiments.predict import measure, predict
    from symescape.numeric.training import Engine

    eps0, further = (0.05, (0.025, 0.0125)) if quick else (0.025, (0.0125, 0.00625))
    first = measure(he_case(eps0), engine=Engine.NUMPY)
    rows, worst = [], float("inf") if first.steps is None else 0.0
    if first.steps is not None:
        calibration = {"eps": eps0, "steps": first.steps}
        for eps in further:
            predicted = predict(he_case(eps, calibration)).steps
            measured = measure(he_case(eps), engine=Engine.NUMPY).steps
            error = (
                float("inf")
                if measured is None or predicted is None
                else abs(predicted - measured) / measured
            )
            worst = largest_or_nan((worst, error))
            shown = "none" if predicted is None else f"{predicted:.0f}"
            rows.append(f"ε = {eps}: {shown} vs {measured}")
    return Claim(
        id="predict-he-calibrated",
        statement="Off the ansatz (He-normal, r = 3 layers scaled by ε) the theory fixes the "
        "exponent T ∝ ε^-(r-2); one calibration run fixes the prefactor",
        predicted="calibrated steps = measured SGD steps within 15 %",
        measured=f"tanh L = 4, calibrated at ε₀ = {eps0} ({first.steps} steps): "
        + "; ".join(rows)
        + f"; worst relative error {worst:.3f}",
        tolerance=f"{HE_TOLERANCE:.0%}",
        verdict=verdict_for(worst <= HE_TOLERANCE),
        details={"rows": rows, "worst": worst},
    )
