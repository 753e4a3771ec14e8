"""LaTeX-ready derivations (issue 7): generated from the symbolic layer, never stale, compiling."""

import shutil
import subprocess
from pathlib import Path

import mpmath
import pytest
import sympy as sp
from click.testing import CliRunner
from support import pdflatex

from symescape import (
    ConfigurationError,
    NotAnalyticError,
    UnknownActivationError,
    classify,
    escape_constants,
)
from symescape.cli import main
from symescape.reports.derivation import (
    EPS,
    K_SYM,
    KAPPA,
    RHO_STAR,
    chain_gradient_in_preactivations,
    derivation_text,
    relative_correction,
    write_all_derivations,
    write_derivation,
)
from symescape.reports.latex_text import latex_text
from symescape.symbolic.activations import Z
from symescape.symbolic.chain import scalar_chain

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "derivations"
REGENERATE = (
    "regenerate with python -c \"from symescape.reports.derivation import "
    "write_all_derivations as w; w('derivations')\""
)


def test_committed_derivations_are_current(tmp_path):
    # Regenerate every document; any difference means derivations/ is stale.
    written = write_all_derivations(tmp_path)
    documents = [p for p in COMMITTED.iterdir() if p.suffix in {".tex", ".md"}]  # not build files
    assert sorted(p.name for p in written) == sorted(p.name for p in documents)
    stale = [p.name for p in written if p.read_text() != (COMMITTED / p.name).read_text()]
    assert not stale, f"derivations/ is stale: {stale}; {REGENERATE}"


@pytest.mark.parametrize("name", ["tanh", "gelu", "sigmoid"])
def test_closed_form_in_preactivations_is_the_chain_gradient(name):
    # The displayed ∂_l f (in z_k) becomes the kernel's ∂_l f when z_k is substituted.
    cls = classify(name)
    chain = scalar_chain(cls.activation, 4)
    z, gradient = chain_gradient_in_preactivations(cls, 4)
    for shown, kernel in zip(gradient, chain.gradient, strict=True):
        substituted = shown
        for zk, pre in reversed(list(zip(z, chain.pre, strict=True))):
            substituted = substituted.subs(zk, pre)
        point = {S: sp.Rational(7, 10) for S in substituted.free_symbols | kernel.free_symbols}
        assert abs(sp.N((substituted - kernel).subs(point), 30)) < 1e-25


def _shift_and_lead(depth, q, eps, K, kappa, rho_star):
    """T_1 − T_lead by mpmath quadrature of the difference integrand on a geometric grid (no
    cancellation), and T_lead in closed form."""
    with mpmath.workdps(40):
        points = [eps * (rho_star / eps) ** (mpmath.mpf(k) / 60) for k in range(61)]
        shift = mpmath.quad(
            lambda r: -kappa * r ** (q - 1) / ((1 + kappa * r ** (q - 1)) * K * r ** (depth - 1)),
            points,
        )
        lead = mpmath.quad(lambda r: 1 / (K * r ** (depth - 1)), points)
    return shift, lead


@pytest.mark.parametrize(("depth", "q"), [(6, 3), (5, 2), (4, 3), (3, 2)])
def test_relative_correction_above_and_at_resonance(depth, q):
    # (T_1 − T_lead)/T_lead = c g(ε)(1 + o(1)) with the derived c and g, against mpmath.
    _, coefficient, order = relative_correction(depth, q)
    K, kappa, rho_star = mpmath.mpf("0.6"), mpmath.mpf("-0.8"), mpmath.mpf("0.5")
    values = {K_SYM: 0.6, KAPPA: -0.8, RHO_STAR: 0.5}
    ratios = []
    for eps in (mpmath.mpf("1e-4"), mpmath.mpf("1e-8")):
        shift, lead = _shift_and_lead(depth, q, eps, K, kappa, rho_star)
        predicted = sp.N((coefficient * order).subs(values | {EPS: sp.Float(eps, 40)}), 30)
        ratios.append(float(shift / lead / mpmath.mpf(str(predicted))))
    assert abs(ratios[1] - 1) <= abs(ratios[0] - 1)
    # Above the resonance the o(1) is a power of ε; at it, a 1/ln(1/ε) (ln ρ* and κ² terms).
    assert abs(ratios[1] - 1) < (1e-3 if depth > q + 1 else 0.1)


@pytest.mark.parametrize(("depth", "q"), [(3, 3), (4, 5)])
def test_relative_correction_below_resonance_has_the_order_only(depth, q):
    # Below the resonance the relative error is Θ(ε^{L−2}) (the ratio to ε^{L−2} settles to a
    # constant), but that constant is not the first-order-in-κ coefficient: all orders enter.
    _, coefficient, order = relative_correction(depth, q)
    K, kappa, rho_star = mpmath.mpf("0.6"), mpmath.mpf("-0.8"), mpmath.mpf("0.5")
    scaled = []
    for eps in (mpmath.mpf("1e-5"), mpmath.mpf("1e-7")):
        shift, lead = _shift_and_lead(depth, q, eps, K, kappa, rho_star)
        scaled.append(float(shift / lead / eps ** (depth - 2)))
    assert scaled[1] == pytest.approx(scaled[0], rel=1e-3)
    first_order = float(coefficient.subs({KAPPA: -0.8, RHO_STAR: 0.5}))
    assert abs(scaled[1] / first_order - 1) > 0.01


def test_documents_show_the_code_constants():
    tex = derivation_text("erf", 4, "tex")
    constants = escape_constants("erf", 4)
    assert sp.latex(constants.K.exact) in tex
    assert tex.startswith(r"\documentclass") and tex.rstrip().endswith(r"\end{document}")
    md = derivation_text("erf", 4, "md")
    assert "$$" in md and r"\documentclass" not in md
    assert sp.latex(constants.K.exact) in md
    general = derivation_text("general", 4, "md")
    assert r"\varepsilon^{2 - L}" in general


@pytest.mark.filterwarnings("ignore::symescape.errors.ClosedFormFallbackWarning")
def test_activation_given_through_the_sympy_api_is_derived_without_reparsing():
    # 2 I₁(z) (modified Bessel) is outside the text grammar; given as a SymPy expression it
    # must reach the first integrals as that expression, not by its name re-parsed as text
    tex = derivation_text(2 * sp.besseli(1, Z), 4, "md")
    assert "I_{1}" in tex and "I_{2}" in tex


def test_a_depth_without_a_reduced_flow_stops_after_the_constants():
    # escape refuses sin(z)e^z at depth 4 (nested super-polynomial growth); the document
    # gives K, κ and the chain, then says why there is no flow, and nothing after it
    md = derivation_text("sin(x)*exp(x)", 4, "md")
    assert "The reduced flow does not exist at this depth" in md
    assert "escape time to all orders" not in md
    assert "The reduced flow does not exist" not in derivation_text("sin(x)*exp(x)", 2, "md")


def test_bad_input_and_unwritable_folder(tmp_path):
    with pytest.raises(UnknownActivationError):
        write_derivation("nosuch", tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigurationError, match="cannot write"):
        write_derivation("tanh", blocker / "sub")
    with pytest.raises(ConfigurationError, match="depth"):
        write_derivation("tanh", tmp_path, depth=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing partial left
    result = CliRunner().invoke(main, ["derive", "log(x)", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "not analytic" in result.output
    ok = CliRunner().invoke(main, ["derive", "tanh", "--out", str(tmp_path), "--format", "md"])
    assert ok.exit_code == 0 and (tmp_path / "tanh-L4.md").exists()


def test_latex_text_escapes_unicode():
    assert latex_text("σ̃ ≈ 0.5 & μ₁ ≤ 2%") == r"$\sigma$ $\approx$ 0.5 \& $\mu$$_{1}$ $\le$ 2\%"
    assert latex_text("☃") == "[U+2603]"


def _compile(tex: Path) -> Path:
    run = subprocess.run(
        [pdflatex(), "-interaction=nonstopmode", "-halt-on-error", tex.name],
        cwd=tex.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:]
    pdf = tex.with_suffix(".pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    return pdf


def test_committed_tex_compiles(tmp_path):
    for name in ("general.tex", "gelu-L4.tex"):
        shutil.copy(COMMITTED / name, tmp_path / name)
        pdf = _compile(tmp_path / name)
        log = (tmp_path / name).with_suffix(".log").read_text(errors="replace")
        # No displayed equation runs off the page (long ∂_l f lines are folded into σ, σ').
        assert "detected at line" not in log, log[log.find("Overfull") :][:300]
        if shutil.which("pdftotext"):
            text = subprocess.run(
                ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
            ).stdout
            assert "Saddle escape" in text and "Critical-depth law" in text


def test_latex_tables_compile(tmp_path):
    from symescape.experiments.verification import verify
    from symescape.reports.figures import summaries_latex
    from symescape.reports.tables import claims_latex

    claims = verify(quick=True, ids=["prop2-classes", "c4-class-c-ratio"])
    summaries = {"fig9": {"summary": ["slope −1.01 ± 0.02 vs −(r−2), ε ∈ [0.003, 0.02], σ̃"]}}
    body = claims_latex(claims) + "\n\n" + summaries_latex(summaries)
    tex = tmp_path / "tables.tex"
    tex.write_text(
        "\\documentclass{article}\\usepackage{amsmath}\\begin{document}\n"
        + body
        + "\n\\end{document}\n"
    )
    _compile(tex)


def test_an_unwritable_folder_is_reported_before_the_derivation_is_computed(
    tmp_path, monkeypatch
):
    # derive computed the whole document (seconds of SymPy) and only then found it could not
    # write it; and a bad activation must still come first, without creating the folder
    from symescape.reports import derivation

    def never(*args, **kwargs):
        raise AssertionError("the document was computed")

    monkeypatch.setattr(derivation, "derivation_text", never)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigurationError, match="cannot write"):
        write_derivation("tanh", blocker / "sub")
    with pytest.raises(NotAnalyticError):
        write_derivation("log(x)", tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_a_depth_one_document_compiles(tmp_path):
    # L = 1 has no pair of layers, so no first integral: the document held an empty equation*
    # and pdflatex stopped at "Missing $ inserted" (a hostile pass)
    from symescape.reports.derivation import write_derivation

    tex = write_derivation("tanh", tmp_path, 1, "tex")
    assert "\\begin{equation*}\n\n\\end{equation*}" not in tex.read_text()
    _compile(tex)


def test_derive_general_says_depth_is_not_used(tmp_path):
    # '--depth 7' with 'general' was ignored without a word (a hostile pass)
    given = CliRunner().invoke(main, ["derive", "general", "--depth", "7", "--out", str(tmp_path)])
    assert given.exit_code == 0 and "--depth is not used" in given.output
    plain = CliRunner().invoke(main, ["derive", "general", "--out", str(tmp_path)])
    assert plain.exit_code == 0 and "--depth" not in plain.output
