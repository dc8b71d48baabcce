"""The check registry: one definition per check, used by Python helpers and case files alike.

A check is a plain function ``(text: str, **args) -> CheckResult`` registered under a name. The
registry coerces the raw output (a ``Generation``, ``str``, ``bytes``, ``None`` ...) to text, validates
the arguments against the function's signature (so case files get the same typed errors as Python
callers), runs the check, handles ``not_<name>`` negation, and reports every evaluated result to the running test
(``pytest_llmeval.running_test``).

The registry is open: ``register_check`` (exported as ``pytest_llmeval.register_check``) from a
``conftest.py`` or a package, and the ``pytest_llmeval.checks`` entry-point group, whose entries are
loaded the first time the registry is used. A name registered from two different places is an error
naming both.
"""

from __future__ import annotations

import contextvars
import difflib
import inspect
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict, runtime_checkable

import pydantic

from pytest_llmeval import running_test
from pytest_llmeval.input_limits import bounded_repr

__all__ = [
    "CheckFailed",
    "CheckResult",
    "CheckSpec",
    "CheckUsageError",
    "MetricValue",
    "Tokenizer",
    "active_tokenizer",
    "assert_check",
    "assertion_helper",
    "check",
    "checked_output",
    "check_names",
    "checked_output",
    "get_check",
    "recording_checks",
    "register_check",
    "truncate",
    "using_tokenizer",
    "validate_check_args",
]

# Longest excerpt of model output shown in a message; the full length is always stated.
EXCERPT_CHARS = 200
# Argument problems listed in one message; the rest are counted.
_MAX_PROBLEMS = 3


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one output.

    ``value`` is what the ``assert_<name>`` helper returns on success (the parsed JSON value, the
    pydantic instance, the score); it is not part of reports.
    """

    name: str
    passed: bool
    message: str
    score: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    value: Any = None

    @property
    def metric(self) -> MetricValue | None:
        """The number this result records as a metric (``details["metric"]``), if it has one."""
        metric = self.details.get("metric")
        if not isinstance(metric, dict) or not isinstance(metric.get("name"), str):
            return None
        value = metric.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        recorded: MetricValue = {
            "name": metric["name"],
            "value": float(value),
            "higher_is_better": bool(metric.get("higher_is_better", True)),
        }
        # an interval around the value (the perplexity gap's), kept with it in the run and baseline
        bounds = [metric.get(k) for k in ("low", "high", "confidence")]
        if all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds):
            recorded["low"], recorded["high"], recorded["confidence"] = (float(b) for b in bounds)  # type: ignore[arg-type]
        return recorded


class _MetricValueRequired(TypedDict):
    name: str
    value: float
    higher_is_better: bool


class MetricValue(_MetricValueRequired, total=False):
    """A metric recorded by a check: ``CheckResult.details["metric"]``; ``low``, ``high`` and
    ``confidence`` (all three or none) are an interval around the value."""

    low: float
    high: float
    confidence: float


class CheckFailed(AssertionError):
    """Raised by ``assert_<name>`` helpers: the model's output did not meet the expectation."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.message)
        self.result = result


class CheckUsageError(ValueError):
    """The check was called wrongly (unknown name, bad argument, invalid schema): not a model failure."""


@runtime_checkable  # so a ``tokenizer: Tokenizer | None`` check argument validates by isinstance
class Tokenizer(Protocol):
    """Anything that splits text into the model's tokens (a Hugging Face tokenizer qualifies)."""

    def tokenize(self, text: str) -> list[str]: ...


CheckFunction = Callable[..., CheckResult]


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: its function, where it came from, and its argument model."""

    name: str
    function: CheckFunction
    family: str
    summary: str
    args_model: type[pydantic.BaseModel]
    origin: str  # "module:qualname" of the function, to name both sides of a clash
    needs_judge: bool = False  # the plugin requires --llm-judge-model for cases using it

    def validate_args(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``args`` against the check's signature; raise CheckUsageError naming each field."""
        try:
            model = self.args_model.model_validate(dict(args))
        except pydantic.ValidationError as exc:
            errors = _merge_union_errors(exc.errors())
            problems = [self._describe(err) for err in errors[:_MAX_PROBLEMS]]
            if len(errors) > _MAX_PROBLEMS:  # one per item of a long list: the first few say it
                problems.append(f"and {len(errors) - _MAX_PROBLEMS} more")
            raise CheckUsageError(f"check {self.name!r}: " + "; ".join(problems)) from None
        return {field.alias or attr: getattr(model, attr) for attr, field in type(model).model_fields.items()}

    def argument_names(self) -> list[str]:
        """The argument names as callers spell them (fields are stored under prefixed names)."""
        return sorted(f.alias or n for n, f in self.args_model.model_fields.items())

    def _describe(self, err: Any) -> str:
        where = ".".join(str(p) for p in err["loc"]) or "(arguments)"
        if err["type"] == "extra_forbidden":
            allowed = self.argument_names()
            close = difflib.get_close_matches(str(err["loc"][-1]), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return f"unknown argument {where!r}{hint}; {self.name} takes: {', '.join(allowed)}"
        if err["type"] == "missing":
            return f"missing required argument {where!r}"
        return f"argument {where!r}: {err['msg']} (got {bounded_repr(err.get('input'))})"


def _merge_union_errors(errors: list[Any]) -> list[Any]:
    """One error per argument for union types: pydantic reports each member ("model.str",
    "model.is-subclass[BaseModel]"); the user wants "argument 'model': should be X or Y"."""
    merged: list[Any] = []
    by_argument: dict[Any, Any] = {}
    for err in errors:
        loc = err["loc"]
        if len(loc) == 2 and isinstance(loc[1], str):
            first = by_argument.get(loc[0])
            if first is not None:
                first["msg"] += " or " + err["msg"].removeprefix("Input should be ")
                continue
            err = {**err, "loc": loc[:1]}
            by_argument[loc[0]] = err
        merged.append(err)
    return merged


_REGISTRY: dict[str, CheckSpec] = {}
ENTRY_POINT_GROUP = "pytest_llmeval.checks"
_entry_points_loaded = False
_entry_points_lock = threading.RLock()


def _args_model_for(name: str, function: CheckFunction) -> type[pydantic.BaseModel]:
    """Build a pydantic model from the check function's keyword parameters (all but the first)."""
    fields: dict[str, Any] = {}
    params = list(inspect.signature(function).parameters.values())[1:]
    hints = inspect.get_annotations(function, eval_str=True)
    for param in params:
        if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            raise TypeError(f"check {name}: *args/**kwargs are not allowed, name every argument")
        annotation = hints.get(param.name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[f"arg_{param.name}"] = (annotation, pydantic.Field(default, alias=param.name))
    # Fields are stored as ``arg_<name>`` with the real name as alias: argument names such as
    # ``schema`` or ``json`` would otherwise shadow BaseModel attributes (a pydantic warning, which
    # ``filterwarnings = error`` turns into an import failure).
    config = pydantic.ConfigDict(
        extra="forbid",
        arbitrary_types_allowed=True,
        strict=False,
        validate_by_name=False,
        allow_inf_nan=False,  # a NaN threshold compares false with every score
    )
    model_name = "".join(part.title() for part in name.split("_")) + "Args"
    return pydantic.create_model(model_name, __config__=config, **fields)


def _origin(function: CheckFunction) -> str:
    return f"{getattr(function, '__module__', '?')}:{getattr(function, '__qualname__', repr(function))}"


def register_check(
    name: str, *, family: str = "custom", summary: str | None = None, needs_judge: bool = False
) -> Callable[[CheckFunction], CheckFunction]:
    """Register the decorated function as check ``name``, usable from Python (``check(name, out)``,
    ``assert_check(name, out)``, ``pytest_llmeval.assert_<name>``) and from case files
    (``expect: {name: ...}``, negated as ``not_<name>``).

    The function takes the output as ``str`` first, then keyword arguments (validated from its type
    hints, so case files get typed errors), and returns a ``CheckResult``. ``summary`` defaults to
    the first line of its docstring. ``needs_judge=True`` makes a case using it a usage error when
    no ``--llm-judge-model`` is given (the check finds the judge with ``active_judge()``). Registering the same function again (a re-imported
    ``conftest.py``) replaces it; another function under a taken name raises ValueError naming both.
    """
    if not name.isidentifier():
        raise ValueError(f"check name {name!r} must be an identifier (letters, digits, underscores)")

    def decorate(function: CheckFunction) -> CheckFunction:
        origin = _origin(function)
        existing = _REGISTRY.get(name)
        if existing is not None and existing.origin != origin:
            raise ValueError(f"check {name!r} is registered twice: by {existing.origin} and by {origin}")
        # "not_x" names the negation of check "x", so a check may be called "not_garbled" only while
        # no check "garbled" exists (and the other way round): every name must stay unambiguous.
        clash = name[len("not_") :] if name.startswith("not_") else f"not_{name}"
        if clash in _REGISTRY:
            raise ValueError(
                f"check {name!r} (from {origin}) would be ambiguous with the registered check {clash!r} "
                f"(from {_REGISTRY[clash].origin})"
            )
        text = summary if summary is not None else (inspect.getdoc(function) or name).splitlines()[0]
        _REGISTRY[name] = CheckSpec(name, function, family, text, _args_model_for(name, function), origin, needs_judge)
        return function

    return decorate


def load_check_entry_points() -> None:
    """Import the ``pytest_llmeval.checks`` entry points once: each names a module (importing it
    registers its checks) or a function (called with no arguments). A broken entry point is a
    CheckUsageError naming it."""
    global _entry_points_loaded
    with _entry_points_lock:
        if _entry_points_loaded:
            return
        _entry_points_loaded = True
        from pytest_llmeval.entry_points import load_entry_points

        load_entry_points(ENTRY_POINT_GROUP, CheckUsageError)


def check_names() -> list[str]:
    """Every registered check name (built-in, conftest and entry-point checks)."""
    load_check_entry_points()
    return sorted(_REGISTRY)


def get_check(name: str) -> tuple[CheckSpec, bool]:
    """Return the spec for ``name`` and whether it is negated (``not_<name>``)."""
    load_check_entry_points()
    negated = False
    base = name
    if name not in _REGISTRY and name.startswith("not_"):
        base, negated = name[len("not_") :], True
    spec = _REGISTRY.get(base)
    if spec is None:
        names = check_names() + [f"not_{n}" for n in check_names()]
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise CheckUsageError(f"unknown check {name!r}{hint}")
    return spec, negated


def truncate(text: str, around: int | None = None, limit: int = EXCERPT_CHARS) -> str:
    """Return ``repr``-style excerpt of ``text`` no longer than ``limit``, centred on ``around``.

    The full length is appended when anything was cut, so a message never hides how big an output was.
    """
    if len(text) <= limit:
        return repr(text)
    centre = limit // 2 if around is None else around
    start = max(0, min(centre - limit // 2, len(text) - limit))
    excerpt = text[start : start + limit]
    prefix = "..." if start > 0 else ""
    suffix = "..." if start + limit < len(text) else ""
    return f"{prefix}{excerpt!r}{suffix} ({len(text)} chars)"


# Set by check() around the check function's own call, read inside it: one call stack, one thread,
# so a context variable is exact here (unlike services, which a test's threads must share).
_checked_output: contextvars.ContextVar[object] = contextvars.ContextVar("llmeval_checked_output", default=None)


def checked_output(text: str) -> str:
    """The output a running check was given, before it became ``text`` (a ``Generation`` knows its
    request and finish reason: the judge reads the question, perplexity conditions on the prompt).
    ``text`` itself when the check was called directly or on something else."""
    output = _checked_output.get()
    return output if isinstance(output, str) and str(output) == text else text


def _as_text(output: object) -> tuple[str | None, str]:
    """Coerce an output to text. Returns ``(text, "")`` or ``(None, why it is not text)``."""
    if isinstance(output, str):
        text = str(output)  # plain str, also for Generation (a str subclass)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            # Half a UTF-16 surrogate pair (a Python pipeline can return one): not Unicode text, so
            # no check can judge it, and libraries (numpy, tokenizers) raise on it.
            return None, (
                f"expected text, got a string holding a lone surrogate {text[exc.start]!r} at character "
                f"{exc.start} (not valid Unicode; {len(text)} chars)"
            )
        return text, ""
    if output is None:
        return None, "expected a text output, got None (did the model or pipeline return nothing?)"
    if isinstance(output, (bytes, bytearray)):
        try:
            return bytes(output).decode("utf-8"), ""
        except UnicodeDecodeError as exc:
            return None, (
                f"expected a text output, got {len(output)} bytes that are not UTF-8 ({exc.reason} at byte {exc.start})"
            )
    return None, f"expected a text output (str), got {type(output).__name__}: {bounded_repr(output, EXCERPT_CHARS)}"


def check(name: str, output: object, /, **args: Any) -> CheckResult:
    """Run check ``name`` (or ``not_<name>``) on ``output`` and return its result.

    Never raises for a model failure. Raises CheckUsageError for an unknown check or bad arguments.
    A non-text output (None, undecodable bytes, ...) fails every check, negated or not.
    """
    __tracebackhide__ = True
    spec, negated = get_check(name)
    clean = validate_check_args(name, args)
    text, why_not_text = _as_text(output)
    if text is None:
        result = CheckResult(name=name, passed=False, message=f"{name}: {why_not_text}")
    else:
        token = _checked_output.set(output)
        try:
            result = spec.function(text, **clean)
        except CheckUsageError as exc:
            # Raised afresh here: the message names the problem; the check's insides are noise.
            raise CheckUsageError(str(exc)) from None
        finally:
            _checked_output.reset(token)
        if negated:
            result = _negate(name, result)
    _record(result)
    return result


def validate_check_args(name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``args`` for check ``name`` (or ``not_<name>``) as ``check()`` and case files do;
    a list given for a one-string argument suggests the check's ``_any``/``_all`` form."""
    spec, negated = get_check(name)
    try:
        return spec.validate_args(args)
    except CheckUsageError as exc:
        raise CheckUsageError(f"{exc}{_list_hint(spec, name, negated, args)}") from None


def _list_hint(spec: CheckSpec, name: str, negated: bool, args: Mapping[str, Any]) -> str:
    """For a list given where one string is expected ("not_contains: [a, b]"), the _any/_all form
    of the check that takes a list, if one exists; "" otherwise."""
    fields = spec.args_model.model_fields
    lists = [
        key
        for key, value in args.items()
        if isinstance(value, (list, tuple)) and getattr(fields.get(f"arg_{key}"), "annotation", None) is str
    ]
    forms = [form for form in (f"{spec.name}_all", f"{spec.name}_any") if form in _REGISTRY]
    if not lists or not forms:
        return ""
    plural = list(inspect.signature(_REGISTRY[forms[0]].function).parameters)[1]
    if negated:
        if f"{spec.name}_any" not in _REGISTRY:
            return ""
        return (
            f"; {name} takes one string in {lists[0]!r}: for a list use not_{spec.name}_any "
            f"with {plural!r} (none of them may match)"
        )
    choices = " or ".join(
        f"{form} ({'every one' if form.endswith('_all') else 'at least one'} must match)" for form in forms
    )
    return f"; {name} takes one string in {lists[0]!r}: for a list use {choices} with {plural!r}"


def _negate(name: str, result: CheckResult) -> CheckResult:
    if result.details.get("undecided"):
        # The check could not decide (a pattern timed out): not deciding is no evidence either way.
        return CheckResult(name, False, f"{name}: undecided: {result.message}", result.score, result.details)
    if result.passed:
        message = f"{name}: expected {result.name} to fail, but it passed: {result.message}"
    else:
        message = f"{name}: passed ({result.name} failed as required: {result.message})"
    return CheckResult(name, not result.passed, message, result.score, result.details, result.value)


def _record(result: CheckResult) -> None:
    running_test.report_check(result)


def assert_check(name: str, output: object, /, **args: Any) -> Any:
    """Run a check and raise CheckFailed when it fails; return the check's value on success."""
    __tracebackhide__ = True
    result = check(name, output, **args)
    if not result.passed:
        raise CheckFailed(result)
    return result.value


def assertion_helper(name: str, *, module: str = __name__) -> Callable[..., Any]:
    """The ``assert_<name>`` helper of a registered check (a conftest's or a package's check gets
    one as ``pytest_llmeval.assert_<name>``); AttributeError naming the closest helpers otherwise."""
    try:
        spec, negated = get_check(name)
    except CheckUsageError:
        close = [f"assert_{n}" for n in difflib.get_close_matches(name, check_names(), n=3)]
        hint = f"; did you mean {', '.join(close)}?" if close else "; no check of that name is registered"
        raise AttributeError(f"module {module!r} has no attribute 'assert_{name}'{hint}") from None

    def helper(output: object, /, **args: Any) -> Any:
        __tracebackhide__ = True
        return assert_check(name, output, **args)

    helper.__name__ = helper.__qualname__ = f"assert_{name}"
    helper.__doc__ = f"{'Negated: ' if negated else ''}{spec.summary} Raises CheckFailed; returns the check's value."
    helper.__module__ = module
    return helper


@contextmanager
def recording_checks(recorder: Callable[[CheckResult], None]) -> Iterator[None]:
    """Also send every check evaluated inside the block (in any thread) to ``recorder``."""
    with running_test.listening(recorder):
        yield


@contextmanager
def using_tokenizer(tokenizer: Tokenizer | None) -> Iterator[None]:
    """Make ``tokenizer`` the model tokenizer that token-based checks use when none is passed (the
    plugin provides the model's own to each test)."""
    with running_test.providing(tokenizer=tokenizer):
        yield


def active_tokenizer() -> Tokenizer | None:
    """The tokenizer token-based checks use when none is passed."""
    return running_test.services().tokenizer
