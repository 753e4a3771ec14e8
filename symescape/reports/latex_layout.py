"""Displayed equations that fit the page, whatever the activation.

A derivation document shows SymPy expressions of any size: the Taylor series of a user's σ, its
φ_σ, exact constants. ``sp.latex`` prints each on one line, which ran 2 300 pt off the page for
``x*tanh(log(1+exp(x)))``. This module breaks a relation ``lhs = expr`` into ``align*`` lines:

- sums are broken between terms, a few terms per line, continuation lines aligned after ``=``;
- a product too long for a line is broken between factors (``\\times`` at each continuation), a
  sum inside it in ``\\Bigl( … \\Bigr)``, which, unlike ``\\left( … \\right)``, may span lines;
- a long coefficient of a series is named once (``c_{2} = …``, itself broken if need be) and
  referred to by name.

Widths are estimated from the LaTeX source (:func:`glyph_width`: fractions count their wider
part, scripts 70 %), conservatively; a test compiles documents with pdflatex and requires no
``Overfull \\hbox`` over 1 pt.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

LINE_UNITS = 60.0
"""Estimated glyph width of one displayed line (16 cm of 11 pt mathematics, with a margin)."""

NAME_UNITS = 22.0
"""Series coefficients wider than this are named once and referred to."""

CONTINUATION = r"&\quad "

_FUNCTION_NAMES = {
    "sin", "cos", "tan", "tanh", "sinh", "cosh", "log", "exp", "atan", "operatorname", "erf",
    "erfi", "erfc", "sqrt", "asinh", "acosh", "atanh", "asin", "acos", "sec", "csc", "cot",
}  # fmt: skip
_ZERO_WIDTH = {"left", "right", "Bigl", "Bigr", "bigl", "bigr", "limits", "displaystyle", "mathrm"}


def _group(text: str, start: int) -> tuple[str, int]:
    """The brace group starting at ``text[start] == '{'``: (content, index after it)."""
    depth, i = 0, start
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
        i += 1
    return text[start + 1 :], len(text)


def _argument(text: str, i: int) -> tuple[str, int]:
    """A TeX argument at ``i``: a brace group, a command or one character."""
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text):
        return "", i
    if text[i] == "{":
        return _group(text, i)
    if text[i] == "\\":
        j = i + 1
        while j < len(text) and text[j].isalpha():
            j += 1
        return text[i:j], j
    return text[i], i + 1


def glyph_width(latex: str) -> float:
    """Estimated printed width of math-mode LaTeX, in average glyphs (an over-estimate).

    >>> glyph_width(r"\\frac{1}{2} + z^{2}")
    5.7
    """
    width, i = 0.0, 0
    while i < len(latex):
        char = latex[i]
        if char == "\\":
            j = i + 1
            while j < len(latex) and latex[j].isalpha():
                j += 1
            name = latex[i + 1 : j] or latex[i + 1 : i + 2]
            i = max(j, i + 2) if j == i + 1 else j
            if name in ("frac", "dfrac", "tfrac"):
                numerator, i = _argument(latex, i)
                denominator, i = _argument(latex, i)
                width += max(glyph_width(numerator), glyph_width(denominator)) + 1
            elif name == "sqrt":
                radicand, i = _argument(latex, i)
                width += glyph_width(radicand) + 1.5
            elif name in _ZERO_WIDTH:
                continue
            elif name in ("quad",):
                width += 2
            elif name in _FUNCTION_NAMES:
                width += len(name)
            else:
                width += 1
        elif char in "^_":
            script, i = _argument(latex, i + 1)
            width += 0.7 * glyph_width(script)
        elif char in "{} &":
            i += 1
        elif char in "+-=<>":
            width += 2
            i += 1
        else:
            width += 1
            i += 1
    return round(width, 6)


def _signed(latex: str) -> tuple[str, str]:
    """(sign, body) of a printed term: ``-\\frac{z}{2}`` → ("-", "\\frac{z}{2}")."""
    stripped = latex.lstrip()
    if stripped.startswith("-"):
        return "-", stripped[1:].lstrip()
    return "+", stripped


def _pack(pieces: Sequence[tuple[str, str]], room: float) -> list[str]:
    """Greedy packing of (joiner, printed piece) pairs into lines of at most ``room`` units; a
    piece that opens a line keeps its joiner's operator (``\\times``), never a bare space."""
    lines: list[str] = []
    current = ""
    for joiner, piece in pieces:
        candidate = piece if not current else current + joiner + piece
        if current and glyph_width(candidate) > room:
            lines.append(current)
            current = (joiner.strip() + " " + piece).strip()
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _sum_lines(terms: Sequence[str], room: float) -> list[str]:
    """Signed terms packed into lines; each line after the first begins with its sign."""
    pieces = []
    for index, term in enumerate(terms):
        sign, body = _signed(term)
        pieces.append(("", term.strip()) if index == 0 else (" ", f"{sign} {body}"))
    return _pack(pieces, room)


def _factor_latex(factor: sp.Expr) -> str:
    if factor.is_Add:
        return rf"\left({sp.latex(factor)}\right)"
    return sp.latex(factor)


def _product_lines(expr: sp.Expr, room: float) -> list[str] | None:
    """A long product broken between factors; None when it is not a product of several."""
    coefficient, rest = expr.as_coeff_Mul()
    numerator, denominator = sp.fraction(rest)
    factors = list(sp.Mul.make_args(numerator))
    if denominator != 1:
        factors += [sp.Pow(f, -1, evaluate=False) for f in sp.Mul.make_args(denominator)]
    factors = [f for f in factors if f != 1]
    if len(factors) + (coefficient != 1) < 2 and not (factors and factors[0].is_Add):
        return None
    times = r" \times "
    pieces: list[tuple[str, str]] = [] if coefficient == 1 else [("", sp.latex(coefficient))]
    for factor in factors:
        joiner = times if pieces else ""
        latex = _factor_latex(factor)
        if glyph_width(latex) <= room:
            pieces.append((joiner, latex))
            continue
        base, power = (factor.base, factor.exp) if factor.is_Pow else (factor, sp.Integer(1))
        inner = expression_lines(base, room - 4)
        suffix = "" if power == 1 else f"^{{{sp.latex(power)}}}"
        if len(inner) == 1:
            pieces.append((joiner, r"\Bigl(" + inner[0] + r"\Bigr)" + suffix))
            continue
        pieces.append((joiner, r"\Bigl(" + inner[0]))
        pieces += [("\n", line) for line in inner[1:-1]]
        pieces.append(("\n", inner[-1] + r"\Bigr)" + suffix))
    return [line.replace("\n", "") for line in _pack_forced(pieces, room)]


def _pack_forced(pieces: Sequence[tuple[str, str]], room: float) -> list[str]:
    """:func:`_pack`, with joiner "\\n" meaning: this piece starts a new line (the continuation
    of a factor already broken into lines)."""
    lines: list[str] = []
    for joiner, piece in pieces:
        if joiner == "\n" or not lines:
            lines.append(piece)
            continue
        candidate = lines[-1] + joiner + piece
        if glyph_width(candidate) > room:
            lines.append((joiner.strip() + " " + piece).strip())
        else:
            lines[-1] = candidate
    return lines


def expression_lines(expr: sp.Expr | str, room: float = LINE_UNITS) -> list[str]:
    """``expr`` printed as one or more lines of at most ``room`` estimated units (the first line
    holds the start of the expression; callers prefix the continuation lines)."""
    if isinstance(expr, str):
        return [expr]
    latex = sp.latex(expr)
    if glyph_width(latex) <= room:
        return [latex]
    if isinstance(expr, sp.Add):
        terms = []
        for term in expr.as_ordered_terms():
            printed = sp.latex(term)
            if glyph_width(printed) <= room:
                terms.append(printed)
                continue
            sign = "-" if _signed(printed)[0] == "-" else "+"
            body = expression_lines(-term if sign == "-" else term, room)
            terms.append(("- " if sign == "-" else "") + body[0])
            terms += body[1:]
        return _sum_lines(terms, room)
    broken = _product_lines(expr, room)
    return broken if broken is not None else [latex]


def relation_lines(lhs: str, rhs: sp.Expr | str, room: float = LINE_UNITS) -> list[str]:
    """``lhs &= rhs`` as aligned ``align*`` lines (continuations start ``&\\quad``)."""
    lines = expression_lines(rhs, room - glyph_width(lhs) - 2)
    return [f"{lhs} &= {lines[0]}"] + [CONTINUATION + line for line in lines[1:]]


def is_wide(coefficient: sp.Expr) -> bool:
    """Whether a series coefficient is wide enough to be named once (:data:`NAME_UNITS`)."""
    return glyph_width(sp.latex(coefficient)) > NAME_UNITS


def sum_lines(lhs: str, terms: Sequence[str], room: float = LINE_UNITS) -> list[str]:
    """``lhs &= t_1 + t_2 + …`` from printed terms, a few per line, aligned after ``=``."""
    body = _sum_lines(list(terms) or ["0"], room - glyph_width(lhs) - 2)
    return [f"{lhs} &= {body[0]}"] + [CONTINUATION + line for line in body[1:]]


def coefficient_lines(coefficient: sp.Expr, factor: str, room: float = LINE_UNITS) -> list[str]:
    """One term ``(coefficient) factor`` of an expansion, the coefficient broken over lines in
    ``\\Bigl( … \\Bigr)`` when it is too wide (the first line holds the term's start)."""
    printed = rf"\left({sp.latex(coefficient)}\right) {factor}"
    if glyph_width(printed) <= room - 8:
        return [printed]
    inner = expression_lines(coefficient, room - 12)
    if len(inner) == 1:
        return [printed]
    return [r"\Bigl(" + inner[0], *inner[1:-1], inner[-1] + r"\Bigr) " + factor]


def term_lines(lhs: str, groups: Sequence[Sequence[str]], tail: str | None = None) -> list[str]:
    """``lhs &= g_1 + g_2 + … (+ tail)``, one term per line, each term a group of lines from
    :func:`coefficient_lines` (its continuation lines aligned, without a sign)."""
    lines: list[str] = []
    for group in groups:
        head = f"{lhs} &= {group[0]}" if not lines else f"{CONTINUATION}+ {group[0]}"
        lines += [head] + [CONTINUATION + line for line in group[1:]]
    if tail is not None:
        lines.append(f"{lhs} &= {tail}" if not lines else f"{CONTINUATION}+ {tail}")
    return lines
