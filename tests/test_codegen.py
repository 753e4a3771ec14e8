"""The SymPy → NumPy boundary: kernels with named intermediates."""

from __future__ import annotations

import numpy as np
import sympy as sp

from symescape.codegen import numpy_kernel


def test_intermediates_are_computed_first_in_order() -> None:
    x, y, u, w = sp.symbols("x y u w")
    # w is defined through u: the kernel must assign u, then w, then the outputs
    intermediates = [(u, x * y + 1), (w, sp.sin(u) + x)]
    kernel = numpy_kernel([u**2 + w, w * y, sp.Integer(3)], [x, y], intermediates=intermediates)
    direct = numpy_kernel(
        [(x * y + 1) ** 2 + sp.sin(x * y + 1) + x, (sp.sin(x * y + 1) + x) * y, sp.Integer(3)],
        [x, y],
    )
    xs, ys = np.linspace(-2, 2, 7), np.linspace(0.5, 3, 7)
    for got, want in zip(kernel(xs, ys), direct(xs, ys), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)


def test_bad_intermediates_are_refused_before_any_code_is_made(tmp_path) -> None:
    import pytest

    from symescape.errors import ConfigurationError

    a, u, v = sp.symbols("a u v")
    marker = tmp_path / "ran"
    text = f"__import__('pathlib').Path({str(marker)!r}).touch() or a"
    cases = [
        ([(u, text)], "must be a SymPy expression"),  # text is never code
        ([(sp.Symbol("u.1"), a + 1)], "named like a Python variable"),
        ([(a + 1, a)], "named like a Python variable"),
        ([(v, u + 1), (u, a)], r"uses \['u'\]"),  # out of order
        ([(u, a + sp.Symbol("b"))], r"uses \['b'\]"),
        ([[u, a]], "pair"),
    ]
    for intermediates, match in cases:
        with pytest.raises(ConfigurationError, match=match):
            numpy_kernel([u], [a], intermediates=intermediates)
    assert not marker.exists()
