"""LaTeX-ready derivation documents, generated from the symbolic layer.

Every displayed equation is a SymPy object printed by ``sympy.latex``: the activation and its
Taylor series, φ_σ, the class and the tests that decide it, μ₁, K, κ, γ_l, the resonance depth;
the scalar chain at depth L with the closed form of ∂_l f (MATH.md §4), the leading-order field and
the order of its remainder (§5), the escape integral and its balanced closed form (§6), the
critical-depth law from the bottleneck shell (§6), and the first correction with the order of the
relative error of T_lead (§7). A document is a list of blocks rendered either as a standalone
``.tex`` file (amsmath only, so ``pdflatex`` from a basic TeX installation compiles it) or as
Markdown with ``$$…$$`` blocks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import sympy as sp

from symescape.errors import ConfigurationError, GaussianDomainError, NumericalError
from symescape.options import validate_depth
from symescape.reports.latex_layout import (
    CONTINUATION,
    LINE_UNITS,
    coefficient_lines,
    glyph_width,
    is_wide,
    relation_lines,
    sum_lines,
    term_lines,
)
from symescape.symbolic.activations import Activation, Z, activation, known_activations
from symescape.symbolic.canonical import canonical_constant, simplified
from symescape.symbolic.chain import scalar_chain
from symescape.symbolic.classification import ActivationClass, Classification, classify
from symescape.symbolic.constants import EscapeConstants, escape_constants
from symescape.symbolic.gaussian import check_chain_domain
from symescape.symbolic.moments import Constant, S
from symescape.symbolic.taylor import taylor_coefficients

SERIES_ORDER = 7
TITLE_UNITS = 24.0  # estimated width beyond which σ's formula stays out of the title
INLINE_UNITS = 40.0  # estimated width beyond which a constant is not written out in running text


class DocumentFormat(Enum):
    TEX = "tex"
    MARKDOWN = "md"


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Prose:
    """A short paragraph; inline mathematics in ``$…$`` (valid in both LaTeX and Markdown)."""

    text: str


@dataclass(frozen=True)
class Equation:
    """One displayed equation (or several, aligned at ``&``), as LaTeX source."""

    lines: tuple[str, ...]


Block = Heading | Prose | Equation


def _eq(*lines: str) -> Equation:
    return Equation(tuple(lines))


def _rel(lhs: str, rhs: sp.Basic | str) -> str:
    """``lhs &= rhs``, broken over aligned lines when too wide for the page (latex_layout)."""
    return " \\\\\n".join(relation_lines(lhs, rhs))


def _constant(value: Constant) -> str:
    """Exact form with its value to 15 digits, or the value alone."""
    numeric = Constant(None, value.value).latex(15)
    if value.exact is None:
        return numeric
    exact = sp.latex(value.exact)
    return exact if value.exact.is_Rational else rf"{exact} \approx {numeric}"


def _constant_rel(lhs: str, value: Constant) -> str:
    """``lhs &= exact ≈ value`` (or the value alone), the exact form broken when wide and the
    value then on its own continuation line; numeric constants are marked as such."""
    numeric = Constant(None, value.value).latex(15)
    if value.exact is None:
        return _rel(lhs, rf"{numeric} \quad (\text{{numeric}})")
    if value.exact.is_Rational:
        return _rel(lhs, value.exact)
    if glyph_width(_constant(value)) <= LINE_UNITS - glyph_width(lhs) - 2:
        return _rel(lhs, _constant(value))
    return _rel(lhs, value.exact) + " \\\\\n" + CONTINUATION + rf"\approx {numeric}"


# ---------------------------------------------------------------------------------------------
# Symbols shared by the documents.
EPS = sp.Symbol("varepsilon", positive=True)
RHO = sp.Symbol("rho", positive=True)
RHO_STAR = sp.Symbol("rho_*", positive=True)
K_SYM = sp.Symbol("K", positive=True)
KAPPA = sp.Symbol("kappa", real=True)
U = sp.Symbol("u", positive=True)
THETA = sp.Symbol("vartheta", positive=True)


def taylor_series(expr_coefficients: tuple[sp.Expr, ...], order: int) -> sp.Expr:
    """Σ_{k ≤ order} c_k z^k + O(z^{order+1})."""
    poly = sum(c * Z**k for k, c in enumerate(expr_coefficients[: order + 1]))
    return poly + sp.Order(Z ** (order + 1), Z)


def _display_coefficients(act: Activation) -> tuple[sp.Expr, ...]:
    """c_0 … c_SERIES_ORDER in canonical form (tanh(log 2) → 3/5)."""
    return tuple(canonical_constant(c) for c in taylor_coefficients(act, SERIES_ORDER))


def _named_coefficients(coefficients: tuple[sp.Expr, ...]) -> frozenset[int]:
    """Orders k whose c_k is too wide to repeat: named once (``c_{k} = …``), then referred to."""
    return frozenset(k for k, c in enumerate(coefficients) if c != 0 and is_wide(c))


def _series_terms(
    coefficients: tuple[sp.Expr, ...], weights: tuple[int, ...], named: frozenset[int]
) -> list[str]:
    """Printed terms w_k c_k z^k (c_k by name when named) and the O(z^{n+1}) remainder."""
    printed = []
    for k, (c, w) in enumerate(zip(coefficients, weights, strict=True)):
        if c == 0 or w == 0:
            continue
        if k in named:
            factor = "" if w == 1 else ("-" if w == -1 else f"{w} ")
            printed.append(f"{factor}c_{{{k}}} {sp.latex(Z**k)}")
        else:
            printed.append(sp.latex(w * c * Z**k))
    return printed + [sp.latex(sp.Order(Z ** len(coefficients), Z))]


def _series_blocks(coefficients: tuple[sp.Expr, ...], phi: sp.Expr) -> list[Block]:
    """σ's Taylor series, φ_σ = zσ' − σ and its series −c_0 + Σ (k−1) c_k z^k, a few terms per
    line; a wide c_k is named once after σ's series and referred to by name."""
    named = _named_coefficients(coefficients)
    ones = tuple(1 for _ in coefficients)
    blocks: list[Block] = [
        Prose(f"Its Taylor series at $0$ (exact coefficients $c_k$, to order {SERIES_ORDER}):"),
        _eq(*sum_lines(r"\sigma(z)", _series_terms(coefficients, ones, named))),
    ]
    if named:
        definitions = [
            line for k in sorted(named) for line in relation_lines(f"c_{{{k}}}", coefficients[k])
        ]
        blocks += [Prose("with"), _eq(*definitions)]
    phi_weights = tuple(k - 1 for k in range(len(coefficients)))
    series = sum_lines("", _series_terms(coefficients, phi_weights, named))
    blocks += [
        Prose(
            r"The failure of Euler's identity, $\varphi_\sigma(z) = z\sigma'(z) - \sigma(z)$, "
            r"and its series $-c_0 + \sum_{k \ge 2} (k-1) c_k z^k$ (the linear term drops out):"
        ),
        _eq(*relation_lines(r"\varphi_\sigma(z)", simplified(phi)), *series),
    ]
    return blocks


def _activation_blocks(cls: Classification) -> list[Block]:
    act = cls.activation
    blocks: list[Block] = [
        Heading("Activation"),
        _eq(_rel(r"\sigma(z)", act.expr)),
    ]
    if cls.activation_class is ActivationClass.PIECEWISE_LINEAR:
        phi = sp.piecewise_fold(sp.simplify(Z * sp.diff(act.expr, Z) - act.expr))
        blocks += [
            Prose(
                r"$\sigma$ is piecewise-linear and not analytic at $0$: it has no Taylor series, "
                r"and $\varphi_\sigma(z) = z\sigma'(z) - \sigma(z)$ vanishes away from the kink,"
            ),
            _eq(_rel(r"\varphi_\sigma(z)", phi)),
            Prose(
                "so it is class A almost everywhere and the imbalance is conserved along the "
                "flow. The Taylor-based constants $K$, $\\kappa$ do not apply; escape from the "
                "origin is governed by positive homogeneity (the escape-directions solver)."
            ),
        ]
        return blocks
    coefficients = _display_coefficients(act)
    blocks += _series_blocks(coefficients, cls.phi)
    blocks += _class_blocks(cls)
    return blocks


def _class_blocks(cls: Classification) -> list[Block]:
    """The tests of MATH.md §3, in order, with the values that decide them."""
    blocks: list[Block] = [Heading("Class")]
    c0 = cls.c0 if cls.c0 is not None else sp.Integer(0)
    if cls.activation_class is ActivationClass.D:
        centred = cls.centred
        blocks += [
            Prose(
                rf"$\sigma(0) = {_inline(c0, 0)} \neq 0$: class D, with constant drift "
                r"$\varphi_\sigma(0) = -\sigma(0)$. The centred activation "
                r"$\tilde\sigma = \sigma - \sigma(0)$ moves the saddle and is classified in its "
                "place:"
            ),
            _eq(_rel(r"\tilde\sigma(z)", centred.activation.expr)),
        ]
        blocks += _class_blocks(centred)[1:]
        blocks.append(
            Prose(
                f"So $\\sigma$ is class D with centred class {_label(centred)}; the constants "
                r"below are those of $\tilde\sigma$ (teacher and student centred)."
            )
        )
        return blocks
    steps = [rf"$\sigma(0) = {_inline(c0, 0)}$."]
    if cls.activation_class is ActivationClass.A:
        steps.append(r"$\sigma'' \equiv 0$: $\sigma$ is linear, $\varphi_\sigma \equiv 0$.")
    else:
        steps.append(
            rf"The first nonlinear Taylor term has order $q = {cls.q}$, with "
            rf"$c_q = {_inline(cls.cq, cls.q)}$."
        )
        if cls.activation_class is ActivationClass.B:
            steps.append(r"$\sigma$ is odd (every even Taylor coefficient vanishes).")
        elif cls.activation_class is ActivationClass.C:
            steps.append(rf"$\sigma$ is not odd and $c_2 = {_inline(cls.cq, 2)} \neq 0$.")
        else:
            steps.append(
                r"$\sigma(0) = 0$, $c_2 = 0$ and $\sigma$ is not odd: outside the hypothesis of "
                "the classification."
            )
    blocks.append(Prose(" ".join(steps)))
    verdict = (
        "Not classified (outside the hypothesis)"
        if cls.activation_class is ActivationClass.OUTSIDE
        else f"Class {_label(cls)}"
    )
    if cls.phi_leading is not None and cls.activation_class is not ActivationClass.A:
        blocks.append(Prose(f"{verdict}, with leading term"))
        order = cls.q + (2 if cls.activation_class is ActivationClass.B else 1)
        leading = sp.latex(canonical_constant(cls.phi_leading / Z**cls.q) * Z**cls.q)
        if is_wide(canonical_constant(cls.cq)):
            leading = rf"{cls.q - 1} c_{{{cls.q}}} {sp.latex(Z**cls.q)}"
        remainder = sp.latex(sp.Order(Z**order, Z))
        blocks.append(_eq(_rel(r"\varphi_\sigma(z)", f"{leading} + {remainder}")))
    else:
        blocks.append(Prose(f"{verdict}: the imbalance is exactly conserved."))
    return blocks


def _inline(value: sp.Expr, k: int) -> str:
    """A Taylor coefficient for inline text: its canonical form, or ``c_{k}`` when it is wide
    (then defined once with σ's series)."""
    value = canonical_constant(value)
    return f"c_{{{k}}}" if is_wide(value) else sp.latex(value)


def _label(cls: Classification) -> str:
    label = cls.label
    return f"$B_{{{cls.q}}}$" if label.startswith("B_") else label


def _constants_blocks(constants: EscapeConstants) -> list[Block]:
    cls = constants.classification
    L = constants.depth
    source = cls.centred if constants.centred else cls
    blocks: list[Block] = [
        Heading("Escape constants"),
        Prose(
            r"The first Hermite coefficient $\mu_1 = E_s[\sigma'(s)] = E_s[\sigma(s)\,s]$ "
            r"(Stein), the rate $K = a\,\mu_1 c_1^{L-1}$ and the first-correction "
            f"coefficients at depth $L = {L}$, teacher amplitude "
            f"$a = {sp.latex(constants.amplitude)}$:"
        ),
    ]
    lines = [
        _constant_rel(r"c_1", Constant.from_exact(source.c1)),
        _constant_rel(r"\mu_1", source.mu1),
        _constant_rel("K", constants.K),
    ]
    if constants.kappa is not None:
        lines.append(_constant_rel(r"\kappa", constants.kappa))
        lines += _gamma_lines(constants)
    blocks.append(_eq(*lines))
    numeric = [c for c in (source.mu1, constants.K, constants.kappa) if c is not None]
    if any(not c.is_exact for c in numeric):
        bound = max(float(c.error) for c in numeric if not c.is_exact)
        blocks.append(
            Prose(
                "Values marked numeric have no closed form in the class of the exact Gaussian "
                r"rule (sums of $s^k$ times $e^{\beta s^2 + \alpha s}$ times at most one "
                r"$\mathrm{erf}(As + b)$, after writing sin, cos, sinh, cosh as exponentials): "
                "they are mpmath quadratures, shown to "
                f"15 digits, with error below ${sp.latex(sp.Float(bound, 2))}$."
            )
        )
    if source.mu1.sign is None:
        blocks.append(
            Prose(
                r"The sign of $\mu_1$ is undecided (its interval contains $0$): escape is not "
                "claimed."
            )
        )
    elif not source.mu1.is_positive:
        blocks.append(
            Prose(r"$\mu_1 \le 0$: the sign hypothesis fails and the escape theory does not apply.")
        )
    if constants.kappa is not None and L > 1:
        blocks.append(
            Prose(
                rf"Here $\kappa = \frac{{L+q-1}}{{L}}\, c_q E_s[\sigma(s) s^q]/(c_1\mu_1)$ and "
                r"$\gamma_1 = q\,\gamma_l$ for $l \ge 2$ (the per-layer ratios are not uniform). "
                f"The resonance depth is $L = q + 1 = {source.resonance_depth}$."
            )
        )
    return blocks


def _gamma_lines(constants: EscapeConstants) -> list[str]:
    """γ_l one per line; when their exact forms are wide, by reference to κ (named once):
    γ_1 = qL/(L+q−1) κ and γ_l = L/(L+q−1) κ for l ≥ 2."""
    gamma = constants.gamma
    wide = any(g.exact is not None and is_wide(g.exact) for g in gamma)
    if not wide or len(gamma) < 2:
        return [_constant_rel(rf"\gamma_{{{l}}}", g) for l, g in enumerate(gamma, start=1)]
    cls = constants.classification
    L, q = constants.depth, cls.q if cls.q is not None else cls.centred.q
    first = sp.Rational(q * L, L + q - 1)
    rest = sp.Rational(L, L + q - 1)
    numeric = [Constant(None, g.value).latex(15) for g in gamma]
    others = " = ".join(rf"\gamma_{{{l}}}" for l in range(2, len(gamma) + 1))  # noqa: E741
    return [
        rf"\gamma_{{1}} &= {sp.latex(first)}\,\kappa \approx {numeric[0]}",
        rf"{others} &= {sp.latex(rest)}\,\kappa \approx {numeric[1]}",
    ]


class _SigmaPrime(sp.Function):
    """σ'(z) printed as such (for lines too long to print with σ' written out)."""

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\sigma'\left({printer._print(self.args[0])}\right)"


class _Sigma(sp.Function):
    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\sigma\left({printer._print(self.args[0])}\right)"


LONG_LINE = 160  # characters of LaTeX source beyond which σ and σ' stay unexpanded


def chain_gradient_in_preactivations(
    cls: Classification, depth: int
) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Expr, ...]]:
    """(z_1, …, z_{L-1}) and ∂_l f = h_{l-1} Π_{k=l}^{L-1} X_{k+1} σ'(z_k) in those symbols
    (h_0 = s, h_k = σ(z_k)). Substituting the chain's pre-activations gives
    :attr:`ScalarChain.gradient` (tested)."""
    chain = scalar_chain(cls.activation, depth)
    z = sp.symbols(f"z_1:{depth}", real=True) if depth > 1 else ()
    sigma = sp.Lambda(Z, cls.activation.expr)
    dsigma = sp.Lambda(Z, sp.diff(cls.activation.expr, Z))
    h = (S, *(sigma(zk) for zk in z))
    gradient = []
    for l in range(1, depth + 1):  # noqa: E741
        term = h[l - 1]
        for k in range(l, depth):
            term = term * chain.X[k] * dsigma(z[k - 1])
        gradient.append(term)
    return z, tuple(gradient)


def _chain_blocks(cls: Classification, depth: int) -> list[Block]:
    chain = scalar_chain(cls.activation, depth)
    z, gradient = chain_gradient_in_preactivations(cls, depth)
    sigma = sp.Lambda(Z, cls.activation.expr)
    dsigma = sp.diff(cls.activation.expr, Z)
    expanded = {sigma(zk): _Sigma(zk) for zk in z} | {
        dsigma.subs(Z, zk): _SigmaPrime(zk) for zk in z
    }
    lines = [
        _rel(rf"\frac{{\partial f}}{{\partial X_{{{l}}}}}", g)
        for l, g in enumerate(gradient, start=1)  # noqa: E741
    ]
    folded = any(len(line) > LONG_LINE for line in lines)
    if folded:
        lines = [
            _rel(rf"\frac{{\partial f}}{{\partial X_{{{l}}}}}", g.xreplace(expanded))
            for l, g in enumerate(gradient, start=1)  # noqa: E741
        ]
    recursion = [_rel("z_1", chain.X[0] * S)] if depth > 1 else []
    for l in range(2, depth):  # noqa: E741
        recursion.append(_rel(f"z_{{{l}}}", chain.X[l - 1] * sigma(z[l - 2])))
    f = chain.X[-1] * sigma(z[-1]) if depth > 1 else chain.f
    recursion.append(_rel("f(s)", f))
    blocks: list[Block] = [
        Heading(f"The scalar chain at depth L = {depth}"),
        Prose(
            r"On the symmetric ansatz the network collapses to a chain in $s = v\cdot x$ with "
            r"one scalar $X_l$ per layer:"
        ),
        _eq(*recursion),
        Prose(
            r"The closed form $\partial_l f = h_{l-1}\prod_{k=l}^{L-1} X_{k+1}\sigma'(z_k)$ "
            r"($h_0 = s$, $h_k = \sigma(z_k)$), written in the pre-activations:"
        ),
        _eq(*lines),
    ]
    if folded:
        blocks += [
            Prose(r"with"),
            _eq(_rel(r"\sigma'(z)", dsigma)),
        ]
    blocks += [
        Prose(
            r"and the exact reduced flow is $\dot X_l = E_s[(a\sigma(s) - f(s))\,\partial_l f(s)]$ "
            r"(time in units of $1/\eta$)."
        ),
    ]
    return blocks


def _field_blocks(cls: Classification, depth: int) -> list[Block]:
    X = scalar_chain(cls.activation, depth).X
    P = sp.Mul(*X)
    q = cls.centred.q if cls.activation_class is ActivationClass.D else cls.q
    absX = sp.Symbol(r"|X|", positive=True)
    remainder = sp.Order(absX ** (depth + q - 2), absX) if q is not None else sp.Integer(0)
    lines = [
        _rel(rf"\dot X_{{{l}}}", sp.Add(K_SYM * P / X[l - 1], remainder, evaluate=False))
        for l in range(1, depth + 1)  # noqa: E741
    ]
    tail = (
        rf"The remainder is of order $|X|^{{L+q-2}} = |X|^{{{depth + q - 2}}}$: a monomial whose "
        r"first nonlinear insertion sits at activation $m$ has degree at least $L + m(q-1)$."
        if q is not None
        else r"For linear $\sigma$ there is no remainder."
    )
    return [
        Heading("Leading-order field"),
        Prose(
            r"Filtered composition: the linear path gives $f = c_1^{L-1} P s + \dots$ with "
            r"$P = \prod_l X_l$, hence"
        ),
        _eq(*lines),
        Prose(tail),
    ]


def _escape_blocks(depth: int, kappa: Constant | None, q: int | None) -> list[Block]:
    L = depth
    delta = sp.symbols(f"Delta_1:{L + 1}", nonnegative=True)
    smin, ustar = sp.Symbol("s_min", positive=True), sp.Symbol("u_*", positive=True)
    integrand = 1 / (2 * K_SYM * sp.Mul(*(sp.sqrt(U + d) for d in delta)))
    balanced = sp.simplify(sp.integrate(1 / (K_SYM * RHO ** (L - 1)), (RHO, EPS, RHO_STAR)))
    blocks: list[Block] = [
        Heading("Escape time"),
        Prose(
            r"At leading order the gaps $\Delta_l = X_l^2 - X_{\min}^2$ are conserved and "
            r"$u = X_{\min}^2$ obeys $\dot u = 2K\prod_l\sqrt{u + \Delta_l}$, so from initial "
            r"scales $s_l$ the escape time to the threshold $u_*$ is"
        ),
        _eq(_rel("T_{\\mathrm{lead}}", sp.Integral(integrand, (U, smin**2, ustar)))),
        Prose(
            r"From the balanced start $X_l = \varepsilon$ the geometric mean $\rho = P^{1/L}$ "
            r"obeys $\dot\rho = K\rho^{L-1}$; to $\rho = \rho_*$:"
        ),
        _eq(_rel("T_{\\mathrm{lead}}", balanced)),
    ]
    blocks += _critical_depth_blocks(L)
    if kappa is not None and q is not None and L > 1:
        blocks += _correction_blocks(L, q, kappa)
    return blocks


def _critical_depth_blocks(depth: int) -> list[Block]:
    lines, kinds = [], []
    for r in range(1, depth + 1):
        shell = sp.simplify(sp.integrate(1 / (2 * U ** sp.Rational(r, 2)), (U, EPS**2, THETA**2)))
        scale = EPS ** (2 - r) if r >= 3 else (sp.log(1 / EPS) if r == 2 else sp.Integer(1))
        prefactor = sp.limit(shell / scale, EPS, 0)
        if not (prefactor.is_finite and prefactor != 0):
            raise NumericalError(f"shell integral for r = {r} is not Θ({scale})")  # a bug
        lines.append(_rel(rf"I_{{{r}}}", shell))
        kinds.append(rf"$I_{{{r}}} \sim {sp.latex(prefactor * scale)}$")
    return [
        Heading("Critical-depth law"),
        Prose(
            r"With $r$ layers at scale $\varepsilon$ and the rest at fixed scales "
            r"$s_{r+1} \le \dots \le s_L$, the bottleneck shell $u \in [\varepsilon^2, "
            r"\vartheta^2]$ dominates: $T \approx I_r / (K\prod_{i>r} s_i)$ with "
            r"$I_r = \int_{\varepsilon^2}^{\vartheta^2} du/(2u^{r/2})$:"
        ),
        _eq(*lines),
        Prose(
            "As $\\varepsilon \\to 0$: "
            + ", ".join(kinds)
            + r". So $T = \Theta(\varepsilon^{-(r-2)})$ for $r \ge 3$, $\Theta(\ln 1/\varepsilon)$ "
            r"for $r = 2$ and $\Theta(1)$ for $r = 1$, whatever $L$."
        ),
    ]


def relative_correction(depth: int, q: int) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """First-order shift and relative error of T_lead on the balanced ray (MATH.md §7).

    Returns (T_1 − T_lead to first order in κ, coefficient c, order g(ε)) with
    (T_1 − T_lead)/T_lead = c g(ε)(1 + o(1)) as ε → 0: g = ε^{q−1} above the resonance
    (L > q+1), ε^{L−2} ln(1/ε) at it, ε^{L−2} below (1/ln(1/ε) at L = 2, where the shift is
    O(1) absolute). Symbols: κ, K, ε, ρ*. Above and at the resonance c is exact for the
    truncated field K ρ^{L-1}(1 + κ ρ^{q-1}); below it (and at L = 2) the shift has a finite limit
    to which all orders in κ contribute, and c is only the first-order part (tested).
    """
    L = depth
    if L < 2:
        raise ConfigurationError("at L = 1 the chain has no activation and no correction")
    balanced = sp.integrate(1 / (K_SYM * RHO ** (L - 1)), (RHO, EPS, RHO_STAR))
    integral = sp.expand_log(sp.integrate(RHO ** (q - L), (RHO, EPS, RHO_STAR)), force=True)
    shift = sp.Mul(-KAPPA / K_SYM, sp.factor(integral), evaluate=False)
    if L > q + 1:
        order = EPS ** (q - 1)
    elif L == q + 1:
        order = EPS ** (L - 2) * sp.log(1 / EPS)
    elif L == 2:  # T_lead = ln(ρ*/ε)/K grows only logarithmically: the shift is O(1) absolute
        order = 1 / sp.log(1 / EPS)
    else:
        order = EPS ** (L - 2)
    coefficient = sp.simplify(sp.limit(sp.expand(shift) / balanced / order, EPS, 0))
    if not coefficient.is_finite or coefficient == 0:
        raise NumericalError(f"relative correction is not Θ({order})")  # a bug, not input
    return shift, coefficient, order


def _kappa_inline(kappa: Constant) -> str:
    """κ for running text: its exact form when short, else its value (the exact form is in the
    constants above)."""
    if glyph_width(_constant(kappa)) <= INLINE_UNITS:
        return rf"\kappa = {_constant(kappa)}"
    return rf"\kappa \approx {Constant(None, kappa.value).latex(15)}"


def _correction_blocks(L: int, q: int, kappa: Constant) -> list[Block]:
    corrected = sp.Integral(
        1 / (K_SYM * RHO ** (L - 1) * (1 + KAPPA * RHO ** (q - 1))), (RHO, EPS, RHO_STAR)
    )
    shift, coefficient, order = relative_correction(L, q)
    if L > q + 1:
        regime = "above the resonance ($L > q+1$)"
    elif L == q + 1:
        regime = "at the resonance ($L = q+1$)"
    else:
        regime = "below the resonance ($L < q+1$)"
    return [
        Heading("First correction"),
        Prose(
            r"On the balanced ray $\dot\rho = K\rho^{L-1}(1 + \kappa\rho^{q-1} + \dots)$, so the "
            "corrected escape time is"
        ),
        _eq(_rel("T_1", corrected)),
        Prose(r"Expanding to first order in $\kappa$, $T_1 - T_{\mathrm{lead}}$ is"),
        _eq(_rel(r"T_1 - T_{\mathrm{lead}}", shift)),
        Prose(f"and the relative error of $T_{{\\mathrm{{lead}}}}$, {regime}, is"),
        _eq(
            _rel(
                r"\frac{T_1 - T_{\mathrm{lead}}}{T_{\mathrm{lead}}}",
                rf"{sp.latex(sp.Mul(coefficient, order))}\,\bigl(1 + o(1)\bigr)",
            )
        ),
        Prose(
            rf"with ${_kappa_inline(kappa)}$ for this activation and depth."
            + (
                ""
                if L >= q + 1
                else r" Below the resonance the shift tends to a finite limit to which every "
                r"higher term of the field ($\kappa^2\rho^{2(q-1)}$, the next Taylor orders) "
                r"contributes at the same order: the order $\varepsilon^{L-2}$ is universal, "
                "the coefficient shown is its first-order-in-$\\kappa$ part."
            )
        ),
    ]


def normal_form_blocks(
    cls: Classification, depth: int, amplitude: int | float | sp.Expr = 1, order: int = 2
) -> list[Block]:
    """Theorem 16 (issue 14): the escape time from the balanced start to ``order`` corrections,
    with its logarithm at a resonance, and the first integrals to first order. Empty when the
    flow does not escape (K ≤ 0); a lower order when ``order`` is beyond the engine."""
    from symescape.errors import ConfigurationError, NoEscapeError, TimeBudgetError
    from symescape.symbolic.normal_form import escape_expansion, first_integrals, latex_log_factor

    try:
        expansion = escape_expansion(
            cls.activation, depth, order=order, amplitude=float(amplitude)
        )
    except NoEscapeError:
        return []
    except ConfigurationError:
        return [] if order == 0 else normal_form_blocks(cls, depth, amplitude, order - 1)
    except TimeBudgetError as exc:
        # A document must finish for any activation: the section says what ran out instead.
        return [
            Heading("The escape time to all orders (Theorem 16)"),
            Prose(
                "The exact expansion did not finish within its time budget for this activation "
                f"({exc.seconds:g} s); the command symescape expand computes it numerically."
            ),
        ]
    terms: list[list[str]] = []
    for term in expansion.terms:
        coefficient = term.exact if term.exact is not None else sp.Float(float(term.value), 15)
        factor = EPS**term.power * sp.log(1 / EPS) ** term.log_power
        terms.append(coefficient_lines(coefficient, sp.latex(factor)))
    log_factor = latex_log_factor(expansion.remainder_log_power)
    remainder = rf"C + O\bigl(\varepsilon^{{{expansion.remainder_power}}}{log_factor}\bigr)"
    blocks: list[Block] = [
        Heading("The escape time to all orders (Theorem 16)"),
        Prose(
            r"From $X_l(0) = \varepsilon$ the inner expansion ($\rho = \varepsilon\sigma$, "
            r"$y = \sum_n \varepsilon^n y_n$, each order solving $\dot y_n = -2y_n + S_n$) gives, "
            rf"to order {expansion.order} (powers up to $-(L-2) + {expansion.order}(q-1)$), with "
            + (
                r"$m_j = E[\tilde\sigma(s) s^j]$ where no closed form exists (class D: the flow "
                r"and every coefficient are those of $\tilde\sigma = \sigma - \sigma(0)$):"
                if cls.centred is not None
                else r"$m_j = E[\sigma(s) s^j]$ where no closed form exists:"
            )
        ),
        _eq(*term_lines("T(\\varepsilon)", terms, remainder)),
        Prose(
            "A logarithm appears at every resonance (a correction of the field reaching power 0); "
            "the constant $C$ is non-local (the escape from the outer region), computed "
            "numerically by the command symescape expand."
        ),
    ]
    try:
        integrals = first_integrals(cls.activation, depth, float(amplitude))
    except (ArithmeticError, ConfigurationError):
        return blocks
    lines = [_rel(f"I_{{{j + 1}}}", integral) for j, integral in enumerate(integrals.exact[:2])]
    if not lines:  # L = 1: no pair of layers, no integral (an empty equation broke pdflatex)
        return blocks
    drifts = [
        rf"$\rho^{{{after}}}$ for $I_{{{j + 1}}}$ ($\rho^{{{before}}}$ uncorrected)"
        for j, (before, after) in enumerate(integrals.drift[:2])
        if before is not None
    ]
    return blocks + [
        Prose(
            r"Formal first integrals to first order ($\nabla I^1\cdot F^0 = "
            r"-\nabla I^0\cdot F^{q-1}$, solved in polynomials):"
        ),
        _eq(" \\\\\n".join(lines)),
        *([Prose("Near the balanced ray they drift as " + "; ".join(drifts) + ".")] * bool(drifts)),
    ]


def activation_document(
    spec: str | sp.Expr, depth: int = 4, amplitude: int | float | sp.Expr = 1
) -> list[Block]:
    """The derivation for one activation at one depth, as blocks.

    Raises:
        the errors of :func:`symescape.classify` (unknown name, not analytic at 0, …), and
        ConfigurationError for depth < 1.
    """
    cls = classify(spec)
    depth = validate_depth(depth)
    blocks: list[Block] = _activation_blocks(cls)
    if cls.activation_class is ActivationClass.PIECEWISE_LINEAR:
        return blocks + _chain_blocks(cls, depth)
    if cls.activation_class is ActivationClass.OUTSIDE or not cls.has_linear_path:
        reason = (
            "outside the hypothesis of the classification"
            if cls.activation_class is ActivationClass.OUTSIDE
            else "$c_1 = 0$: no linear path"
        )
        return blocks + [Prose(f"The escape theory does not apply: {reason}.")]
    constants = escape_constants(cls, depth, amplitude)
    source = cls.centred if constants.centred else cls
    try:
        check_chain_domain(source.activation.expr, Z, depth)
    except GaussianDomainError:
        # K and κ exist, the reduced flow does not: no field, escape time or expansion (the
        # words are written here: the error's text carries σ unbroken, too wide for the page)
        return (
            blocks
            + _constants_blocks(constants)
            + _chain_blocks(cls, depth)
            + [
                Prose(
                    rf"The reduced flow does not exist at this depth: the chain nests $\sigma$ "
                    rf"{depth - 1} times, $\sigma$ grows faster than every polynomial, so "
                    r"$\sigma(\sigma(s))$ grows like $\exp(e^{|s|})$ and the Gaussian "
                    r"expectations of the reduced flow diverge (depth $L \le 2$ has them)."
                )
            ]
        )
    return (
        blocks
        + _constants_blocks(constants)
        + _chain_blocks(cls, depth)
        + _field_blocks(cls, depth)
        + _escape_blocks(depth, constants.kappa, source.q)
        + normal_form_blocks(cls, depth, amplitude)
    )


def general_depth_document() -> list[Block]:
    """The depth-L formulas with L symbolic: the chain, ∂_l f, the leading field, the escape
    integral with its balanced closed form, the critical-depth law, the first correction."""
    L = sp.Symbol("L", integer=True, positive=True)
    l, k = sp.symbols("l k", integer=True, positive=True)  # noqa: E741
    Xf, zf, hf = sp.IndexedBase("X"), sp.IndexedBase("z"), sp.IndexedBase("h")
    sigma = sp.Function("sigma")
    q = sp.Symbol("q", integer=True, positive=True)
    r = sp.Symbol("r", integer=True, positive=True)
    balanced = sp.integrate(RHO ** (1 - L), (RHO, EPS, RHO_STAR), conds="none") / K_SYM
    balanced_general = sp.simplify(balanced.subs(L, sp.Symbol("L")))
    derivative = hf[l - 1] * sp.Product(
        Xf[k + 1] * sp.Derivative(sigma(zf[k]), zf[k]), (k, l, L - 1)
    )
    P = sp.Product(Xf[k], (k, 1, L))
    delta = sp.IndexedBase("Delta")
    smin, ustar = sp.Symbol("s_min", positive=True), sp.Symbol("u_*", positive=True)
    escape = sp.Integral(
        1 / (2 * K_SYM * sp.Product(sp.sqrt(U + delta[k]), (k, 1, L))), (U, smin**2, ustar)
    )
    shell = sp.integrate(1 / (2 * U ** (r / 2)), (U, EPS**2, THETA**2), conds="none")
    absX = sp.Symbol(r"|X|", positive=True)
    return [
        Heading("The scalar chain at general depth L"),
        Prose(r"With $h_0 = s$, $h_k = \sigma(z_k)$:"),
        _eq(
            _rel("z_1", Xf[1] * sp.Symbol("s")),
            _rel("z_l", Xf[l] * sigma(zf[l - 1])) + r" \qquad (2 \le l \le L-1)",
            _rel("f(s)", Xf[L] * sigma(zf[L - 1])),
            _rel(r"\frac{\partial f}{\partial X_l}", derivative),
        ),
        Heading("Leading-order field"),
        Prose(r"With $K = a\,\mu_1 c_1^{L-1}$ and $P = \prod_l X_l$:"),
        _eq(
            _rel(
                r"\dot X_l",
                sp.Add(K_SYM * P / Xf[l], sp.Order(absX ** (L + q - 2), absX), evaluate=False),
            )
        ),
        Heading("Escape time"),
        _eq(_rel(r"T_{\mathrm{lead}}", escape)),
        Prose(r"Balanced start $X_l = \varepsilon$, threshold $\rho_*$ ($L \ge 3$):"),
        _eq(_rel(r"T_{\mathrm{lead}}", balanced_general)),
        Prose(r"($L = 2$: $\ln(\rho_*/\varepsilon)/K$; $L = 1$: $(\rho_* - \varepsilon)/K$.)"),
        Heading("Critical-depth law"),
        Prose(r"The bottleneck shell with $r$ layers at $\varepsilon$ ($r \ne 2$):"),
        _eq(_rel(r"I_r", sp.simplify(shell))),
        Prose(
            r"so $T = \Theta(\varepsilon^{-(r-2)})$ for $r \ge 3$, $\Theta(\ln 1/\varepsilon)$ "
            r"for $r = 2$, $\Theta(1)$ for $r = 1$, independent of $L$."
        ),
        Heading("First correction"),
        _eq(
            _rel(
                r"\dot\rho",
                K_SYM * RHO ** (L - 1) * (1 + KAPPA * RHO ** (q - 1)),
            ),
            _rel(
                "T_1",
                sp.Integral(
                    1 / (K_SYM * RHO ** (L - 1) * (1 + KAPPA * RHO ** (q - 1))),
                    (RHO, EPS, RHO_STAR),
                ),
            ),
        ),
        Prose(
            r"The relative error of $T_{\mathrm{lead}}$ is $O(\varepsilon^{q-1})$ for $L > q+1$, "
            r"$O(\varepsilon^{L-2}\ln 1/\varepsilon)$ at the resonance $L = q+1$ and "
            r"$O(\varepsilon^{L-2})$ below it; the per-activation documents derive each case "
            "with its coefficient."
        ),
    ]


# ---------------------------------------------------------------------------------------------
# Rendering.
_TEX_PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage{amsmath,amssymb}
\allowdisplaybreaks
\setlength{\textwidth}{16cm}\setlength{\oddsidemargin}{0cm}
\setlength{\textheight}{23cm}\setlength{\topmargin}{-1cm}
\title{%s}
\author{generated by symescape %s}
\date{}
\begin{document}
\maketitle
"""


def _tex_escape(text: str) -> str:
    """Escape LaTeX specials in prose outside ``$…$`` (headings and names)."""
    out, inside = [], False
    for char in text:
        if char == "$":
            inside = not inside
        if not inside and char in "&%#_":
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def render(blocks: list[Block], title: str, fmt: DocumentFormat | str = "tex") -> str:
    """The blocks as a standalone LaTeX document or as Markdown with ``$$…$$`` blocks."""
    from symescape.version import __version__

    fmt = DocumentFormat(fmt)
    if fmt is DocumentFormat.TEX:
        parts = [_TEX_PREAMBLE % (_tex_escape(title), __version__)]
        for block in blocks:
            if isinstance(block, Heading):
                parts.append(f"\\section*{{{_tex_escape(block.text)}}}\n")
            elif isinstance(block, Prose):
                parts.append(_tex_escape(block.text) + "\n")
            else:
                body = " \\\\\n".join(block.lines)
                if len(block.lines) == 1 and "&" not in block.lines[0]:
                    parts.append(f"\\begin{{equation*}}\n{body}\n\\end{{equation*}}\n")
                else:
                    parts.append(f"\\begin{{align*}}\n{body}\n\\end{{align*}}\n")
        parts.append("\\end{document}\n")
        return "\n".join(parts)
    parts = [f"# {title}\n", f"*generated by symescape {__version__}*\n"]
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"## {block.text}\n")
        elif isinstance(block, Prose):
            parts.append(block.text + "\n")
        else:
            body = " \\\\\n".join(block.lines)
            parts.append(f"$$\n\\begin{{aligned}}\n{body}\n\\end{{aligned}}\n$$\n")
    return "\n".join(parts)


def derivation_text(spec: str | sp.Expr, depth: int = 4, fmt: DocumentFormat | str = "tex") -> str:
    """The rendered derivation for one activation (``spec`` = "general" for symbolic L)."""
    if isinstance(spec, str) and spec == "general":
        return render(general_depth_document(), "Saddle escape at general depth L", fmt)
    act = activation(spec)
    formula = sp.latex(act.expr)
    # A title cannot break inside mathematics: a wide σ is shown in the first section only.
    named = f"$\\sigma(z) = {formula}$" if glyph_width(formula) <= TITLE_UNITS else "$\\sigma$"
    title = f"Saddle escape for {named} at depth $L = {validate_depth(depth)}$"
    return render(activation_document(spec, depth), title, fmt)


def derivation_filename(spec: str | sp.Expr, depth: int, fmt: DocumentFormat | str) -> str:
    """``tanh-L4.tex``; ``general.md``; an expression gets a file-safe form of its text and the
    first 10 hex digits of the SHA-256 of its canonical SymPy form, so two expressions with the
    same file-safe text (``x/2+x**3``, ``x*2+x**3``) never share a file:
    ``x_2_x__3-L4-<hash>.tex``."""
    ext = DocumentFormat(fmt).value
    if isinstance(spec, str) and spec == "general":
        return f"general.{ext}"
    act = activation(spec)
    if act.is_registry:
        return f"{act.name}-L{depth}.{ext}"
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in act.name).strip("_") or "sigma"
    digest = hashlib.sha256(sp.srepr(act.expr).encode()).hexdigest()[:10]
    return f"{safe[:60]}-L{depth}-{digest}.{ext}"


def write_derivation(
    spec: str | sp.Expr, out: str | Path, depth: int = 4, fmt: DocumentFormat | str = "tex"
) -> Path:
    """Write the document into folder ``out`` atomically (temporary name, then rename).

    Raises:
        the activation errors of :func:`symescape.classify`; ConfigurationError for depth < 1 or
        an output folder that cannot be created or written (no partial file is left).
    """
    from symescape.experiments.sweeps import check_writable_folder, write_atomic

    path = Path(out) / derivation_filename(spec, depth, fmt)
    if not (isinstance(spec, str) and spec == "general"):
        classify(spec)  # errors in the input come before any write (cached for the document)
        validate_depth(depth)
    try:
        check_writable_folder(path.parent)  # before the derivation's seconds of SymPy
        write_atomic(path, derivation_text(spec, depth, fmt))
    except OSError as exc:
        raise ConfigurationError(f"cannot write the derivation to {str(out)!r}: {exc}") from None
    return path


REGISTRY_DEPTH = 4


def write_all_derivations(out: str | Path, formats: tuple[str, ...] = ("tex", "md")) -> list[Path]:
    """The committed ``derivations/`` folder: every registry activation at depth 4, and the
    general-depth document, in each format."""
    paths = []
    for fmt in formats:
        paths.append(write_derivation("general", out, REGISTRY_DEPTH, fmt))
        for name in known_activations():
            if name == "silu":  # an alias of swish: same document
                continue
            paths.append(write_derivation(name, out, REGISTRY_DEPTH, fmt))
    return paths
