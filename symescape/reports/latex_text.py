"""Plain text (with Unicode mathematics) as LaTeX that plain ``pdflatex`` compiles.

Used wherever the tool writes a human sentence into LaTeX: the ``verify --latex`` table, the
``reproduce --latex`` summaries and derivation headings. Specials are escaped, Greek letters and
common symbols become math-mode commands, and any other non-ASCII character becomes its code point
in brackets (never a character that stops compilation).
"""

from __future__ import annotations

import unicodedata

_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "^": r"\^{}",
    "~": r"\~{}",
    "|": r"\textbar{}",  # OT1 fonts print a bare | as an em dash
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}

_SYMBOLS = {
    "≤": r"\le", "≥": r"\ge", "≠": r"\neq", "≈": r"\approx", "×": r"\times", "→": r"\to",
    "∞": r"\infty", "±": r"\pm", "√": r"\surd", "∂": r"\partial", "∑": r"\sum", "∫": r"\int",
    "·": r"\cdot", "∈": r"\in", "≍": r"\asymp", "⊙": r"\odot", "∇": r"\nabla", "≡": r"\equiv",
    "…": r"\dots", "‖": r"\|", "⁻": r"^{-}", "ᵀ": r"^{T}", "′": r"'", "∝": r"\propto",
    "⟂": r"\perp", "∼": r"\sim", "≪": r"\ll", "≫": r"\gg", "∘": r"\circ", "ϑ": r"\vartheta",
}  # fmt: skip

_TEXT = {"−": "-", "–": "--", "—": "---", "‘": "`", "’": "'", "“": "``", "”": "''", " ": " "}

_SUB = str.maketrans("₀₁₂₃₄₅₆₇₈₉₊₋", "0123456789+-")
_SUP = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺", "0123456789+")


def _math(char: str) -> str | None:
    if char in _SYMBOLS:
        return _SYMBOLS[char]
    if char in "₀₁₂₃₄₅₆₇₈₉₊₋":
        return "_{" + char.translate(_SUB) + "}"
    if char in "⁰¹²³⁴⁵⁶⁷⁸⁹⁺":
        return "^{" + char.translate(_SUP) + "}"
    name = unicodedata.name(char, "")
    if name.startswith("GREEK SMALL LETTER "):
        letter = name.removeprefix("GREEK SMALL LETTER ").lower()
        if letter == "epsilon":
            return r"\varepsilon"
        if letter == "final sigma":
            return r"\varsigma"
        return "o" if letter == "omicron" else "\\" + letter
    if name.startswith("GREEK CAPITAL LETTER "):
        letter = name.removeprefix("GREEK CAPITAL LETTER ").capitalize()
        if letter in {"Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi"}:
            return "\\" + letter
        if letter == "Omega":
            return r"\Omega"
        return letter[0]
    return None


def latex_text(text: str) -> str:
    """``text`` as LaTeX source for a text-mode context (a table cell, a heading)."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        if char in _SPECIALS:
            out.append(_SPECIALS[char])
        elif char in _TEXT:
            out.append(_TEXT[char])
        elif ord(char) < 128:
            out.append(char)
        elif (command := _math(char)) is not None:
            out.append(f"${command}$")
        elif unicodedata.combining(char):
            continue  # e.g. the tilde of σ̃: the base letter stands alone
        else:
            out.append(f"[U+{ord(char):04X}]")
    return "".join(out)
