"""The safe parser of activation expressions: text → SymPy, without ever evaluating the text.

The string is read by Python's :mod:`ast` (which only parses) and the tree is walked against a
whitelist; the SymPy expression is built node by node from that tree. Accepted:

- numbers (integers and decimals, read exactly: ``0.1`` is 1/10), ``pi`` and ``E``;
- one variable (any identifier that is neither a function nor a constant, e.g. ``x``);
- ``+ - * / **`` and ``^`` (power, as in SymPy's ``convert_xor``), unary ``+`` and ``-``;
- calls of the functions in :data:`FUNCTIONS`, with positional arguments only.

Everything else is refused with one line naming what was refused: attribute access, subscripts,
dunder names, lambdas, comprehensions, keyword arguments, strings, comparisons, unknown names and
functions, implicit multiplication (``2x``: write ``2*x``), and any character outside the
alphabet (letters, digits and :data:`ALLOWED_SYMBOLS`: a ``#`` comment, which Python's
tokenizer would silently drop, or a ``;``). Size limits (:data:`MAX_LENGTH`,
:data:`MAX_NESTING`, :data:`MAX_TERMS`, :data:`MAX_EXPONENT`) are checked, each with its own
message, before any SymPy object is built.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from types import MappingProxyType

import sympy as sp

from symescape.errors import ActivationError, ConfigurationError, RefusedExpressionError

MAX_LENGTH = 2000
"""Longest accepted expression, in characters."""
ALLOWED_SYMBOLS = frozenset(" \t.+-*/^(),_")
"""The characters of the grammar besides letters and digits."""
MAX_NESTING = 40
"""Deepest accepted nesting of parentheses, calls and operators."""
MAX_TERMS = 400
"""Most operands (numbers, names and calls) an expression may contain."""
MAX_EXPONENT = 1000
"""Largest |exponent| of a power whose exponent is a number."""
MAX_DIGITS = 4000
"""Largest number of decimal digits of a number literal (a float's exact value included: the
digits of 1e-3000 are those of 10^3000) or of a power of numbers. Below Python's 4300-digit limit
on int ↔ str conversion, which printing the activation goes through."""

_FLOAT_LITERAL = re.compile(r"(?P<digits>[\d_]*\.?[\d_]*)(?:[eE](?P<exponent>[+-]?[\d_]+))?")
"""A float literal as Python writes it: digits with an optional point, then an optional
exponent."""


def float_literal_digits(text: str) -> int:
    """Decimal digits of the exact value of the float literal ``text`` (numerator or
    denominator): at most its digits plus the size of its exponent.

    >>> float_literal_digits("1e-3000")
    3001
    """
    match = _FLOAT_LITERAL.fullmatch(text)
    if match is None:
        return len(text)
    digits = sum(c.isdigit() for c in match["digits"])
    exponent = match["exponent"]
    return digits + (abs(int(exponent.replace("_", ""))) if exponent else 0)


def _sigmoid(x: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-x))


def _gelu(x: sp.Expr) -> sp.Expr:
    # Exact GELU, x Φ(x), in its erf form (not the tanh approximation).
    return x / 2 * (1 + sp.erf(x / sp.sqrt(2)))


def _swish(x: sp.Expr) -> sp.Expr:
    return x * _sigmoid(x)


def _softplus(x: sp.Expr) -> sp.Expr:
    return sp.log(1 + sp.exp(x))


def _relu(x: sp.Expr) -> sp.Expr:
    return sp.Max(0, x)


def _leaky_relu(x: sp.Expr) -> sp.Expr:
    return sp.Max(x, x / 100)


NAMED_FUNCTIONS: Mapping[str, Callable[[sp.Expr], sp.Expr]] = MappingProxyType(
    {
        "sigmoid": _sigmoid,
        "gelu": _gelu,
        "swish": _swish,
        "silu": _swish,
        "softplus": _softplus,
        "relu": _relu,
        "leaky_relu": _leaky_relu,
    }
)
"""The activations of the registry that may also be called inside an expression."""

_ELEMENTARY: dict[str, Callable[..., sp.Expr]] = {
    name: getattr(sp, name)
    for name in (
        "exp log sqrt cbrt sin cos tan cot sec csc asin acos atan acot sinh cosh tanh coth sech "
        "csch asinh acosh atanh erf erfc Abs sign Heaviside floor ceiling Max Min"
    ).split()
}
_ELEMENTARY.update({"ln": sp.log, "abs": sp.Abs, "max": sp.Max, "min": sp.Min})

FUNCTIONS: Mapping[str, Callable[..., sp.Expr]] = MappingProxyType(
    {**_ELEMENTARY, **NAMED_FUNCTIONS}
)
"""Every function name the parser accepts (SymPy's elementary functions and the registry's)."""

VARIADIC_FUNCTIONS = frozenset({"Max", "Min", "max", "min"})
"""The functions of several arguments (the others take one)."""

CONSTANTS: Mapping[str, sp.Expr] = MappingProxyType({"pi": sp.pi, "E": sp.E, "I": sp.I})
"""Named constants (``I`` is accepted so that the activation layer can say σ is not real)."""

_IMPLICIT = re.compile(r"(\d|\))\s*[A-Za-z_(]|[A-Za-z_0-9]\s+[A-Za-z_(]")


def _refuse(text: str, what: str) -> RefusedExpressionError:
    return RefusedExpressionError(f"activation {_short(text)!r} refused: {what}")


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def parse_expression(text: str) -> sp.Expr:
    """Parse ``text`` into a SymPy expression, refusing everything outside the whitelist.

    The variable keeps its name (``"t - t**3"`` gives ``t - t**3`` in the symbol ``t``); the
    caller renames it. Nothing in ``text`` is ever executed.

    >>> parse_expression("x*tanh(x) + 2^3")
    x*tanh(x) + 8

    Raises:
        RefusedExpressionError: a refused construct or an exceeded limit (the message says which).
        ActivationError: text that is not an expression at all ("cannot parse ...").
    """
    if not isinstance(text, str):
        raise ActivationError(f"an expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise _refuse(text, f"{len(text)} characters, more than the limit of {MAX_LENGTH}")
    if not text.strip():
        raise ActivationError(
            "empty activation: give a name ('tanh') or an expression ('x*tanh(x)')"
        )
    if "__" in text:
        raise _refuse(text, "dunder names ('__...') are not allowed")
    depth = _paren_depth(text)
    if depth > MAX_NESTING:
        raise _refuse(text, f"parentheses nested {depth} deep, more than the limit {MAX_NESTING}")
    # '^' is power, as with SymPy's convert_xor (strings are refused, so no '^' is literal).
    source = text.strip().replace("^", "**")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        _check_alphabet(text)
        if _IMPLICIT.search(text):
            raise _refuse(
                text, "implicit multiplication is not supported; write '*' (e.g. 2*x, x*sin(x))"
            ) from None
        raise ActivationError(f"cannot parse activation {_short(text)!r}: {exc.msg}") from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise ActivationError(f"cannot parse activation {_short(text)!r}: {exc}") from None
    _check_shape(text, tree)
    _check_grammar(text, source, tree)  # first: a lambda or a subscript is refused by name
    _check_alphabet(text)
    try:
        expr = _Builder(source).build(tree.body)
    except ActivationError:
        raise
    except (ValueError, TypeError, ArithmeticError) as exc:  # SymPy refused to form a node
        raise ActivationError(
            f"activation {_short(text)!r} cannot be formed: {_short(str(exc))}"
        ) from None
    if expr.has(sp.zoo, sp.oo, -sp.oo, sp.nan):  # x/0 became zoo*x
        raise _refuse(text, "it divides by zero or is otherwise not finite (SymPy reads it as "
                      f"{_short(str(expr))})")
    check_exponentials(expr, text)  # on what SymPy formed: exp(600)*exp(600) is exp(1200)
    return expr


NOT_FINITE_NAMES = frozenset({"inf", "infinity", "nan", "oo", "zoo"})
"""Names a user may mean as ∞ or NaN: refused as such, not read as a second variable."""


def _check_alphabet(text: str) -> None:
    """Refuse characters outside the grammar's alphabet. Python's tokenizer drops a comment
    ('tanh(x) # note' parses as tanh(x)): the text must be all expression, never cut."""
    stray = sorted({c for c in text if not (c.isalnum() or c in ALLOWED_SYMBOLS)})
    if stray:
        listed = ", ".join(map(repr, stray))
        verb = "is" if len(stray) == 1 else "are"
        raise _refuse(text, f"{listed} {verb} not part of the expression grammar")


def _paren_depth(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


_ADDITIVE = (ast.Add, ast.Sub)
_MULTIPLICATIVE = (ast.Mult, ast.Div)


def _chain_class(node: ast.AST) -> tuple[type, ...] | None:
    """The operator class of a BinOp that can be chained (a + b - c, a * b / c), else None."""
    if isinstance(node, ast.BinOp):
        for group in (_ADDITIVE, _MULTIPLICATIVE):
            if isinstance(node.op, group):
                return group
    return None


def _check_shape(text: str, tree: ast.Expression) -> None:
    """Count operands and measure nesting iteratively (no recursion on hostile trees). A chain of
    one operator class (a sum, a product) counts as one level, however long."""
    operands = 0
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise _refuse(text, f"nested more than {MAX_NESTING} operations deep")
        if isinstance(node, ast.Constant | ast.Name | ast.Call):
            operands += 1
            if operands > MAX_TERMS:
                raise _refuse(text, f"more than {MAX_TERMS} terms (numbers, names and calls)")
        group = _chain_class(node)
        for child in ast.iter_child_nodes(node):
            same_chain = group is not None and child is node.left and _chain_class(child) == group
            stack.append((child, depth if same_chain else depth + 1))


def _check_grammar(text: str, source: str, tree: ast.Expression) -> None:
    """Refuse every construct, name, call and literal outside the grammar before any SymPy object
    is formed: otherwise a SymPy error in one part ('Max(acos(4), 0)' is not comparable) would be
    reported instead of the refusal of another ('x.real', 'foo(x)'). Iterative, like
    :func:`_check_shape`, and left to right, as the builder goes, so that the first offence in
    the text is the one named; the builder applies the same refusals (the same functions), so
    what is left to it is what needs formed values (the exponent and digit limits of powers).
    ``text`` is the user's text (quoted in refusals), ``source`` what ``tree`` was parsed from."""
    variable: str | None = None
    stack: list[ast.AST] = [tree.body]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call):
            why = _call_refusal(node)
            if why:
                raise _refuse(text, why)
            stack.extend(reversed(node.args))
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                what = _REFUSED_OPERATORS.get(type(node.op), type(node.op).__name__)
                raise _refuse(text, f"the operator {what!r}")
            stack.extend((node.right, node.left))
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub | ast.UAdd):
                what = _REFUSED_OPERATORS.get(type(node.op), "?")
                raise _refuse(text, f"the operator {what!r}")
            stack.append(node.operand)
        elif isinstance(node, ast.Constant):
            why = _constant_refusal(node, source)
            if why:
                raise _refuse(text, why)
        elif isinstance(node, ast.Name):
            why = _name_refusal(node.id)
            if why:
                raise _refuse(text, why)
            if node.id not in CONSTANTS:
                why = _second_variable_refusal(variable, node.id)
                if why:
                    raise _refuse(text, why)
                variable = node.id
        else:
            what = _REFUSED_NODES.get(type(node), f"the construct {type(node).__name__}")
            raise _refuse(text, f"{what} not allowed")


def _constant_refusal(node: ast.Constant, text: str) -> str | None:
    """Why a literal is refused (None: a number within the limits); ``text`` is the stripped
    text the tree was parsed from."""
    value = node.value
    if isinstance(value, str | bytes):
        return "strings are not allowed"
    if isinstance(value, bool) or value is None or value is Ellipsis:
        return f"the constant {value!r} is not a number"
    if isinstance(value, complex):
        return "complex literals ('1j') are not allowed; activations are real"
    if isinstance(value, int):
        if len(str(abs(value))) > MAX_DIGITS:
            return f"a number with more than {MAX_DIGITS} digits"
        return None
    if not math.isfinite(value):
        return f"the number {ast.get_source_segment(text, node)} is not finite"
    segment = ast.get_source_segment(text, node) or repr(value)
    if float_literal_digits(segment) > MAX_DIGITS:
        return f"the number {segment}: its exact value has more than {MAX_DIGITS} digits"
    return None


def _name_refusal(identifier: str) -> str | None:
    """Why a bare name is refused (None: a constant or a variable)."""
    if identifier.startswith("_"):
        return f"the name {identifier!r} (names may not start with '_')"
    if identifier.lower() in NOT_FINITE_NAMES:
        return f"{identifier!r} is not a finite number; an activation is finite everywhere"
    if identifier in CONSTANTS:
        return None
    if identifier in FUNCTIONS:
        return f"the function {identifier!r} used without an argument"
    if identifier == "e":
        # 'e' alone was the variable (classify e: the identity, class A) and '2*e' was 2z,
        # where a reader may mean Euler's number
        return (
            "the name 'e' is ambiguous: Euler's number is E (or exp(1)); for the variable "
            "use another letter, such as x"
        )
    return None


def _second_variable_refusal(variable: str | None, identifier: str) -> str | None:
    """Why ``identifier`` is refused when ``variable`` was met first (None: the same one)."""
    if variable is None or identifier == variable:
        return None
    return (
        f"a second variable {identifier!r} besides {variable!r} (2 free symbols); "
        "an activation is a function of exactly one variable"
    )


def _call_refusal(node: ast.Call) -> str | None:
    """Why a call is refused (None: a known function with positional arguments of its arity)."""
    if not isinstance(node.func, ast.Name):
        if isinstance(node.func, ast.Attribute):
            return "attribute access ('.') is not allowed"
        return "only named functions can be called; for a product write '*' (e.g. 2*(x+1))"
    name = node.func.id
    if name.startswith("_"):
        return f"the name {name!r} (names may not start with '_')"
    if name not in FUNCTIONS:
        return (
            f"unknown function {name!r} (for a product write '*'); allowed: "
            f"{', '.join(sorted(FUNCTIONS, key=str.lower))}"
        )
    if node.keywords:
        return f"keyword arguments (in {name}(...)) are not allowed"
    if any(isinstance(a, ast.Starred) for a in node.args):
        return "starred arguments are not allowed"
    arity = len(node.args)
    if name in VARIADIC_FUNCTIONS:
        if arity < 2:
            return f"{name} needs at least two arguments, got {arity}"
    elif arity != 1:
        return f"{name} takes one argument, got {arity}"
    return None


_BINARY: Mapping[type, str] = MappingProxyType(
    {
        ast.Add: "+",
        ast.Sub: "-",
        ast.Mult: "*",
        ast.Div: "/",
        ast.Pow: "**",
    }
)
_REFUSED_OPERATORS: Mapping[type, str] = MappingProxyType(
    {
        ast.Mod: "%",
        ast.FloorDiv: "//",
        ast.MatMult: "@",
        ast.LShift: "<<",
        ast.RShift: ">>",
        ast.BitXor: "^",
        ast.BitOr: "|",
        ast.BitAnd: "&",
        ast.Invert: "~",
        ast.Not: "not",
    }
)
_REFUSED_NODES: Mapping[type, str] = MappingProxyType(
    {
        ast.Attribute: "attribute access ('.')",
        ast.Subscript: "subscripts ('[...]')",
        ast.Lambda: "lambdas",
        ast.ListComp: "comprehensions",
        ast.SetComp: "comprehensions",
        ast.DictComp: "comprehensions",
        ast.GeneratorExp: "comprehensions",
        ast.Compare: "comparisons (a comparison is not a scalar expression)",
        ast.BoolOp: "boolean operators ('and', 'or')",
        ast.IfExp: "conditional expressions ('... if ... else ...')",
        ast.NamedExpr: "assignments (':=')",
        ast.List: "lists",
        ast.Tuple: "tuples",
        ast.Set: "sets",
        ast.Dict: "dictionaries",
        ast.JoinedStr: "strings",
        ast.Starred: "starred arguments",
        ast.Await: "await",
        ast.Yield: "yield",
        ast.YieldFrom: "yield",
        ast.Slice: "slices",
    }
)


class _Builder:
    """Builds the SymPy expression from a checked tree (depth ≤ MAX_NESTING, so recursion is
    bounded)."""

    def __init__(self, text: str) -> None:
        self.text = text.strip()
        self.variable: str | None = None

    def refuse(self, what: str) -> RefusedExpressionError:
        return _refuse(self.text, what)

    def build(self, node: ast.AST) -> sp.Expr:
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        what = _REFUSED_NODES.get(type(node), f"the construct {type(node).__name__}")
        raise self.refuse(f"{what} not allowed")

    def number(self, node: ast.Constant) -> sp.Expr:
        why = _constant_refusal(node, self.text)
        if why:
            raise self.refuse(why)
        value = node.value
        if isinstance(value, int):
            return sp.Integer(value)
        segment = ast.get_source_segment(self.text, node) or repr(value)
        try:
            return sp.Rational(Fraction(segment.replace("_", "")))
        except (ValueError, ZeroDivisionError):
            return sp.Rational(Fraction(value))

    def name(self, identifier: str) -> sp.Expr:
        why = _name_refusal(identifier)
        if why:
            raise self.refuse(why)
        if identifier in CONSTANTS:
            return CONSTANTS[identifier]
        why = _second_variable_refusal(self.variable, identifier)
        if why:
            raise self.refuse(why)
        self.variable = identifier
        return sp.Symbol(identifier, real=True)

    def unary(self, node: ast.UnaryOp) -> sp.Expr:
        if isinstance(node.op, ast.USub):
            return -self.build(node.operand)
        if isinstance(node.op, ast.UAdd):
            return self.build(node.operand)
        raise self.refuse(f"the operator {_REFUSED_OPERATORS.get(type(node.op), '?')!r}")

    def binary(self, node: ast.BinOp) -> sp.Expr:
        kind = type(node.op)
        if kind not in _BINARY:
            raise self.refuse(f"the operator {_REFUSED_OPERATORS.get(kind, kind.__name__)!r}")
        group = _chain_class(node)
        if group is None:
            return self.power(self.build(node.left), self.build(node.right))
        # A chain a ± b ± c … (or a * b / c …) is walked along its left spine, not recursively.
        links: list[tuple[type, ast.AST]] = []
        head: ast.AST = node
        while _chain_class(head) == group:
            links.append((type(head.op), head.right))
            head = head.left
        items = [self.build(head)]
        for op, right in reversed(links):
            value = self.build(right)
            if op is ast.Sub:
                value = -value
            elif op is ast.Div:
                value = 1 / value
            items.append(value)
        return sp.Add(*items) if group is _ADDITIVE else sp.Mul(*items)

    def power(self, base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
        if exponent.is_Number:
            if abs(exponent) > MAX_EXPONENT:
                raise self.refuse(
                    f"the exponent {_short(str(exponent))} exceeds the limit |n| ≤ {MAX_EXPONENT}"
                )
            if base.is_Rational and base != 0:
                magnitude = math.log10(abs(base.p)) - math.log10(base.q)
                digits = abs(float(exponent)) * abs(magnitude)
                if digits > MAX_DIGITS:
                    raise self.refuse(f"a power of numbers with about {digits:.0f} digits")
        elif exponent.is_number and exponent.free_symbols == set():
            magnitude = sp.Abs(exponent).evalf(15)
            if magnitude.is_Number and magnitude > MAX_EXPONENT:
                raise self.refuse(
                    f"the exponent {_short(str(exponent))} exceeds |n| ≤ {MAX_EXPONENT}"
                )
        return sp.Pow(base, exponent)

    def call(self, node: ast.Call) -> sp.Expr:
        why = _call_refusal(node)
        if why:
            raise self.refuse(why)
        assert isinstance(node.func, ast.Name)  # for the type checker: _call_refusal saw to it
        name = node.func.id
        return FUNCTIONS[name](*[self.build(a) for a in node.args])


def check_exponentials(expr: sp.Basic, name: str) -> None:
    """Refuse an exp, sinh or cosh of a constant beyond |a| ≤ :data:`MAX_EXPONENT` in ``expr``
    (``name`` is the text or name shown), as the power limit refuses E**a: e^(8e30) has no place
    in any computation here, and SymPy's polynomial and number-identification code ended in a
    bare ValueError or OverflowError on it (silu(8e30) is 8e30/(1 + exp(-8e30))).

    Raises:
        RefusedExpressionError: such an exponential, named.
    """
    for node in expr.atoms(sp.exp, sp.sinh, sp.cosh):
        argument = node.args[0]
        if argument.free_symbols or not argument.is_number:
            continue
        magnitude = sp.Abs(argument).evalf(15)
        if magnitude.is_Number and magnitude > MAX_EXPONENT:
            raise _refuse(
                name,
                f"{_short(str(node))} is an exponential of a constant beyond |a| ≤ {MAX_EXPONENT}",
            )


def check_expression_limits(expr: sp.Basic, name: str) -> None:
    """Apply the parser's size limits to an expression built elsewhere (a SymPy object given to
    the API): at most :data:`MAX_TERMS` atoms, no numeric exponent beyond :data:`MAX_EXPONENT` and
    no exponential of a constant beyond it (:func:`check_exponentials`).

    Raises:
        RefusedExpressionError: a limit is exceeded (the message names it).
    """
    atoms = sum(1 for _ in sp.preorder_traversal(expr) if not _.args)
    if atoms > MAX_TERMS:
        raise _refuse(name, f"more than {MAX_TERMS} terms (numbers, names and calls)")
    for power in expr.atoms(sp.Pow):
        exponent = power.exp
        if exponent.is_Number and abs(exponent) > MAX_EXPONENT:
            raise _refuse(
                name, f"the exponent {_short(str(exponent))} exceeds the limit |n| ≤ {MAX_EXPONENT}"
            )
    check_exponentials(expr, name)


def as_expression(value: object, what: str = "expression") -> sp.Expr:
    """``value`` as a SymPy object without ever parsing text: SymPy expressions and numbers pass;
    a string is refused (text goes through :func:`parse_expression`, e.g. via
    ``symescape.activation``), as is anything SymPy has no explicit conversion for.

    Raises:
        ConfigurationError: ``value`` is a string or not convertible.
    """
    if isinstance(value, str):
        raise ConfigurationError(
            f"{what} must be a SymPy expression or a number, not the text {value[:60]!r}; "
            "parse text with symescape.activation(...) (the safe parser)"
        )
    try:
        return sp.sympify(value, strict=True)
    except sp.SympifyError:
        raise ConfigurationError(
            f"{what} must be a SymPy expression or a number, got {type(value).__name__}"
        ) from None
