"""Typed options shared across layers: constants of the setting and Enums that strings become.

Strings from the command line or a configuration file are converted to these at the boundary
(``Enum(value)``), so nothing below the CLI compares option strings.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable
from enum import Enum
from functools import lru_cache, wraps
from typing import Any, TypeVar

import numpy as np

from symescape.errors import ConfigurationError

Result = TypeVar("Result")

RHO_STAR = 0.5
"""The default escape threshold ρ* of the product criterion: the geometric mean P^{1/L} of the
layer scales reaches ρ* (MATH.md §6)."""


class Backend(Enum):
    """Where a generated kernel evaluates: NumPy arrays (double precision), mpmath numbers, or
    JAX arrays traced into compiled code (the compiled training engine)."""

    NUMPY = "numpy"
    MPMATH = "mpmath"
    JAX = "jax"


class OutputFormat(Enum):
    """How a command prints its result."""

    TABLE = "table"
    JSON = "json"
    LATEX = "latex"


MAX_CHAIN_DEPTH = 100
"""The deepest scalar chain f(s) = X_L σ(… σ(X_1 s)) the symbolic layer builds: its expressions
nest σ L times, and at L = 128 SymPy and the code generation exceed Python's recursion limit
(L = 100: an escape time in 8 s). Full networks (training, escape directions) have no limit."""


def validate_chain_depth(depth: int) -> int:
    """The depth L of a scalar chain: an int in 1 … :data:`MAX_CHAIN_DEPTH`.

    Raises:
        ConfigurationError: L is not an integer, or outside that range.
    """
    depth = validate_depth(depth)
    if depth > MAX_CHAIN_DEPTH:
        raise ConfigurationError(
            f"depth {depth} is beyond the {MAX_CHAIN_DEPTH} layers of the symbolic scalar chain "
            "(its expressions nest σ L times; deeper ones exceed Python's recursion limit)"
        )
    return depth


def validate_depth(depth: int) -> int:
    """The depth L as an int ≥ 1 (MATH.md §0: L is the number of weight matrices).

    Raises:
        ConfigurationError: L is not an integer, or L < 1.

    >>> validate_depth(4)
    4
    """
    if not _is_integral(depth) or int(depth) < 1:
        raise ConfigurationError(f"depth must be an integer ≥ 1, got {depth!r}")
    return int(depth)


def require_real(
    value: object,
    name: str,
    *,
    minimum: float | None = None,
    strict: bool = False,
    allow_inf: bool = False,
) -> float:
    """``value`` as a float, checked at a public entry point.

    Arguments:
        value: what the caller passed.
        name: the argument's name, for the message.
        minimum: the smallest allowed value (None: no bound); ``strict``: the bound is excluded.
        allow_inf: accept +inf (never NaN).

    Raises:
        ConfigurationError: a string, bool, None or other non-number, NaN, an infinity not
            allowed, or a value below the bound; the message names the argument.

    >>> require_real(0.5, "eps", minimum=0, strict=True)
    0.5
    """
    if isinstance(value, bool) or not isinstance(value, int | float) and not _is_real_scalar(value):
        raise ConfigurationError(
            f"{name} must be a real number, got {value!r} of type {type(value).__name__}"
        )
    try:
        number = float(value)
    except OverflowError:  # an int beyond the doubles (10**400)
        raise ConfigurationError(f"{name} must be a finite number, got {value!r}") from None
    if math.isnan(number) or (math.isinf(number) and not allow_inf):
        kind = "a number (inf allowed, not NaN)" if allow_inf else "a finite number"
        raise ConfigurationError(f"{name} must be {kind}, got {number!r}")
    if minimum is not None and (number < minimum or (strict and number == minimum)):
        bound = ">" if strict else "≥"
        raise ConfigurationError(f"{name} must be {bound} {minimum:g}, got {number!r}")
    return number


def require_real_array(value: object, name: str, *, finite: bool = True) -> np.ndarray:
    """``value`` (an array, or nested sequences of numbers) as a float array, checked at a
    public entry point: no text is read as a number (np.asarray turns "0.01" into 0.01), and
    no complex entry loses its imaginary part.

    Raises:
        ConfigurationError: None, a string or bytes (alone or inside), a bool, a complex or
            other non-real entry; with ``finite``, NaN or ±inf. The message names the argument.

    >>> require_real_array([[0.5, 1], [2, 3.0]], "nodes").shape
    (2, 2)
    """
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf":
        array = value.astype(float, copy=False)
    else:
        if value is None or isinstance(value, str | bytes):
            raise ConfigurationError(f"{name} must be real numbers, got {value!r:.60}")
        try:
            entries = np.asarray(value, dtype=object)
        except ValueError as exc:  # ragged nesting
            raise ConfigurationError(f"{name} must be a regular array of numbers: {exc}") from None
        bad = [
            v
            for v in entries.reshape(-1)
            if isinstance(v, bool) or not (isinstance(v, numbers.Real) or _is_real_scalar(v))
        ]
        if bad:
            raise ConfigurationError(
                f"{name} must be real numbers, got {bad[0]!r:.40} of type {type(bad[0]).__name__}"
            )
        array = entries.astype(float)
    if finite and not np.all(np.isfinite(array)):
        raise ConfigurationError(f"{name} must be finite; it contains NaN or ±inf")
    return array


Choice = TypeVar("Choice", bound=Enum)


def require_choice(kind: type[Choice], value: object, name: str) -> Choice:
    """``value`` as a member of the Enum ``kind`` (a member or its string value).

    Raises:
        ConfigurationError: any other value; the message names the argument and the choices
            (a bare ``ValueError: 'hinge' is not a valid LossKind`` listed none).

    >>> require_choice(Backend, "jax", "backend").name
    'JAX'
    """
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(repr(member.value) for member in kind)
        raise ConfigurationError(f"{name} must be one of {choices}; got {value!r}") from None


def validate_rho_star(rho_star: object) -> float:
    """The product threshold ρ* (MATH.md §6) as a finite float > 0.

    Raises:
        ConfigurationError: not a real number, NaN, infinite, or ≤ 0.

    >>> validate_rho_star(0.5)
    0.5
    """
    return require_real(rho_star, "rho_star", minimum=0.0, strict=True)


def _is_integral(value: object) -> bool:
    """An integer: Python's or NumPy's (a loop over np.arange), or an integral float (3.0);
    not a bool, NaN, inf or 4.5."""
    if isinstance(value, bool):
        return False
    return isinstance(value, numbers.Integral) or (
        _is_real_scalar(value) and float(value).is_integer()
    )


def _is_real_scalar(value: object) -> bool:
    """NumPy and mpmath real scalars (anything with __float__ that is not complex or a string)."""
    if isinstance(value, str | bytes | complex) or not hasattr(value, "__float__"):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not getattr(value, "shape", ())


def require_int(value: object, name: str, *, minimum: int | None = None) -> int:
    """``value`` as an int (an integral float such as 3.0 is accepted), at least ``minimum``.

    Raises:
        ConfigurationError: not an integer, or below ``minimum``; the message names the argument.

    >>> require_int(3, "order", minimum=0)
    3
    """
    if not _is_integral(value):
        raise ConfigurationError(
            f"{name} must be an integer, got {value!r} of type {type(value).__name__}"
        )
    number = int(value)
    if minimum is not None and number < minimum:
        raise ConfigurationError(f"{name} must be ≥ {minimum}, got {number}")
    return number


def hashable_cache(maxsize: int) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """``functools.lru_cache(maxsize)`` for a public entry point: an unhashable argument (a list
    where a name or an expression belongs) is a :class:`ConfigurationError` naming it, not
    ``TypeError: unhashable type``. ``cache_clear`` and ``cache_info`` are kept."""

    def decorate(function: Callable[..., Result]) -> Callable[..., Result]:
        cached = lru_cache(maxsize=maxsize)(function)

        @wraps(function)
        def checked(*args: Any, **kwargs: Any) -> Result:
            try:
                return cached(*args, **kwargs)
            except TypeError:
                # only now look for the culprit: hashing every argument on each (cached) call
                # would repeat lru_cache's own work on a hot path
                for value in (*args, *kwargs.values()):
                    try:
                        hash(value)
                    except TypeError:
                        raise ConfigurationError(
                            f"{function.__name__}: got {value!r:.60} of type "
                            f"{type(value).__name__}; give a name, an expression string, a "
                            "SymPy expression or a number"
                        ) from None
                raise  # a TypeError from the function itself

        checked.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        checked.cache_info = cached.cache_info  # type: ignore[attr-defined]
        return checked

    return decorate


def machine_memory() -> int | None:
    """Physical memory of the machine in bytes (None where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(estimate_bytes: float, what: str) -> None:
    """Refuse, before allocating, work whose memory estimate exceeds the machine's memory.

    Raises:
        ConfigurationError: the estimate exceeds physical memory; the message gives both.
    """
    total = machine_memory()
    if total is not None and estimate_bytes > total:
        raise ConfigurationError(
            f"{what} needs about {_gigabytes(estimate_bytes)} of memory, more than this machine's "
            f"{_gigabytes(total)}; use smaller sizes"
        )


def _gigabytes(count: float) -> str:
    return f"{count / 2**30:.3g} GiB"
