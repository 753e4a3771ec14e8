"""Every public function or class of the formula layers states its formula and the MATH.md
section it comes from, in its own docstring (not only in its module's)."""

from __future__ import annotations

import inspect

import pytest

import symescape

FORMULA_LAYERS = ("symescape.symbolic.", "symescape.numeric.", "symescape.precision.")


def public_formula_objects() -> list[tuple[str, object]]:
    found = []
    for name in symescape.__all__:
        obj = getattr(symescape, name)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__.startswith(
            FORMULA_LAYERS
        ):
            found.append((name, obj))
    return found


def test_there_are_formula_objects_to_check() -> None:
    assert len(public_formula_objects()) > 30


@pytest.mark.parametrize("name,obj", public_formula_objects())
def test_docstring_states_formula_and_section(name: str, obj: object) -> None:
    doc = inspect.getdoc(obj) or ""
    assert "MATH.md §" in doc, f"{name}: docstring names no MATH.md section"


def test_readme_python_example_prints_what_it_shows() -> None:
    # the README's "From Python" block is a doctest: each shown value is checked here
    import doctest
    from pathlib import Path

    readme = Path(__file__).resolve().parents[1] / "README.md"
    result = doctest.testfile(str(readme), module_relative=False, verbose=False)
    assert result.attempted >= 10 and result.failed == 0
