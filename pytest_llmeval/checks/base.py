"""The check registry: one definition per check, used by Python helpers and case files alike.

A check is a plain function ``(text: str, **args) -> CheckResult`` registered under a name. The
registry coerces the raw output (a ``Generation``, ``str``, ``bytes``, ``None`` ...) to text, validates
the arguments against the function's signature (so case files get the same typed errors as Python
callers), runs the check, handles ``not_<name>`` negation, and reports every evaluated result to the
recorder installed by the pytest plugin for the running test.
"""

from __future__ import annotations

import contextvars
import difflib
import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pydantic

__all__ = [
    "CheckFailed",
    "CheckResult",
    "CheckSpec",
    "CheckUsageError",
    "Tokenizer",
    "active_tokenizer",
    "assert_check",
    "check",
    "check_names",
    "get_check",
    "recording_checks",
    "register_check",
    "truncate",
    "using_tokenizer",
]

# Longest excerpt of model output shown in a message; the full length is always stated.
EXCERPT_CHARS = 200


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
    name: str
    function: CheckFunction
    family: str
    summary: str
    args_model: type[pydantic.BaseModel]

    def validate_args(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``args`` against the check's signature; raise CheckUsageError naming each field."""
        try:
            model = self.args_model.model_validate(dict(args))
        except pydantic.ValidationError as exc:
            problems = [self._describe(err) for err in _merge_union_errors(exc.errors())]
            raise CheckUsageError(f"check {self.name!r}: " + "; ".join(problems)) from None
        return {
            field.alias or attr: getattr(model, attr)
            for attr, field in type(model).model_fields.items()
        }

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
        return f"argument {where!r}: {err['msg']} (got {_clip(repr(err.get('input')))})"


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


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


_REGISTRY: dict[str, CheckSpec] = {}

_recorder: contextvars.ContextVar[Callable[[CheckResult], None] | None] = contextvars.ContextVar(
    "llmeval_check_recorder", default=None
)
_tokenizer: contextvars.ContextVar[Tokenizer | None] = contextvars.ContextVar(
    "llmeval_tokenizer", default=None
)


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
        extra="forbid", arbitrary_types_allowed=True, strict=False, validate_by_name=False
    )
    model_name = "".join(part.title() for part in name.split("_")) + "Args"
    return pydantic.create_model(model_name, __config__=config, **fields)


def register_check(
    name: str, *, family: str, summary: str
) -> Callable[[CheckFunction], CheckFunction]:
    """Register ``function`` as check ``name``. The first parameter receives the output as ``str``."""

    def decorate(function: CheckFunction) -> CheckFunction:
        if name in _REGISTRY:
            raise ValueError(f"check {name!r} is registered twice")
        # "not_x" names the negation of check "x", so a check may be called "not_garbled" only while
        # no check "garbled" exists (and the other way round): every name must stay unambiguous.
        clash = name[len("not_") :] if name.startswith("not_") else f"not_{name}"
        if clash in _REGISTRY:
            raise ValueError(f"check {name!r} would be ambiguous with the registered check {clash!r}")
        _REGISTRY[name] = CheckSpec(name, function, family, summary, _args_model_for(name, function))
        return function

    return decorate


def check_names() -> list[str]:
    return sorted(_REGISTRY)


def get_check(name: str) -> tuple[CheckSpec, bool]:
    """Return the spec for ``name`` and whether it is negated (``not_<name>``)."""
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


def _as_text(output: object) -> tuple[str | None, str]:
    """Coerce an output to text. Returns ``(text, "")`` or ``(None, why it is not text)``."""
    if isinstance(output, str):
        return str(output), ""  # plain str, also for Generation (a str subclass)
    if output is None:
        return None, "expected a text output, got None (did the model or pipeline return nothing?)"
    if isinstance(output, (bytes, bytearray)):
        try:
            return bytes(output).decode("utf-8"), ""
        except UnicodeDecodeError as exc:
            return None, (
                f"expected a text output, got {len(output)} bytes that are not UTF-8 "
                f"({exc.reason} at byte {exc.start})"
            )
    return None, f"expected a text output (str), got {type(output).__name__}: {truncate(repr(output))}"


def check(name: str, output: object, /, **args: Any) -> CheckResult:
    """Run check ``name`` (or ``not_<name>``) on ``output`` and return its result.

    Never raises for a model failure. Raises CheckUsageError for an unknown check or bad arguments.
    A non-text output (None, undecodable bytes, ...) fails every check, negated or not.
    """
    __tracebackhide__ = True
    spec, negated = get_check(name)
    clean = spec.validate_args(args)
    text, why_not_text = _as_text(output)
    if text is None:
        result = CheckResult(name=name, passed=False, message=f"{name}: {why_not_text}")
    else:
        try:
            result = spec.function(text, **clean)
        except CheckUsageError as exc:
            # Raised afresh here: the message names the problem; the check's insides are noise.
            raise CheckUsageError(str(exc)) from None
        if negated:
            result = _negate(name, result)
    _record(result)
    return result


def _negate(name: str, result: CheckResult) -> CheckResult:
    if result.passed:
        message = f"{name}: expected {result.name} to fail, but it passed: {result.message}"
    else:
        message = f"{name}: passed ({result.name} failed as required: {result.message})"
    return CheckResult(name, not result.passed, message, result.score, result.details, result.value)


def _record(result: CheckResult) -> None:
    recorder = _recorder.get()
    if recorder is not None:
        recorder(result)


def assert_check(name: str, output: object, /, **args: Any) -> Any:
    """Run a check and raise CheckFailed when it fails; return the check's value on success."""
    __tracebackhide__ = True
    result = check(name, output, **args)
    if not result.passed:
        raise CheckFailed(result)
    return result.value


@contextmanager
def recording_checks(recorder: Callable[[CheckResult], None]) -> Iterator[None]:
    """Send every check evaluated inside the block to ``recorder`` (the plugin uses one per test)."""
    token = _recorder.set(recorder)
    try:
        yield
    finally:
        _recorder.reset(token)


@contextmanager
def using_tokenizer(tokenizer: Tokenizer | None) -> Iterator[None]:
    """Make ``tokenizer`` the model tokenizer that token-based checks use when none is passed."""
    token = _tokenizer.set(tokenizer)
    try:
        yield
    finally:
        _tokenizer.reset(token)


def active_tokenizer() -> Tokenizer | None:
    return _tokenizer.get()
