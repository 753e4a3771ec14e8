"""Presentation of a classification: a JSON-ready record, a readable table, LaTeX.

Pure functions of the API's result objects; the CLI only prints what they return.
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import sympy as sp

from symescape.errors import GaussianDomainError
from symescape.experiments.claim_registry import Claim, Verdict
from symescape.symbolic.activations import Z
from symescape.symbolic.canonical import (
    canonical_constant,
    decimal_scaled,
    decimal_scaled_latex,
)
from symescape.symbolic.classification import ActivationClass, Classification
from symescape.symbolic.constants import EscapeConstants
from symescape.symbolic.gaussian import check_chain_domain
from symescape.symbolic.moments import Constant
from symescape.symbolic.taylor import constant_value, taylor_coefficients


def _float(value: sp.Expr | Constant | mpmath.mpf | None) -> float | str | None:
    """A JSON number; 20 digits as a string where a double would lie (|x| > 1.8e308 reads inf,
    which JSON cannot carry; a nonzero |x| < 2e-308 reads 0.0)."""
    if value is None:
        return None
    digits = value.value if isinstance(value, Constant) else value
    if not isinstance(digits, mpmath.mpf):
        digits = mpmath.mpf(constant_value(digits, 20))
    number = float(digits)
    if math.isfinite(number) and (number != 0 or digits == 0):
        return number
    return mpmath.nstr(digits, 20)


def _str(value: sp.Expr | Constant | None) -> str | None:
    return None if value is None else str(_canonical(value))


def _canonical(value: sp.Expr | Constant) -> sp.Expr | Constant:
    """Exact constants in canonical form (tanh(log 2) → 3/5); c z^q with c canonical."""
    if isinstance(value, Constant) or not isinstance(value, sp.Expr):
        return value
    if not value.free_symbols:
        return canonical_constant(value)
    coefficient, rest = value.as_independent(Z, as_Add=False)
    if rest.is_Pow or rest == Z:
        return canonical_constant(coefficient) * rest
    return value


def taylor_polynomial(cls: Classification, order: int) -> sp.Expr | None:
    """Σ_{k ≤ order} c_k z^k, or None for piecewise-linear σ."""
    if cls.activation_class is ActivationClass.PIECEWISE_LINEAR:
        return None
    coefficients = taylor_coefficients(cls.activation, order)
    return sum((canonical_constant(c) * Z**k for k, c in enumerate(coefficients)), sp.Integer(0))


def constant_status(
    cls: Classification, constants: EscapeConstants | None = None
) -> dict[str, dict[str, Any]]:
    """Which constants are exact (closed forms) and which numeric (mpmath, with the error bound
    and the reason no closed form was found)."""
    named: dict[str, Constant | None] = {"mu1": cls.mu1}
    if constants is not None:
        named |= {"K": constants.K, "kappa": constants.kappa}
    status: dict[str, dict[str, Any]] = {}
    for name, constant in named.items():
        if constant is None:
            continue
        entry: dict[str, Any] = {"status": constant.status}
        if not constant.is_exact:
            entry |= {"error_bound": _float(constant.error), "reason": constant.note}
        status[name] = entry
    return status


def escape_theory_status(cls: Classification, depth: int | None = None) -> str:
    """One sentence: whether the leading-order escape theory applies, and if not why; with a
    ``depth``, also whether the reduced flow's Gaussian expectations exist there (σ∘σ of a σ
    growing like e^{|s|} grows like exp(e^{|s|}): escape, expand and predict refuse it)."""
    if cls.activation_class is ActivationClass.PIECEWISE_LINEAR:
        return "piecewise-linear: the Taylor-based escape theory does not apply"
    if not cls.has_linear_path:
        return "c_1 = 0: no linear path, the escape theory at this order does not apply"
    if cls.mu1.sign is None:
        return (
            f"|μ₁| ≤ {float(cls.mu1.error):.1e} (its error bound): the sign of μ₁ is undecided, "
            "so escape is not claimed"
        )
    refusal = _sign_of_k_refusal(cls, depth)
    if refusal is not None:
        return refusal
    if cls.activation_class is ActivationClass.OUTSIDE:
        return "outside the classification hypothesis; leading-order constants still computed"
    if depth is not None:
        try:
            check_chain_domain(cls.chain_activation.expr, Z, depth)
        except GaussianDomainError as exc:
            return (
                f"K and κ exist, but not the reduced flow at L = {depth}: {exc.reason} "
                "(escape, expand and predict refuse this depth)"
            )
    return "applies"


def _sign_of_k_refusal(cls: Classification, depth: int | None) -> str | None:
    """Why K = a μ₁ c₁^{L−1} (a > 0) is not positive, or None when it is (MATH.md §5–6). With
    c₁ > 0 that is the sign hypothesis μ₁ > 0 of MATH.md §3; with c₁ < 0 the sign of K also
    depends on the parity of L: −tanh escapes at even L (K = +0.606 at L = 4, the reduced ODE
    escapes as for tanh) and not at odd L, while 'μ₁ ≤ 0: no escape' said never."""
    mu_sign = cls.mu1.sign
    if mu_sign == 0:
        return f"μ₁ = {cls.mu1} = 0: K = 0, no escape from the saddle along the teacher"
    c1_sign = int(sp.sign(sp.N(cls.c1, 30)))
    if c1_sign > 0:
        if mu_sign > 0:
            return None
        return f"μ₁ = {cls.mu1} ≤ 0: no escape from the saddle along the teacher"
    # c₁ < 0: sign K = sign μ₁ · (−1)^{L−1}
    parity = "even" if mu_sign < 0 else "odd"
    if depth is None:
        return (
            f"μ₁ = {cls.mu1} and c₁ = {cls.c1} < 0: K = a μ₁ c₁^(L−1) is > 0 (the saddle is "
            f"escaped) only at {parity} depth L; give --depth"
        )
    if mu_sign * (-1) ** (depth - 1) > 0:
        return None
    return (
        f"K = a μ₁ c₁^(L−1) < 0 at L = {depth} (μ₁ = {cls.mu1}, c₁ = {cls.c1} < 0): no escape "
        f"from the saddle along the teacher; K > 0 at {parity} L"
    )


def classification_record(
    cls: Classification,
    constants: EscapeConstants | None = None,
    order: int = 7,
    constants_error: str | None = None,
) -> dict[str, Any]:
    """The JSON record of ``symescape classify`` (keys documented in the README)."""
    record: dict[str, Any] = {
        "activation": cls.activation.name,
        "expression": str(cls.activation.expr),
        "class": cls.activation_class.value,
        "label": cls.label,
        "in_hypothesis": cls.in_hypothesis,
        "q": cls.q,
        "c0": _float(cls.c0),
        "c1": _float(cls.c1),
        "cq": _float(cls.cq),
        "c1_exact": _str(cls.c1),
        "cq_exact": _str(cls.cq),
        "odd": cls.odd,
        "mu1": _float(cls.mu1),
        "mu1_exact": _str(cls.mu1.exact),
        "mu1_digits": str(cls.mu1) if cls.mu1.exact is None else None,
        "mu1_positive": cls.mu1_positive,
        "phi": str(cls.phi),
        "phi_leading": _str(cls.phi_leading) if cls.phi_leading is not None else "0",
        "resonance_depth": cls.resonance_depth,
        "centred_class": cls.centred.label if cls.centred is not None else None,
        "taylor": _str(taylor_polynomial(cls, order)),
        "escape_theory": escape_theory_status(cls, None if constants is None else constants.depth),
        "steps": list(cls.steps),
    }
    record["constants_status"] = constant_status(cls, constants)
    if constants is not None:
        record.update(
            depth=constants.depth,
            amplitude=float(constants.amplitude),
            K=_float(constants.K),
            K_exact=_str(constants.K.exact),
            kappa=_float(constants.kappa),
            kappa_exact=None if constants.kappa is None else _str(constants.kappa.exact),
            gamma=None if constants.gamma is None else [_float(g) for g in constants.gamma],
            gamma_uniform=constants.gamma_uniform,
            constants_of_centred_activation=constants.centred,
        )
    elif constants_error is not None:
        record.update(K=None, kappa=None, constants_error=constants_error)
    return record


def _yes_no(value: bool | None) -> str:
    return "undecided" if value is None else ("yes" if value else "no")


def _rows(
    cls: Classification, constants: EscapeConstants | None, order: int
) -> list[tuple[str, str, str]]:
    """(label, plain text, LaTeX) rows shared by the table and the LaTeX output."""

    def both(value: sp.Expr | Constant | None) -> tuple[str, str]:
        if value is None:
            return "—", "\\text{--}"
        if isinstance(value, Constant):
            # a numeric constant is marked as such in LaTeX too (mpmath value, not a closed form)
            if value.exact is not None:
                return str(decimal_scaled(value.exact)), value.latex()
            return str(value), rf"\approx {value.latex()}"
        value = _canonical(value)
        return str(decimal_scaled(value)), decimal_scaled_latex(value)

    poly = taylor_polynomial(cls, order)
    rows = [
        ("σ(z)", *both(cls.activation.expr)),
        (f"Taylor to z^{order}", *both(poly)),
        ("class", cls.label, cls.label.replace("_", "_{") + ("}" if "_" in cls.label else "")),
        ("q", *both(None if cls.q is None else sp.Integer(cls.q))),
        ("c_1", *both(cls.c1)),
        ("c_q", *both(cls.cq)),
        ("φ_σ leading term", *both(cls.phi_leading)),
        ("μ₁ = E[σ'(s)]", *both(cls.mu1)),
        ("μ₁ > 0", _yes_no(cls.mu1_positive), rf"\text{{{_yes_no(cls.mu1_positive)}}}"),
        (
            "resonance depth q+1",
            *both(None if cls.resonance_depth is None else sp.Integer(cls.resonance_depth)),
        ),
    ]
    if cls.centred is not None:
        rows.append(("centred class", cls.centred.label, cls.centred.label))
    if constants is not None:
        # class D: the constants are the centred σ̃'s (κ differs from σ's; K does not)
        of = " of σ−σ(0)" if cls.centred is not None else ""  # no combining tilde: it misaligns
        rows.append((f"K (L={constants.depth}, a={constants.amplitude}){of}", *both(constants.K)))
        rows.append((f"κ{of}", *both(constants.kappa)))
    return rows


_DISPLAY = {"mu1": "μ₁", "kappa": "κ"}
"""How the constants' record keys read in the text table."""


def classification_table(
    cls: Classification, constants: EscapeConstants | None = None, order: int = 7
) -> str:
    """A readable two-column table followed by the steps that decided the class."""
    rows = _rows(cls, constants, order)
    width = max(len(label) for label, _, _ in rows)
    lines = [f"{label:<{width}}  {text}" for label, text, _ in rows]
    status = escape_theory_status(cls, None if constants is None else constants.depth)
    lines.append(f"{'escape theory':<{width}}  {status}")
    for name, entry in constant_status(cls, constants).items():
        if entry["status"] == "numeric":
            bound = entry["error_bound"]
            shown = (
                f"{bound:.1e}" if isinstance(bound, float) else mpmath.nstr(mpmath.mpf(bound), 2)
            )
            reason = f" ({entry['reason']})" if entry["reason"] else ""
            lines.append(
                f"{_DISPLAY.get(name, name) + ' is numeric':<{width}}  mpmath value, "
                f"error ≤ {shown}{reason}"
            )
    lines.append("")
    lines += [f"  - {step}" for step in cls.steps]
    return "\n".join(lines)


def classification_latex(
    cls: Classification, constants: EscapeConstants | None = None, order: int = 7
) -> str:
    """The same facts as a LaTeX ``tabular`` (math-mode values)."""
    latex_labels = {
        "σ(z)": r"\sigma(z)",
        "φ_σ leading term": r"\varphi_\sigma \text{ leading term}",
        "μ₁ = E[σ'(s)]": r"\mu_1 = \mathbb{E}[\sigma'(s)]",
        "μ₁ > 0": r"\mu_1 > 0",
        "κ": r"\kappa",
        "κ of σ−σ(0)": r"\kappa \text{ of } \sigma - \sigma(0)",
        "c_1": "c_1",
        "c_q": "c_q",
        "q": "q",
        "resonance depth q+1": r"\text{resonance depth } q+1",
        "class": r"\text{class}",
        "centred class": r"\text{centred class}",
    }
    lines = [r"\begin{tabular}{ll}", r"\hline"]
    for label, _, tex in _rows(cls, constants, order):
        if label.startswith("Taylor"):
            head = rf"\text{{Taylor to }} z^{{{order}}}"
        elif label.startswith("K "):
            head = rf"K \; (L={constants.depth},\, a={sp.latex(constants.amplitude)})"
            if cls.centred is not None:
                head += r" \text{ of } \sigma - \sigma(0)"
        else:
            head = latex_labels.get(label, rf"\text{{{label}}}")
        lines.append(f"${head}$ & ${tex}$ \\\\")
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines)


def claims_table(claims: list[Claim]) -> str:
    """A readable table: id, verdict, measured vs predicted and tolerance."""
    lines = []
    for c in claims:
        lines.append(f"[{c.verdict.value:^11}] {c.id}: {c.statement}")
        lines.append(f"{'':14}predicted: {c.predicted}")
        lines.append(f"{'':14}measured:  {c.measured}")
        lines.append(f"{'':14}tolerance: {c.tolerance}")
    counts = {v: sum(c.verdict is v for c in claims) for v in Verdict}
    lines.append(", ".join(f"{n} {v.value}" for v, n in counts.items()))
    return "\n".join(lines)


def claims_latex(claims: list[Claim]) -> str:
    """The table as a LaTeX ``longtable``-free ``tabular`` (plain text cells, escaped; compiles
    with plain pdflatex)."""
    from symescape.reports.latex_text import latex_text as esc

    rows = [
        r"\begin{tabular}{p{3cm}p{4cm}p{4cm}p{2cm}l}",
        r"\hline",
        r"claim & predicted & measured & tolerance & verdict \\",
        r"\hline",
    ]
    rows += [
        f"{esc(c.id)} & {esc(c.predicted)} & {esc(c.measured)} & {esc(c.tolerance)} & "
        f"{c.verdict.value} \\\\"
        for c in claims
    ]
    rows += [r"\hline", r"\end{tabular}"]
    return "\n".join(rows)
