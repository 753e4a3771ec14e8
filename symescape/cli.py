"""Command-line interface: a thin layer over the public API.

Strings from the command line are converted to API objects here and nowhere else.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from typing import Any

import click

from symescape.errors import (
    ClosedFormFallbackWarning,
    ConfigurationError,
    NoLinearPathError,
    OutsideHypothesisError,
    SymescapeError,
    fallback_notes,
    one_line,
)
from symescape.options import check_memory, require_int, require_real
from symescape.reports.tables import (
    classification_latex,
    classification_record,
    classification_table,
)
from symescape.symbolic.classification import classify as classify_activation
from symescape.symbolic.constants import escape_constants
from symescape.version import __version__


class _DomainError(click.ClickException):
    exit_code = 2

    def format_message(self) -> str:
        return self.message


def _one_format(as_json: bool, as_latex: bool) -> None:
    """--json and --latex are two outputs of one result: refused together, not one dropped."""
    if as_json and as_latex:
        raise _DomainError("--json and --latex are two formats of one output: choose one")


def _ignored_options(ctx: click.Context, names: tuple[str, ...], route: str) -> None:
    """Refuse options the user set that ``route`` does not use (rather than ignore them)."""
    given = [
        "--" + name.replace("_", "-")
        for name in names
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    ]
    if given:
        verb = "does" if len(given) == 1 else "do"
        raise _DomainError(f"{', '.join(given)} {verb} not apply to {route}")


class _SafeGroup(click.Group):
    """The one place where library errors become one-line messages: SymescapeError (and the
    numerical ArithmeticError, MemoryError, RecursionError) and click's usage errors exit 2
    with a single line, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.showwarning = fallback_notes(warnings.showwarning)
                warnings.simplefilter("always", ClosedFormFallbackWarning)
                return super().invoke(ctx)
        except _DomainError:
            raise
        except click.NoSuchOption as exc:
            # 'classify -x': an activation that starts with '-' reads as an option
            name = ctx.invoked_subcommand
            command = self.get_command(ctx, name) if name else None
            takes_argument = command is not None and any(
                isinstance(p, click.Argument) for p in command.params
            )
            message = one_line(exc.format_message()).rstrip(".")
            if takes_argument and not exc.option_name.startswith("--"):
                message += (
                    f"; an argument that starts with '-' goes after '--': "
                    f"symescape {name} -- '{exc.option_name}'"
                )
            raise _DomainError(message) from None
        except click.UsageError as exc:
            raise _DomainError(one_line(exc.format_message())) from None
        except SymescapeError as exc:
            raise _DomainError(one_line(str(exc))) from None
        except (ArithmeticError, RecursionError) as exc:
            raise _DomainError(
                f"numerical failure ({type(exc).__name__}): {one_line(str(exc))}"
            ) from None
        except MemoryError:
            raise _DomainError("out of memory: use smaller sizes") from None


def _fraction(text: object) -> float | None:
    """'5/2' as 2.5 (the tool prints exact amplitudes so; Fraction parses, never evaluates)."""
    from fractions import Fraction

    try:
        return float(Fraction(str(text).strip()))
    except (ValueError, ZeroDivisionError, OverflowError):
        return None


class _Real(click.ParamType):
    """A float option checked by :func:`require_real` (finite unless ``allow_inf``)."""

    name = "number"

    def __init__(self, minimum: float | None, strict: bool, allow_inf: bool = False) -> None:
        self.minimum, self.strict, self.allow_inf = minimum, strict, allow_inf

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, float):
            number = value
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = _fraction(value)
                if number is None:
                    self.fail(f"{value!r} is not a number", param, ctx)
            if number == 0 and any(c in "123456789" for c in str(value).lower().split("e")[0]):
                # '1e-400' is a positive number that a double reads as 0
                self.fail(f"{value} underflows to 0 in double precision", param, ctx)
        try:
            name = param.opts[0] if param is not None and param.opts else "the value"
            return require_real(
                number, name, minimum=self.minimum, strict=self.strict, allow_inf=self.allow_inf
            )
        except ConfigurationError as exc:
            self.fail(str(exc), param, ctx)


FINITE = _Real(None, strict=False)
"""Any finite number."""
POSITIVE = _Real(0.0, strict=True)
"""Finite and > 0 (tolerances, scales, amplitudes)."""
NON_NEGATIVE_TIME = _Real(0.0, strict=False, allow_inf=True)
"""≥ 0, not NaN (time budgets; inf means none)."""


class _Int(click.ParamType):
    """An integer option of at least ``minimum``, checked by :func:`require_int`."""

    name = "integer"

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        name = param.opts[0] if param is not None and param.opts else "the value"
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                self.fail(f"{name} must be an integer ≥ {self.minimum}, got {value!r}", param, ctx)
        try:
            return require_int(value, name, minimum=self.minimum)
        except ConfigurationError as exc:
            self.fail(str(exc), param, ctx)


SIZE = _Int(1)
"""Depths, widths, batch sizes, sample and restart counts: integers ≥ 1."""
SEED = _Int(0)
"""Random seeds: integers ≥ 0."""
SEED_COUNT = _Int(0)
"""Counts that may be zero (extra search starts)."""


def _emit_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, allow_nan=False, ensure_ascii=False))


@click.group(cls=_SafeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="symescape")
@click.option(
    "--budget",
    type=_Real(0.0, strict=True, allow_inf=True),
    default=None,
    help="Time budget in seconds of each symbolic step (series, simplification, exact "
    "integral; inf: none) [default: 120].",
)
@click.pass_context
def main(ctx: click.Context, budget: float | None) -> None:
    """symescape: saddle escape in deep nonlinear networks, exact where possible."""
    if budget is not None:
        from symescape.symbolic.budget import default_budget

        ctx.with_resource(default_budget(budget))


@main.command()
@click.argument("activation_spec", metavar="ACTIVATION")
@click.option("--depth", type=SIZE, default=None, help="Depth L: also print K and κ.")
@click.option(
    "--amplitude", type=POSITIVE, default=1.0, show_default=True, help="Teacher amplitude a."
)
@click.option(
    "--order",
    type=click.IntRange(1, 64),
    default=7,
    show_default=True,
    help="Order of the printed Taylor polynomial.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--latex", "as_latex", is_flag=True, help="Print a LaTeX table.")
def classify(
    activation_spec: str,
    depth: int | None,
    amplitude: float,
    order: int,
    as_json: bool,
    as_latex: bool,
) -> None:
    """Classify ACTIVATION (a registry name or an expression such as 'x*tanh(x)')."""
    _one_format(as_json, as_latex)
    cls = classify_activation(activation_spec)
    constants, constants_error = None, None
    if depth is not None:
        try:
            constants = escape_constants(cls, depth, amplitude)
        except (NoLinearPathError, OutsideHypothesisError) as exc:
            constants_error = str(exc)
    if as_json:
        _emit_json(classification_record(cls, constants, order, constants_error))
    elif as_latex:
        click.echo(classification_latex(cls, constants, order))
    else:
        click.echo(classification_table(cls, constants, order))
        if constants_error:
            click.echo(f"\nK, κ: {constants_error}")


@main.command()
@click.option(
    "--activation",
    "activation_spec",
    default="tanh",
    show_default=True,
    help="Activation name or expression.",
)
@click.option(
    "--depth",
    type=_Int(2),  # the identity relates layers l and l+1 ('≥ 1', then 'needs ≥ 2', confused)
    default=4,
    show_default=True,
    help="Depth L (≥ 2).",
)
@click.option("--width", type=SIZE, default=8, show_default=True, help="Hidden width N.")
@click.option("--input-dim", type=SIZE, default=6, show_default=True, help="Input dimension D.")
@click.option(
    "--loss",
    "loss_name",
    type=click.Choice(["squared", "logistic"]),
    default="squared",
    show_default=True,
)
@click.option("--batch", type=SIZE, default=32, show_default=True, help="Batch size.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def identity(
    activation_spec: str,
    depth: int,
    width: int,
    input_dim: int,
    loss_name: str,
    batch: int,
    seed: int,
    as_json: bool,
) -> None:
    """Check the imbalance identity (scalar, matrix, preconditioned) on a random network."""
    from symescape.experiments.imbalance import random_identity_check

    parameters = input_dim * width + max(depth - 2, 0) * width**2 + width
    check_memory(8 * (4 * parameters + 8 * batch * width * depth + 4 * width**2), "identity")
    check = random_identity_check(activation_spec, depth, width, input_dim, loss_name, batch, seed)
    measured, underflowed = _measurable_error(check)
    layers = [
        {
            "layer": c.layer,
            "lhs": float(c.lhs),
            "rhs": float(c.rhs),
            "abs_error": float(c.abs_error),
            "rel_error": float(c.rel_error),
            "preconditioned_abs_error": float(p.abs_error),
        }
        for c, p in zip(check.scalar, check.preconditioned, strict=True)
    ]
    if as_json:
        _emit_json(
            {
                "activation": activation_spec,
                "depth": depth,
                "width": width,
                "input_dim": input_dim,
                "loss": loss_name,
                "batch": batch,
                "seed": seed,
                "layers": layers,
                "matrix_max_abs_error": float(check.matrix_max_abs_error),
                "max_rel_error": measured,
                "underflowed_identities": underflowed,
            }
        )
        if measured is None:
            sys.exit(1)
        return
    click.echo(
        f"imbalance identity: {activation_spec}, L={depth}, N={width}, D={input_dim}, "
        f"{loss_name} loss, batch {batch}, seed {seed}"
    )
    click.echo(
        f"{'pair':>6} {'d/dt imbalance (lhs)':>22} {'2E[bᵀφ(z)] (rhs)':>22} {'abs error':>10}"
    )
    for row in layers:
        click.echo(
            f"{row['layer']:>3},{row['layer'] + 1:<2} {row['lhs']:>22.15e} "
            f"{row['rhs']:>22.15e} {row['abs_error']:>10.2e}"
        )
    if underflowed:
        click.echo(
            f"{underflowed} identities have terms below the smallest normal double "
            f"({_TINY:.1e}): they underflowed, so their relative error is not measured"
        )
    if measured is None:
        click.echo("no identity could be measured (every one underflowed); use a smaller depth")
        sys.exit(1)
    click.echo(
        f"matrix form: max abs error {check.matrix_max_abs_error:.2e}; "
        f"max relative error over all measurable forms {measured:.2e}"
    )


_TINY = 2.2250738585072014e-308  # the smallest normal double


def _measurable_error(check: Any) -> tuple[float | None, int]:
    """The largest relative error over the identities whose terms are normal doubles, and the
    number of identities that underflowed (terms below the smallest normal double)."""
    forms = list(check.scalar) + list(check.preconditioned)
    errors = [float(c.rel_error) for c in forms if c.scale >= _TINY]
    if check.matrix_scale >= _TINY:
        errors.append(float(check.matrix_max_abs_error / check.matrix_scale))
    underflowed = sum(1 for c in forms if c.scale < _TINY) + (check.matrix_scale < _TINY)
    return (max(errors) if errors else None), int(underflowed)


@main.command()
@click.argument("names", nargs=-1)
@click.option("--quick", is_flag=True, help="Smaller problems (a smoke run).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def bench(names: tuple[str, ...], quick: bool, as_json: bool) -> None:
    """Time fast paths against baselines measured in the same run; print the ratios.

    NAMES: any of train, ensemble, escape-ode, kernel, relu-solver, precise-ode, series
    (default: all)."""
    from symescape.reports.bench import format_results, results_record, run_benchmarks

    results = run_benchmarks(list(names) or None, quick=quick)
    if as_json:
        _emit_json({"benchmarks": results_record(results)})
    else:
        click.echo(format_results(results))


def _parse_scales(text: str) -> list[float]:
    if any(not part.strip() for part in text.split(",")):
        raise _DomainError(f"--scales has an empty entry: {text!r}")
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise _DomainError(f"--scales must be comma-separated numbers, got {text!r}") from None
    return [require_real(v, "--scales entry", minimum=0.0, strict=True) for v in values]


@main.command()
@click.option("--activation", "activation_spec", default="tanh", show_default=True)
@click.option("--depth", type=SIZE, required=True, help="Depth L.")
@click.option("--eps", type=POSITIVE, default=None, help="Balanced start: every X_l = ε.")
@click.option("--scales", default=None, help="Initial scales s1,...,sL (comma-separated).")
@click.option("--amplitude", type=FINITE, default=1.0, show_default=True)
@click.option(
    "--criterion",
    default="product:0.5",
    show_default=True,
    help="product:RHO (geometric mean reaches RHO) or loss:FRACTION.",
)
@click.option(
    "--method",
    type=click.Choice(["fast", "lsoda", "series"]),
    default="fast",
    show_default=True,
    help="fast: the reduced ODE in log variables, T to rtol; lsoda: SciPy's LSODA in physical "
    "time, the bench's baseline, whose rtol bounds each step's error, not T's (gelu, L = 5, "
    "a = 0.3: T off by 5.8e-9 at rtol 1e-10); series: the escape-time expansion (Theorem 16) "
    "with its constant; from unequal --scales, its local terms come from the time function Θ "
    "and the constant from the ODE along the same ray.",
)
@click.option("--rtol", type=POSITIVE, default=1e-10, show_default=True)
@click.option(
    "--max-time", type=NON_NEGATIVE_TIME, default=float("inf"), help="Time budget of the ODE."
)
@click.option(
    "--precision",
    type=int,
    default=None,
    help="Integrate the exact ODE in mpmath at this many digits (15-200).",
)
@click.option("--json", "as_json", is_flag=True)
def escape(
    activation_spec: str,
    depth: int,
    eps: float | None,
    scales: str | None,
    amplitude: float,
    criterion: str,
    method: str,
    rtol: float,
    max_time: float,
    precision: int | None,
    as_json: bool,
) -> None:
    """Escape time from the exact reduced ODE, with the leading-order and corrected quadratures."""
    import numpy as np

    if precision is not None or method == "series":
        ctx = click.get_current_context()
        route = "the mpmath ODE (--precision)" if method != "series" else "--method series"
        _ignored_options(ctx, ("rtol", "max_time"), route)
        if precision is not None and method != "series":
            _ignored_options(ctx, ("method",), "the mpmath ODE (--precision)")
        _escape_precise_or_series(
            activation_spec, depth, eps, scales, amplitude, criterion, method, precision, as_json
        )
        return

    from symescape.numeric.escape import (
        EscapeCriterion,
        escape_times,
        validate_rtol,
        validate_scales,
    )
    from symescape.numeric.reduced import reduced_model

    if (eps is None) == (scales is None):
        raise _DomainError("give exactly one of --eps and --scales")
    check_memory(8 * 256 * depth, f"escape at depth {depth}")
    parsed_criterion = EscapeCriterion.parse(criterion)
    values = np.full(depth, eps) if eps is not None else np.array(_parse_scales(scales))
    validate_scales(values, depth, parsed_criterion)  # before the model's symbolic work
    validate_rtol(rtol)
    model = reduced_model(activation_spec, depth, amplitude)
    _warn_outside_hypothesis(activation_spec)
    report = escape_times(
        model, values, parsed_criterion, method=method, rtol=rtol, max_time=max_time
    )
    record = {**report.record(), "activation": activation_spec}
    if as_json:
        _emit_json(record)
        if not report.ode.escaped:
            sys.exit(1)
        return
    for key in (
        "activation",
        "depth",
        "scales",
        "criterion",
        "method",
        "status",
        "time_ode",
        "time_leading",
        "time_corrected",
        "K",
        "kappa",
        "evaluations",
    ):
        value = record[key]
        click.echo(f"{key:<15} {value:.12g}" if isinstance(value, float) else f"{key:<15} {value}")
    if not report.ode.escaped:
        message = f"{report.ode.message} (time reached {report.ode.time_reached:.6g})"
        click.echo(f"{'message':<15} {message}")
    for note in report.notes:
        click.echo(f"note: {note}")
    if not report.ode.escaped:
        sys.exit(1)


@main.command()
@click.argument("activation_spec", metavar="ACT")
@click.option("--depth", type=SIZE, required=True, help="Depth L.")
@click.option("--order", type=int, default=2, show_default=True, help="Corrections kept.")
@click.option("--rho-star", type=POSITIVE, default=0.5, show_default=True, help="Threshold ρ*.")
@click.option("--amplitude", type=FINITE, default=1.0, show_default=True, help="Teacher a.")
@click.option(
    "--precision",
    type=int,
    default=None,
    help="Digits of the constant's integration (default: double precision).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--latex", "as_latex", is_flag=True, help="Print the expansion as LaTeX.")
def expand(
    activation_spec: str,
    depth: int,
    order: int,
    rho_star: float,
    amplitude: float,
    precision: int | None,
    as_json: bool,
    as_latex: bool,
) -> None:
    """The escape time's expansion from X(0) = ε𝟏 (Theorem 16): exact local terms, the log at a
    resonance, and the non-local constant (numeric)."""
    _one_format(as_json, as_latex)
    from symescape.numeric.precise_escape import (
        FALLBACK_DIGITS,
        expansion_constant,
        validate_digits,
    )
    from symescape.symbolic.normal_form import escape_expansion, expansion_latex, value_with_error

    if precision is not None:
        validate_digits(precision)  # before the expansion, which can take a while
    expansion = escape_expansion(
        activation_spec, depth, order=order, rho_star=rho_star, amplitude=amplitude
    )
    constant = expansion_constant(expansion, activation_spec, digits=precision, progress=True)
    if as_latex:
        # an undetermined C stays a symbol: its digits would be noise
        click.echo(
            expansion_latex(expansion, constant.value, constant.error)
            if constant.determined
            else expansion_latex(expansion)
        )
        return
    record = {
        "activation": activation_spec,
        "depth": depth,
        "rho_star": rho_star,
        "amplitude": amplitude,
        "order": order,
        "terms": [
            {
                "power": t.power,
                "log_power": t.log_power,
                "coefficient": float(t.value),
                "exact": None if t.exact is None else str(t.exact),
            }
            for t in expansion.terms
        ],
        "constant": constant.value,
        "constant_error": constant.error,
        "constant_note": (
            f"non-local: slow-manifold integration from ρ_0 = {constant.rho0:g} and "
            f"{constant.rho0 / 2:g}"
        ),
        "constant_digits": constant.digits,  # None: double precision
        "constant_determined": constant.determined,  # error < |C|
        "constant_fallback_digits": FALLBACK_DIGITS if constant.fallback else None,
        "remainder_power": expansion.remainder_power,
        "remainder_log_power": expansion.remainder_log_power,  # None: unresolved (non-local)
        "stops_at_nonlocal": expansion.stops_at_nonlocal,
        # class D: the reduced flow, and so every coefficient, is that of σ̃ = σ − σ(0)
        "centred": expansion.centred,
    }
    if as_json:
        _emit_json(record)
        return
    click.echo(f"T(ε) for {activation_spec}, L = {depth}, ρ* = {rho_star:g}, a = {amplitude:g}")
    for t in record["terms"]:
        log = f" ln(1/ε)^{t['log_power']}" if t["log_power"] else ""
        click.echo(f"  ε^{t['power']}{log}: {t['coefficient']:.15g}   = {t['exact']}")
    value, error = value_with_error(constant.value, constant.error)
    route = "double precision" if precision is None else f"{precision} digits"
    if constant.fallback:
        route += (
            f", runs in {FALLBACK_DIGITS}-digit mpmath where the double-precision field's "
            "round-off stopped the ODE"
        )
    if constant.determined:
        click.echo(f"  constant: {value} ± {error} (non-local, numeric: {route})")
    else:
        click.echo(
            f"  constant: undetermined ({value} ± {error}: the runs from ρ_0 and ρ_0/2 differ "
            f"by more than C; numeric: {route}); more digits: --precision DIGITS"
        )
    click.echo(f"  remainder: {expansion.remainder_text()}")
    if expansion.stops_at_nonlocal:
        click.echo(
            f"  order {order} asks for powers up to ε^{expansion.power_limit}; past "
            f"ε^{expansion.nonlocal_power} the terms are non-local (they depend on the whole "
            "flow, like C), so the expansion stops there and a higher order adds nothing"
        )
    sigma = "σ̃" if record["centred"] else "σ"
    if expansion.uses_moment_symbols:
        click.echo(
            f"  where m_j = E[{sigma}(s) s^j], s ~ N(0, 1) (kept as symbols: no closed form)"
        )
    if record["centred"]:
        click.echo("  class D: the flow, its coefficients and m_j are those of σ̃ = σ − σ(0)")


def _escape_precise_or_series(
    activation_spec: str,
    depth: int,
    eps: float | None,
    scales: str | None,
    amplitude: float,
    criterion: str,
    method: str,
    precision: int | None,
    as_json: bool,
) -> None:
    """``escape --precision DIGITS`` (the mpmath ODE) or ``escape --method series``."""
    import numpy as np

    from symescape.numeric.escape import EscapeCriterion, validate_scales
    from symescape.numeric.precise_escape import (
        escape_time_precise,
        escape_time_series,
        validate_digits,
    )
    from symescape.numeric.time_function import escape_time_series_general

    if (eps is None) == (scales is None):
        raise _DomainError("give exactly one of --eps and --scales")
    parsed = EscapeCriterion.parse(criterion)
    if getattr(parsed.kind, "value", parsed.kind) != "product":
        raise _DomainError("--precision and --method series use the product criterion")
    values = [eps] * depth if eps is not None else _parse_scales(scales)
    validate_scales(np.array(values), depth, parsed)
    digits = None if precision is None else validate_digits(precision)  # before any work
    record: dict[str, Any] = {
        "activation": activation_spec,
        "depth": depth,
        "scales": values,
        "criterion": str(parsed),
    }
    if method == "series" and len(set(values)) != 1:
        general = escape_time_series_general(
            activation_spec, depth, values, rho_star=parsed.value, amplitude=amplitude
        )
        record.update(
            method="series",
            time_series=general.time,
            eps=general.eps,
            direction=list(general.direction),
            terms=[
                {"power": p, "log_power": k, "coefficient": c} for p, k, c in general.terms
            ],
            local_terms=general.local,
            constant=general.constant,
            constant_error=general.constant_error,
            quadrature_error=general.quadrature_error,
            remainder_power=general.remainder_power,
        )
    elif method == "series":
        series = escape_time_series(
            activation_spec, depth, values[0], rho_star=parsed.value, amplitude=amplitude
        )
        record.update(
            method="series",
            time_series=series.time,
            local_terms=series.local,
            constant=series.constant,
            constant_error=series.constant_error,
            remainder_power=series.remainder_power,
        )
    if digits is not None:
        text = (
            [format(eps, ".17g")] * depth
            if eps is not None
            else scales.split(",")  # _parse_scales has checked every entry
        )
        result = escape_time_precise(
            activation_spec,
            depth,
            [t.strip() for t in text],
            rho_star=parsed.value,
            amplitude=amplitude,
            digits=digits,
            progress=True,
        )
        record.update(
            time_ode=result.decimal(),
            precision=digits,
            nodes=result.nodes,
            rule=result.rule,
            steps=result.steps,
            evaluations=result.evaluations,
        )
    if as_json:
        _emit_json(record)
        return
    for key, value in record.items():
        click.echo(f"{key:<15} {value:.15g}" if isinstance(value, float) else f"{key:<15} {value}")


def _workers_option(what: str) -> Any:
    """``--workers`` for a command whose independent jobs (``what``) run over processes."""
    return click.option(
        "--workers",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help=f"{what} run in this many processes at once (0: one per core; 1: one after another).",
    )


def _relu_network_options(
    depth: int, width: int, input_dim: int, outputs: int, samples: int
) -> Callable[[Callable], Callable]:
    """The network, sample and seed options shared by the ReLU commands (their defaults)."""
    options = [
        click.option("--depth", type=SIZE, default=depth, show_default=True, help="Depth L."),
        click.option("--width", type=SIZE, default=width, show_default=True, help="Width N."),
        click.option(
            "--input-dim", type=SIZE, default=input_dim, show_default=True, help="Input dim D."
        ),
        click.option("--outputs", type=SIZE, default=outputs, show_default=True, help="Outputs k."),
        click.option(
            "--samples", type=SIZE, default=samples, show_default=True, help="Gaussian inputs."
        ),
        click.option("--seed", type=SEED, default=0, show_default=True),
    ]

    def apply(function: Callable) -> Callable:
        for option in reversed(options):
            function = option(function)
        return function

    return apply


def _warn_outside_hypothesis(activation_spec: str) -> None:
    """Warn on stderr, as ``classify`` does, when σ is outside the classification's hypothesis."""
    try:
        cls = classify_activation(activation_spec)
    except SymescapeError:
        return
    if not cls.in_hypothesis:
        click.echo(
            f"warning: σ = {cls.activation.name} lies outside the hypothesis of the classification "
            "(MATH.md §3), so the escape theory's constants may not apply",
            err=True,
        )


@main.command()
@click.argument("ids", nargs=-1)
@click.option("--quick", is_flag=True, help="Smaller grids: under a minute on two cores.")
@click.option(
    "--thorough",
    is_flag=True,
    help="Also run the claims that take CPU-hours (thm16-thirty-digits: 30-digit sweeps).",
)
@click.option("--json", "as_json", is_flag=True, help='Print {"claims": [...]}.')
@click.option("--latex", "as_latex", is_flag=True, help="Print the table as LaTeX.")
@_workers_option("Claims")
def verify(
    ids: tuple[str, ...],
    quick: bool,
    thorough: bool,
    as_json: bool,
    as_latex: bool,
    workers: int,
) -> None:
    """Check every claim of the paper (or the named ones) and print a verdict table.

    Claims that take CPU-hours run only when named or with --thorough."""
    _one_format(as_json, as_latex)
    from symescape.experiments.verification import Verdict
    from symescape.experiments.verification import verify as run_claims
    from symescape.reports.tables import claims_latex, claims_table

    claims = run_claims(
        quick=quick,
        ids=list(ids) or None,
        progress=not (as_json or as_latex),
        thorough=thorough,
        workers=workers,
    )
    if as_json:
        _emit_json({"claims": [c.record() for c in claims]})
    elif as_latex:
        click.echo(claims_latex(claims))
    else:
        click.echo(claims_table(claims))
    if any(c.verdict is Verdict.FAIL for c in claims):
        sys.exit(1)


@main.command()
@click.argument("names", nargs=-1)
@click.option(
    "--out",
    default="symescape-figures",
    show_default=True,
    type=click.Path(),
    help="Output folder (figures, data, summaries, sweep points).",
)
@click.option("--quick", is_flag=True, help="Coarser grids and fewer seeds.")
@click.option("--latex", "as_latex", is_flag=True, help="Print the summaries as a LaTeX table.")
@_workers_option("Figures")
def reproduce(names: tuple[str, ...], out: str, quick: bool, as_latex: bool, workers: int) -> None:
    """Regenerate the paper's figures as PNG, PDF, JSON and a summary.

    NAMES: any of fig1, fig2, fig3, fig4, fig5, relu, or all."""
    from symescape.reports.figures import reproduce as run_figures
    from symescape.reports.figures import summaries_latex

    try:
        results = run_figures(
            list(names), out, quick=quick, workers=workers, progress=not as_latex
        )
    except OSError as exc:
        raise _DomainError(f"cannot write to {out!r}: {exc}") from None
    if as_latex:
        click.echo(summaries_latex(results))
        return
    for name, data in results.items():
        click.echo(f"{name}: {out}/{name}.png, .pdf, .json, .txt")
        for line in data["summary"]:
            click.echo(f"  {line}")


@main.command("escape-directions")
@_relu_network_options(depth=4, width=12, input_dim=8, outputs=1, samples=4000)
@click.option("--restarts", type=SIZE, default=8, show_default=True, help="Random starts.")
@click.option(
    "--activation",
    "activation_spec",
    default="relu",
    show_default=True,
    help="A positively homogeneous activation (relu, leaky_relu, linear, or an expression).",
)
@click.option(
    "--teacher",
    "teacher_spec",
    default="modes",
    show_default=True,
    help="modes[:a,…] (k = 1), linear:s1,s2, units:a1,a2, relu2:m=M, deep:rank=R,depth=D,width=W.",
)
@click.option(
    "--search-starts",
    type=SEED_COUNT,
    default=None,
    help="Gradient-flow and rank-2 starts each, besides the random ones [default: restarts].",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def escape_directions(
    depth: int,
    width: int,
    input_dim: int,
    restarts: int,
    activation_spec: str,
    samples: int,
    outputs: int,
    teacher_spec: str,
    search_starts: int | None,
    seed: int,
    as_json: bool,
) -> None:
    """Escape directions of a deep homogeneous (ReLU) network from the origin: every distinct
    local maximum of g(θ) = E[yᵀ f_θ] on the unit sphere (random, gradient-flow and rank-2
    starts) and the best; singular values per layer vs l^{1/4}."""
    from symescape.experiments.escape_directions import EscapeDirectionConfig, search_optima

    starts = restarts + 2 * (restarts if search_starts is None else search_starts)
    per_start = samples * width * (depth + 1) * 6 + depth * width * max(width, input_dim) * 8
    check_memory(8 * (2 * starts * per_start + samples * input_dim), "escape-directions")
    config = EscapeDirectionConfig(
        activation=activation_spec,
        depth=depth,
        width=width,
        input_dim=input_dim,
        outputs=outputs,
        teacher=teacher_spec,
        restarts=restarts,
        samples=samples,
        seed=seed,
    )
    search = search_optima(config, search_starts, search_starts)
    if as_json:
        _emit_json(search.record())
        _exit_unless_converged(search.best)
        return
    result = search.best
    click.echo(f"value g*            {result.value:.10g} ± {result.standard_error:.2g} (sampling)")
    click.echo(f"restart values      {', '.join(f'{v:.6g}' for v in result.values)}")
    click.echo(
        f"balanced (1e-6)     {result.balanced}  (max |‖W_l‖² − 1/L| = {result.balance_error:.1e})"
    )
    click.echo(
        f"stationarity        |P∇g| = {result.projected_gradient:.1e}, Clarke residual "
        f"{result.clarke_residual:.1e} ({result.kinks} kinks)"
    )
    click.echo("layer  σ_1/σ_2        bound l^¼  holds  singular values")
    for s in result.layers:
        ratio = "—" if s.ratio is None else f"{s.ratio:.4g}"
        values = ", ".join(f"{v:.3g}" for v in s.singular_values[:4])
        click.echo(f"{s.layer:<6d} {ratio:<14} {s.bound:<10.4f} {str(s.holds):<6} {values}")
    if result.violations:
        click.echo(f"the bound fails at layers {list(result.violations)}")
    click.echo(f"distinct local optima ({search.pruned} restarts pruned):")
    for k, optimum in enumerate(search.optima):
        worst = optimum.worst_layer
        # the layer l ≥ 2 nearest its bound (smallest (σ₁/σ₂)/l^¼), not the smallest ratio
        ratio = (
            "—"
            if worst is None
            else f"σ₁/σ₂ = {worst.ratio:.4g} at l={worst.layer} (bound {worst.bound:.3f})"
        )
        click.echo(
            f"  {k}: g = {optimum.value:.8g}  ×{optimum.count} {dict(optimum.sources)}  "
            f"nearest the bound: {ratio}  violations {list(optimum.violations) or 'none'}"
            + ("  (best)" if optimum.best else "")
        )
    _exit_unless_converged(search.best)


def _exit_unless_converged(best: Any) -> None:
    """Exit 1 when the best optimum is not balanced: at a stationary point of g on the sphere
    ‖W_l‖² = 1/L exactly (Euler), so imbalance means the ascent did not converge (such a run
    printed 'balanced False', failed bounds, and exited 0)."""
    if not best.balanced:
        click.echo(
            f"not converged: the best optimum is not balanced (max |‖W_l‖² − 1/L| = "
            f"{best.balance_error:.1e} > 1e-6), so it is not a stationary point of g: the "
            "ascent stopped short of one (its iteration cap, or a stall on a kink); more "
            "--restarts may find one that converges",
            err=True,
        )
        sys.exit(1)


@main.command("saddle-to-saddle")
@_relu_network_options(depth=3, width=10, input_dim=6, outputs=2, samples=500)
@click.option(
    "--teacher",
    "teacher_spec",
    default="units:3,1",
    show_default=True,
    help="linear:s1,s2, units:a1,a2, relu2:m=M, deep:rank=R,depth=D,width=W (modes for k = 1).",
)
@click.option("--init-scale", type=POSITIVE, default=1e-2, show_default=True, help="|θ(0)| = ε.")
@click.option("--time", "flow_time", type=POSITIVE, default=None, help="Flow time [default: auto].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def saddle_to_saddle_command(
    depth: int,
    width: int,
    input_dim: int,
    outputs: int,
    teacher_spec: str,
    samples: int,
    init_scale: float,
    flow_time: float | None,
    seed: int,
    as_json: bool,
) -> None:
    """Gradient flow from a small start through the plateaus: at each, its time span, loss, the
    effective rank of every layer and the bottleneck rank."""
    from symescape.experiments.saddle_to_saddle import (
        SaddleConfig,
        flow_memory,
        saddle_to_saddle,
    )

    config = SaddleConfig(
        depth=depth,
        width=width,
        input_dim=input_dim,
        outputs=outputs,
        teacher=teacher_spec,
        samples=samples,
        init_scale=init_scale,
        time=flow_time,
        seed=seed,
    )
    check_memory(flow_memory(config), "saddle-to-saddle")
    run = saddle_to_saddle(config)
    if as_json:
        _emit_json(run.record())
        if not run.left_start:
            sys.exit(1)
        return
    click.echo(f"loss {run.loss[0]:.6g} → {run.loss[-1]:.3g} over flow time {run.times[-1]:.4g}")
    if not run.left_start:
        click.echo(
            f"no escape: the flow did not leave its start within flow time {run.times[-1]:.4g} "
            "(the loss fell by less than "
            f"{10 * config.flat:g} of its start value); raise --time or --init-scale, or check "
            "the teacher",
            err=True,
        )
        sys.exit(1)
    if not run.start_is_small:
        click.echo(
            f"note: the start is not small: 𝓛(θ(0)) = {run.loss[0]:.4g}, against "
            f"𝓛(0) = {run.origin_loss:.4g} at the origin, so the flow does not leave the saddle "
            "at the origin and the plateaus below are not the saddle-to-saddle sequence; lower "
            "--init-scale",
            err=True,
        )
    click.echo("plateau  start       end         loss         layer ranks  bottleneck")
    for k, p in enumerate(run.plateaus):
        click.echo(
            f"{k:<8d} {p.start:<11.5g} {p.end:<11.5g} {p.loss:<12.5g} "
            f"{str(list(p.layer_ranks)):<12} {p.bottleneck_rank}"
            + ("  (end: the flow stopped here)" if p.final else "")
        )


@main.command()
@click.argument("activation_spec", metavar="ACTIVATION")
@click.option("--depth", type=SIZE, default=4, show_default=True, help="Depth L.")
@click.option(
    "--out",
    default="derivations",
    show_default=True,
    type=click.Path(),
    help="Output folder.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["tex", "md"]),
    default="tex",
    show_default=True,
    help="Standalone LaTeX, or Markdown with $$…$$ blocks.",
)
def derive(activation_spec: str, depth: int, out: str, fmt: str) -> None:
    """Write the derivation document for ACTIVATION ('general' for symbolic depth L)."""
    from symescape.reports.derivation import write_derivation

    path = write_derivation(activation_spec, out, depth, fmt)
    click.echo(str(path))
    depth_given = click.get_current_context().get_parameter_source("depth")
    if activation_spec == "general" and depth_given is click.core.ParameterSource.COMMANDLINE:
        # it was ignored without a word
        click.echo(
            "note: the general document keeps the depth L symbolic: --depth is not used",
            err=True,
        )


@main.command()
@click.argument("config_path", metavar="[CONFIG]", required=False, type=click.Path())
@click.option("--activation", "activation_spec", default=None, help="Student activation σ.")
@click.option("--depth", type=int, default=None, help="Depth L.")
@click.option("--width", type=int, default=None, help="Hidden width N [default: 8].")
@click.option("--teacher", default=None, help="Teacher g(s), e.g. 'erf(s)' (default: σ).")
@click.option(
    "--loss", type=click.Choice(["squared", "logistic"]), default=None, help="[default: squared]"
)
@click.option("--learning-rate", type=float, default=None, help="Learning rate η [default: 0.05].")
@click.option(
    "--init",
    "init_kind",
    type=click.Choice(["ansatz", "he-normal"]),
    default=None,
    help="[default: ansatz]",
)
@click.option("--eps", type=float, default=None, help="Initial scale ε [default: 0.1].")
@click.option(
    "--rates",
    type=click.Choice(["normalised", "uniform"]),
    default=None,
    help="Per-layer rates [default: normalised on the ansatz, uniform for He-normal].",
)
@click.option("--check", "run_check", is_flag=True, help="Train the network and compare.")
@click.option("--calibrate", is_flag=True, help="He-normal: one run at 2ε for the prefactor.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def predict(
    config_path: str | None,
    activation_spec: str | None,
    depth: int | None,
    width: int | None,
    teacher: str | None,
    loss: str | None,
    learning_rate: float | None,
    init_kind: str | None,
    eps: float | None,
    rates: str | None,
    run_check: bool,
    calibrate: bool,
    as_json: bool,
) -> None:
    """Predict the plateau (escape step) of the network in CONFIG (TOML or JSON) or the flags."""
    from dataclasses import replace

    from symescape.experiments import predict as api

    flags = {
        "activation": activation_spec,
        "depth": depth,
        "width": width,
        "teacher": teacher,
        "loss": loss,
        "learning_rate": learning_rate,
        "rates": rates,
    }
    overrides: dict[str, Any] = {k: v for k, v in flags.items() if v is not None}
    init = {k: v for k, v in (("kind", init_kind), ("eps", eps)) if v is not None}
    if init:
        overrides["init"] = init
    if config_path is None:
        config = api.config_from_mapping(overrides)
    else:
        config = api.load_config(config_path, overrides)
    if calibrate:
        config = replace(config, calibration=api.calibrate(config))
    if run_check:
        checked = api.check_prediction(config)
        record = checked.record()
    else:
        record = api.predict(config).record()
    if as_json:
        _emit_json(record)
    else:
        # explicit scales override ε: show what is used (it showed ε = 0.1 for scales [0.1, 0.2, …])
        start = (
            f"ε = {config.init.eps:g}"
            if config.init.scales is None
            else f"scales {[float(f'{v:g}') for v in config.init.scales]}"
        )
        click.echo(
            f"{'setting':<15} σ = {config.activation.name}, L = {config.depth}, widths "
            f"{list(config.widths)}, η = {config.learning_rate:g}, {config.init.kind.value} "
            f"start at {start}, {config.loss.value} loss"
        )
        keys = ["steps", "time", "order", "error_estimate", "basis", "validity"]
        if run_check:
            keys += ["measured_steps", "measured_time", "relative_error"]
        for key in keys:
            value = record[key]
            text = f"{value:.6g}" if isinstance(value, float) else value
            click.echo(f"{key:<15} {text}")
    if record["steps"] is None:  # no prediction (outside the theory, or exponent only)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
