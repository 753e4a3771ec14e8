import json

import pytest
from click.testing import CliRunner

from symescape.cli import main

KEYS = {
    "activation",
    "expression",
    "class",
    "q",
    "c1",
    "cq",
    "mu1",
    "mu1_positive",
    "phi_leading",
    "resonance_depth",
    "centred_class",
}


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_json_keys_and_values():
    result = run("classify", "tanh", "--json", "--depth", "4")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert KEYS <= set(record) and {"K", "kappa"} <= set(record)
    assert record["class"] == "B" and record["q"] == 3 and record["resonance_depth"] == 4
    assert record["c1"] == 1.0 and abs(record["cq"] + 1 / 3) < 1e-15
    assert record["mu1_positive"] is True and record["centred_class"] is None


def test_json_class_D():
    record = json.loads(run("classify", "sigmoid", "--json").stdout)
    assert record["class"] == "D" and record["centred_class"] == "B_3"
    assert "K" not in record


def test_table_and_latex():
    table = run("classify", "gelu", "--depth", "3")
    assert table.exit_code == 0 and "class" in table.output and "κ" in table.output
    latex = run("classify", "gelu", "--latex")
    assert latex.output.startswith(r"\begin{tabular}") and r"\operatorname{erf}" in latex.output
    # a numeric constant is marked in LaTeX as in the table; the sign test reads as words
    tanh = run("classify", "tanh", "--latex").output
    assert r"& $\approx 0.605705509602159$" in tanh and r"$\text{yes}$" in tanh
    assert "True" not in tanh
    assert r"& $\frac{1}{2}$" in run("classify", "gelu", "--latex").output  # exact: no ≈
    assert "μ₁ is numeric" in run("classify", "tanh").output


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("foo", "known names: atan"),
        ("log(x)", "not analytic"),
        ("x*y", "free symbols"),
        ("x +* 1", "cannot parse"),
        ("x + I*x", "imaginary"),
    ],
)
def test_errors_are_messages_not_tracebacks(spec, fragment):
    result = run("classify", spec)
    assert result.exit_code == 2
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_flags_in_json():
    outside = json.loads(run("classify", "x + x**4", "--json").stdout)
    assert outside["class"] == "outside" and outside["in_hypothesis"] is False
    negative = json.loads(run("classify", "x - x**3", "--json").stdout)
    assert negative["mu1"] == -2.0 and negative["mu1_positive"] is False
    assert "no escape" in negative["escape_theory"]
    no_path = json.loads(run("classify", "x**2", "--json", "--depth", "3").stdout)
    assert no_path["K"] is None and "c_1" in no_path["constants_error"]
    relu = json.loads(run("classify", "relu", "--json").stdout)
    assert relu["class"] == "piecewise-linear" and relu["mu1"] == 0.5


@pytest.mark.parametrize("spec", ["tanh", "-tanh(x)", "-x + x**3", "x - x**3"])
@pytest.mark.parametrize("depth", [2, 3, 4])
def test_the_escape_verdict_follows_the_sign_of_k_as_escape_does(spec, depth):
    # K = a μ₁ c₁^(L−1): with c₁ < 0 its sign alternates with L (−tanh escapes at even L, like
    # tanh by σ → −σ symmetry); classify said "μ₁ ≤ 0: no escape" at every L, escape escaped
    record = json.loads(run("classify", "--json", "--depth", str(depth), "--", spec).stdout)
    escape = run("escape", f"--activation={spec}", "--depth", str(depth), "--eps", "0.05")
    assert (record["K"] > 0) == (record["escape_theory"] == "applies"), record["escape_theory"]
    assert (record["K"] > 0) == (escape.exit_code == 0), escape.output
    if record["K"] > 0:
        assert "escaped" in escape.output
    else:
        assert "no escape" in record["escape_theory"]


def test_classify_at_a_depth_without_a_reduced_flow_says_so():
    # σ∘σ of sinh grows like exp(e^|s|): escape, expand and predict refuse L = 3
    out = CliRunner().invoke(main, ["classify", "sinh(x)", "--depth", "3", "--json"])
    assert out.exit_code == 0, out.output
    assert "not the reduced flow at L = 3" in json.loads(out.stdout)["escape_theory"]
    two = CliRunner().invoke(main, ["classify", "sinh(x)", "--depth", "2", "--json"])
    assert json.loads(two.stdout)["escape_theory"] == "applies"


def test_a_bare_grammar_function_is_that_function_of_x():
    import sympy as sp

    from symescape import UnknownActivationError, Z, activation

    assert activation("sinh").expr == sp.sinh(Z) and activation("exp").expr == sp.exp(Z)
    with pytest.raises(UnknownActivationError, match="one-argument function of the expression"):
        activation("Max")


def test_class_d_constants_and_expansion_are_labelled_as_the_centred_activation():
    # the audit: softplus printed κ = 0.2130 and 'm_j = E[σ(s) s^j]' with values of the centred
    # σ̃ = σ − log 2 (κ of σ itself would be 0.675): right numbers, wrong label
    table = run("classify", "softplus", "--depth", "3").stdout
    centred = json.loads(run("classify", "log(exp(x)+1) - log(2)", "--json", "--depth", "3").stdout)
    line = next(row for row in table.splitlines() if row.startswith("κ of σ−σ(0)"))
    assert abs(float(line.split()[-1]) - centred["kappa"]) <= 1e-15 * abs(centred["kappa"])
    assert r"\kappa \text{ of } \sigma - \sigma(0)" in run(
        "classify", "softplus", "--depth", "3", "--latex"
    ).stdout
    text = run("expand", "softplus", "--depth", "3").stdout
    assert "m_j = E[σ̃(s) s^j]" in text and "those of σ̃ = σ − σ(0)" in text
    assert json.loads(run("expand", "softplus", "--depth", "3", "--json").stdout)["centred"]
    assert not json.loads(run("expand", "tanh", "--depth", "3", "--json").stdout)["centred"]
    assert "σ̃" not in run("expand", "tanh", "--depth", "3").stdout


def test_a_fraction_is_a_number_where_a_number_is_asked():
    # the tool prints a = 5/2; '--amplitude 5/2' was refused as "not a number" (the audit)
    def K(amplitude):
        return json.loads(
            run("classify", "tanh", "--json", "--depth", "3", "--amplitude", amplitude).stdout
        )["K"]

    assert K("5/2") == K("2.5")
    assert "not a number" in run("classify", "tanh", "--depth", "3", "--amplitude", "5/0").output


def test_expand_calls_a_constant_without_a_significant_digit_undetermined(monkeypatch):
    """gelu at L = 12 in double precision gave C = 1e+07 ± 1.0e+07 (86 s): the error leaves no
    digit, so the output says undetermined and points to --precision; LaTeX keeps C a symbol."""
    from symescape.numeric import precise_escape
    from symescape.numeric.precise_escape import ExpansionConstant

    assert ExpansionConstant(-2.0, 1e-6, None).determined
    assert not ExpansionConstant(1e7, 1.0e7, None).determined
    assert not ExpansionConstant(float("nan"), 1.0, None).determined

    def undetermined(expansion, spec, **kwargs):
        return ExpansionConstant(1.2e7, 1.3e7, None)

    monkeypatch.setattr(precise_escape, "expansion_constant", undetermined)
    text = run("expand", "tanh", "--depth", "3").stdout
    assert "constant: undetermined (1.2e+07 ± 1.3e+07" in text and "--precision DIGITS" in text
    assert json.loads(run("expand", "tanh", "--depth", "3", "--json").stdout)[
        "constant_determined"
    ] is False
    latex = run("expand", "tanh", "--depth", "3", "--latex").stdout
    assert "+ C" in latex and "C =" not in latex and "10^{7}" not in latex
    monkeypatch.undo()
    assert json.loads(run("expand", "tanh", "--depth", "3", "--json").stdout)["constant_determined"]
