"""Time budgets for steps that can run for ever (a SymPy series, simplification or integral).

    with time_budget("Taylor expansion of σ = tanh(z)"):
        ...  # raises TimeBudgetError naming the step once the budget is spent

Budgets nest: an inner budget never outlives the outer one, and the error names the budget that
ran out. The clock is ``SIGALRM`` (``setitimer``), so a budget is enforced only in the main thread
of a POSIX process; elsewhere (worker threads, Windows) the block runs without a limit. A step
blocked inside one C call (a huge integer power) is interrupted only when that call returns.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from symescape.errors import ConfigurationError, TimeBudgetError

DEFAULT_SYMBOLIC_SECONDS = 120.0
"""The budget of one symbolic step when the caller gives none (see :func:`default_budget`)."""

_default_seconds: list[float] = [DEFAULT_SYMBOLIC_SECONDS]


@dataclass(frozen=True)
class _Deadline:
    step: str
    seconds: float
    at: float  # time.monotonic() value at which the budget is spent


_active: list[_Deadline] = []
_fired: set[int] = set()  # id() of each active deadline whose alarm has gone off

RETRY_SECONDS = 0.25
"""After a budget runs out, the alarm repeats at this interval until its block is left."""


def budgets_enforced() -> bool:
    """True where a budget can interrupt a step: the main thread of a POSIX process."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _check_seconds(seconds: float) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ConfigurationError(f"a time budget must be a number of seconds, got {seconds!r}")
    if math.isnan(seconds) or seconds <= 0:
        raise ConfigurationError(f"a time budget must be > 0 seconds (or inf), got {seconds!r}")
    return float(seconds)


def _on_alarm(signum: int, frame: object) -> None:  # noqa: ARG001 (signal handler signature)
    now = time.monotonic()
    expired = [d for d in _active if d.at <= now + 1e-3]
    if not expired:  # a stale alarm: re-arm for the earliest live deadline
        _arm()
        return
    first = min(expired, key=lambda d: d.at)
    _fired.update(id(d) for d in expired)
    # SymPy catches ValueError (which TimeBudgetError is) in places; fire again until the
    # budgeted block is left, so a swallowed alarm cannot let the step run for ever.
    signal.setitimer(signal.ITIMER_REAL, RETRY_SECONDS)
    raise _budget_error(first)


def _budget_error(deadline: _Deadline) -> TimeBudgetError:
    return TimeBudgetError(
        f"{deadline.step}: stopped after its time budget of {deadline.seconds:g} s; the input "
        "is too large or too hard for the exact route (simplify it, or raise the budget: "
        "symescape --budget SECONDS, or symescape.symbolic.budget.default_budget)",
        deadline.step,
        deadline.seconds,
    )


def _arm() -> None:
    if not _active:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    earliest = min(d.at for d in _active)
    signal.setitimer(signal.ITIMER_REAL, max(earliest - time.monotonic(), 1e-3))


@contextmanager
def time_budget(step: str, seconds: float | None = None) -> Iterator[None]:
    """Run the block with at most ``seconds`` of wall time (default: :func:`current_default`).

    Arguments:
        step: what the block does, for the message ("Taylor expansion of σ = …").
        seconds: the budget, > 0; ``inf`` means no limit.

    Raises:
        TimeBudgetError: the block (or an enclosing budgeted block) ran out of time.
        ConfigurationError: ``seconds`` is not a number > 0.
    """
    seconds = current_default() if seconds is None else _check_seconds(seconds)
    if math.isinf(seconds) or not budgets_enforced():
        yield
        return
    deadline = _Deadline(step, seconds, time.monotonic() + seconds)
    previous = signal.getsignal(signal.SIGALRM) if not _active else None
    if not _active:
        signal.signal(signal.SIGALRM, _on_alarm)
    _active.append(deadline)
    _arm()
    try:
        yield
        # The alarm's exception can be swallowed where it lands (a gc callback, a library's
        # ``except Exception``); a block whose alarm went off still ends in the budget error,
        # so the outcome does not depend on where the signal arrived.
        if id(deadline) in _fired:
            raise _budget_error(deadline)
    except TimeBudgetError:
        raise
    except Exception as exc:
        # Code that catches the alarm's ValueError may raise something else in its place (a
        # SymPy routine turning it into its own error); past the deadline, that is the budget.
        if time.monotonic() >= deadline.at:
            raise _budget_error(deadline) from exc
        raise
    finally:
        _active.remove(deadline)
        _fired.discard(id(deadline))
        _arm()
        if not _active and previous is not None:
            signal.signal(signal.SIGALRM, previous)


def current_default() -> float:
    """The budget used when :func:`time_budget` is given none."""
    return _default_seconds[-1]


@contextmanager
def default_budget(seconds: float) -> Iterator[None]:
    """Change the default budget of every budgeted step inside the block (``inf``: no limit).

    >>> with default_budget(5.0):
    ...     current_default()
    5.0
    """
    _default_seconds.append(_check_seconds(seconds))
    try:
        yield
    finally:
        _default_seconds.pop()
