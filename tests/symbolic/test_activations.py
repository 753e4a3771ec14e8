import pytest
import sympy as sp

from symescape import (
    REGISTRY,
    ActivationError,
    NotRealFunctionError,
    UnknownActivationError,
    Z,
    activation,
    known_activations,
)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registry_names_resolve(name):
    act = activation(name)
    assert act.name == name
    assert act.expr.free_symbols <= {Z}


def test_expression_string_any_variable_name():
    assert activation("x*tanh(log(1+exp(x)))").expr == Z * sp.tanh(sp.log(1 + sp.exp(Z)))
    assert activation("t - t**3").expr == Z - Z**3
    assert activation("x").expr == Z


def test_sympy_object_and_helpers_inside_strings():
    y = sp.Symbol("y")
    assert activation(sp.sin(y)).expr == sp.sin(Z)
    assert activation("gelu(x) + sigmoid(x)").expr == REGISTRY["gelu"] + REGISTRY["sigmoid"]


def test_unknown_name_lists_known_ones():
    with pytest.raises(UnknownActivationError) as info:
        activation("tanhh")
    for name in known_activations():
        assert name in str(info.value)


def test_a_bare_constant_is_an_expression_not_an_unknown_name():
    # 'pi' is a bare word like 'tanh', but a constant of the grammar, as in '2*pi'
    assert activation("pi").expr == sp.pi
    assert activation("E").expr == sp.E
    with pytest.raises(NotRealFunctionError):
        activation("I")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("x*y", "2 free symbols"),
        ("x +* 2", "cannot parse"),
        ("x > 1", "not a scalar expression"),
        ("tanh(x) # a comment", "'#' is not part of the expression grammar"),
        ("x; import os", "';' is not part of the expression grammar"),
        ("   ", "empty activation"),
    ],
)
def test_bad_expressions(text, fragment):
    with pytest.raises(ActivationError, match=fragment):
        activation(text)


def test_undefined_function_rejected():
    x = sp.Symbol("x")
    with pytest.raises(ActivationError, match="undefined functions"):
        activation(sp.Function("f")(x))


def test_imaginary_unit_rejected():
    with pytest.raises(NotRealFunctionError):
        activation("x + I*x**2")


def test_non_expression_objects_rejected():
    with pytest.raises(ActivationError, match="type int"):
        activation(3)
