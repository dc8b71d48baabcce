"""Every option of the plugin: a ``--llm-*`` flag, its ini twin and default, resolved once.

This module does not import pytest: ``resolve_settings`` takes two lookups (command line, ini file) so
it can be unit-tested, and the plugin registers ``OPTIONS`` with pytest's parser. The command line
wins over the ini file; the ini file wins over the default.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pytest_llmeval.errors import ConfigurationError
from pytest_llmeval.input_limits import MAX_SEED, MAX_TOKENS
from pytest_llmeval.statistics import is_confidence
from pytest_llmeval.tolerances import parse_tolerance

__all__ = [
    "CACHE_MODES",
    "GATE_MODES",
    "CHAT_TEMPLATE_MODES",
    "DTYPES",
    "OPTIONS",
    "OptionSpec",
    "PROMPT_ENDPOINTS",
    "Settings",
    "resolve_settings",
]

DTYPES = ("auto", "float32", "bfloat16", "float16")
CHAT_TEMPLATE_MODES = ("auto", "always", "never")
CACHE_MODES = ("on", "off", "refresh")
GATE_MODES = ("off", "regressions", "strict", "significant")
UPDATE_MODES = ("all", "new")
MAX_RESAMPLES = 1_000_000  # bootstrap resamples: more takes minutes and changes the intervals little
PROMPT_ENDPOINTS = ("chat", "completions")
_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda|cuda:\d+)$")
_URL_RE = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Kind = Literal[
    "path",
    "paths",
    "model",
    "choice",
    "device",
    "positive_int",
    "batch_size",
    "probability",
    "int",
    "count",
    "seconds",
    "seed",
    "flag",
    "tolerances",
    "url",
    "env_name",
    "text",
    "confidence",
    "resamples",
    "samples",
    "rate",
]


@dataclass(frozen=True)
class OptionSpec:
    """One option: ``flag`` on the command line, ``ini`` in pytest.ini / pyproject.toml."""

    name: str  # attribute of Settings
    kind: Kind
    help: str
    default: Any = None
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    has_ini: bool = True  # False only where a config file must not decide (updating the baseline)

    @property
    def flag(self) -> str:
        return "--llm-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "llm_" + self.name

    @property
    def dest(self) -> str:
        return "llm_" + self.name


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "model",
        "model",
        "model under test: a local Hugging Face folder (causal or seq2seq), "
        "py:package.module:function for a Python pipeline (prompt -> text), or openai:MODEL for a model "
        "served over the OpenAI protocol at --llm-base-url",
        metavar="PATH",
    ),
    OptionSpec("adapter", "path", "a PEFT/LoRA adapter folder applied on top of the model", metavar="PATH"),
    OptionSpec(
        "compare_base",
        "flag",
        "also evaluate the base model (--llm-model with the --llm-adapter switched off, one load) and "
        "compare it with the model under test case by case: what the adapter fixed and what it broke",
        default=False,
    ),
    OptionSpec("device", "device", "device: auto|cpu|cuda|cuda:N|mps", default="auto", metavar="DEVICE"),
    OptionSpec("dtype", "choice", "weights dtype", default="auto", choices=DTYPES, metavar="DTYPE"),
    OptionSpec(
        "batch_size",
        "batch_size",
        "prompts generated per batch: a number, or auto (from the number and length of the prompts and "
        "the free memory; outputs are the same at any size in float32)",
        default="auto",
        metavar="N|auto",
    ),
    OptionSpec("max_new_tokens", "positive_int", "default new-token limit per generation", default=64, metavar="N"),
    OptionSpec(
        "chat_template",
        "choice",
        "use the tokenizer's chat template: auto (when it has one), always (error if none), never",
        default="auto",
        choices=CHAT_TEMPLATE_MODES,
        metavar="MODE",
    ),
    OptionSpec("seed", "seed", "random seed for sampled generation (greedy needs none)", metavar="N"),
    OptionSpec(
        "samples",
        "samples",
        "sampled outputs per case (case files and tests taking llm_samples) when the case sets no "
        "samples itself; above 1 turns sampling on, each sample seeded from --llm-seed, the case and its "
        "index; the case passes when the share of passing samples meets its min_pass_rate (1 to 1,000)",
        default=1,
        metavar="K",
    ),
    OptionSpec(
        "min_pass_rate",
        "rate",
        "the share of a case's samples that must pass when the case sets no min_pass_rate itself "
        "(above 0, at most 1; default 1.0: every sample must pass)",
        default=1.0,
        metavar="RATE",
    ),
    OptionSpec("trust_remote_code", "flag", "allow model code shipped inside the model folder", default=False),
    OptionSpec("required", "flag", "a session without --llm-model is a usage error instead of skipping", default=False),
    OptionSpec(
        "judge_model",
        "model",
        "the model that grades outputs for the judge and preferred_over checks: a local model folder "
        "(it may be the --llm-model path itself) or openai:MODEL served at --llm-judge-base-url",
        metavar="PATH",
    ),
    # -- served models (openai:MODEL) --
    OptionSpec(
        "base_url",
        "url",
        "for --llm-model openai:MODEL, the server's OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1",
        metavar="URL",
    ),
    OptionSpec(
        "judge_base_url",
        "url",
        "for --llm-judge-model openai:MODEL, the judge server's API (default: --llm-base-url)",
        metavar="URL",
    ),
    OptionSpec(
        "api_key_env",
        "env_name",
        "the environment variable holding the API key of --llm-base-url (the key itself is never "
        "given as an option, printed or recorded)",
        default="OPENAI_API_KEY",
        metavar="NAME",
    ),
    OptionSpec(
        "judge_api_key_env",
        "env_name",
        "the environment variable holding the API key of the judge server",
        default="OPENAI_API_KEY",
        metavar="NAME",
    ),
    OptionSpec(
        "model_revision",
        "text",
        "a revision you pin for a served model (a tag, a checkpoint name): part of its identity in the "
        "cache and the baseline, recorded with the run; without it a served model's outputs are not cached",
        metavar="REV",
    ),
    OptionSpec(
        "concurrency",
        "positive_int",
        "requests in flight at once to a served model (per xdist worker)",
        default=8,
        metavar="N",
    ),
    OptionSpec(
        "request_timeout",
        "seconds",
        "seconds a served model may take to answer one request",
        default=120.0,
        metavar="SECONDS",
    ),
    OptionSpec(
        "request_retries",
        "count",
        "retries of a request to a served model after a 408/409/429/5xx answer or a connection error, "
        "with exponential backoff (a Retry-After header is honoured)",
        default=4,
        metavar="N",
    ),
    OptionSpec(
        "prompt_endpoint",
        "choice",
        "how a served model gets a plain prompt: chat (one user message) or completions (the raw text to "
        "/v1/completions); chats and system prompts always go to /v1/chat/completions",
        default="chat",
        choices=PROMPT_ENDPOINTS,
        metavar="ENDPOINT",
    ),
    OptionSpec(
        "judge_min_mass",
        "probability",
        "a judge that puts less of its next-token probability than this on the score tokens is "
        "inconclusive: its checks fail, naming the mass, and give no score",
        default=0.5,
        metavar="P",
    ),
    OptionSpec(
        "cache",
        "choice",
        "generation cache: on (read and write), off, refresh (regenerate and overwrite)",
        default="on",
        choices=CACHE_MODES,
        metavar="MODE",
    ),
    OptionSpec(
        "cache_path", "path", "the generation cache file (default: <rootdir>/.llmeval/cache.db)", metavar="PATH"
    ),
    OptionSpec("history", "path", "the run history file (default: <rootdir>/.llmeval/history.db)", metavar="PATH"),
    OptionSpec("baseline", "path", "the baseline file (default: <rootdir>/llmeval-baseline.json)", metavar="PATH"),
    OptionSpec(
        "update_baseline",
        "choice",
        "write the baseline from this run: all cases (--llm-update-baseline) or only cases it lacks "
        "(--llm-update-baseline=new); command line only, so a baseline changes only when asked",
        choices=UPDATE_MODES,
        metavar="new",
        has_ini=False,
    ),
    OptionSpec(
        "gate",
        "choice",
        "compare with the baseline and fail on: off, regressions (a case that passed now fails, a metric "
        "dropped beyond its tolerance), strict (any failure), significant (the pass rate or a metric is "
        "worse with --llm-confidence, by paired tests; single flips alone do not fail)",
        default="off",
        choices=GATE_MODES,
        metavar="MODE",
    ),
    OptionSpec(
        "metric_tolerance",
        "tolerances",
        "how far a metric may drop below the baseline before the gate fails, NAME=VALUE (absolute; the "
        "flag may repeat; ini: one per line); default 0",
        default=(),
        metavar="NAME=VALUE",
    ),
    OptionSpec(
        "confidence",
        "confidence",
        "how sure the paired comparison must be before it calls a change (and --llm-gate=significant "
        "fails): a number from 0.5 up to, not including, 1",
        default=0.95,
        metavar="LEVEL",
    ),
    OptionSpec(
        "resamples",
        "resamples",
        "bootstrap resamples for the paired comparison's intervals (100 to 1,000,000)",
        default=10_000,
        metavar="N",
    ),
    OptionSpec(
        "report",
        "path",
        "after the run, write the HTML dashboard to PATH: this run against the baseline, and pass rates "
        "and metrics across the run history",
        metavar="PATH",
    ),
    OptionSpec(
        "markdown",
        "path",
        "after the run, write a Markdown summary (pass rates, regressions, metric changes) to PATH, "
        "e.g. $GITHUB_STEP_SUMMARY",
        metavar="PATH",
    ),
    OptionSpec(
        "bias_lexicon",
        "paths",
        "extra lexicon file(s) for no_bias_terms (YAML `categories: {name: {terms: [...]}}` or one "
        "term per line); the flag may repeat",
        default=(),
        metavar="PATH",
    ),
    OptionSpec(
        "bias_lexicon_replace", "flag", "use only --llm-bias-lexicon files, not the shipped lexicon", default=False
    ),
    OptionSpec(
        "tensorboard",
        "path",
        "after the run, write its pass rates and metric means (scalars) and each case's output (text) as "
        "TensorBoard events into the folder DIR, at the run's --llm-step",
        metavar="DIR",
    ),
    OptionSpec(
        "step",
        "int",
        "the training step or checkpoint number of the model under test, kept with the run: the x axis "
        "of TensorBoard's curves (default: the run's start time in seconds)",
        metavar="N",
    ),
    OptionSpec(
        "train_data",
        "path",
        "the training data (.jsonl or text) that no_memorisation compares outputs with when a check "
        "names no train_data; indexed once per session",
        metavar="PATH",
    ),
    OptionSpec(
        "heldout_data",
        "path",
        "held-out text of the training data's domain (.jsonl or text); with --llm-train-data the session "
        "measures the perplexity gap between the two (item llmeval::perplexity_gap, metric perplexity_gap)",
        metavar="PATH",
    ),
    OptionSpec(
        "swap_sets",
        "paths",
        "swap-set files (counterfactual_terms layout) added to the shipped ones for every counterfactual "
        "case of the session, before a case file's own counterfactual_terms (repeatable)",
        default=(),
        metavar="FILE",
    ),
)


@dataclass(frozen=True)
class Settings:
    """The resolved options of one session. Paths are absolute."""

    model: str | None = None  # an absolute folder path, or "py:module:function"
    adapter: str | None = None
    compare_base: bool = False
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int | Literal["auto"] = "auto"
    max_new_tokens: int = 64
    chat_template: str = "auto"
    seed: int | None = None
    samples: int = 1
    min_pass_rate: float = 1.0
    trust_remote_code: bool = False
    required: bool = False
    judge_model: str | None = None
    base_url: str | None = None
    judge_base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    judge_api_key_env: str = "OPENAI_API_KEY"
    model_revision: str | None = None
    concurrency: int = 8
    request_timeout: float = 120.0
    request_retries: int = 4
    prompt_endpoint: str = "chat"
    judge_min_mass: float = 0.5
    cache: str = "on"
    cache_path: str | None = None
    history: str | None = None
    baseline: str | None = None
    update_baseline: str | None = None
    gate: str = "off"
    metric_tolerance: tuple[tuple[str, float], ...] = ()
    confidence: float = 0.95
    resamples: int = 10_000
    report: str | None = None
    markdown: str | None = None
    bias_lexicon: tuple[str, ...] = ()
    bias_lexicon_replace: bool = False
    tensorboard: str | None = None
    step: int | None = None
    train_data: str | None = None
    heldout_data: str | None = None
    swap_sets: tuple[str, ...] = ()

    @property
    def backend_name(self) -> str | None:
        """The registered backend serving ``model`` ("hf" for a local folder), or None."""
        if self.model is None:
            return None
        from pytest_llmeval.backends.registry import backend_for

        return backend_for(self.model).name


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _convert(spec: OptionSpec, raw: Any, source: str, base_dir: Path) -> Any:
    """Turn a raw flag or ini value into the typed value, or raise ConfigurationError naming it."""
    where = spec.flag if source == "flag" else f"ini option {spec.ini}"
    if spec.kind == "flag":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigurationError(f"{where}: {raw!r} is not a boolean; use true or false")
    if spec.kind == "tolerances":
        items = raw if isinstance(raw, list) else str(raw).splitlines()
        pairs = []
        for item in (i.strip() for i in items):
            if not item:
                continue
            try:
                pairs.append(parse_tolerance(item))
            except ValueError as exc:
                raise ConfigurationError(f"{where}: {exc}") from None
        return tuple(pairs)
    if spec.kind == "paths":
        # repeated flags arrive as a list; an ini value is whitespace-separated (or one per line)
        items = raw if isinstance(raw, list) else str(raw).split()
        return tuple(str((base_dir / Path(item).expanduser()).resolve()) for item in items if item)
    text = str(raw).strip()
    if spec.kind in ("path", "model", "text", "url"):
        if not text:
            return None
        if spec.kind == "text":
            return text
        if spec.kind == "url":
            if not _URL_RE.match(text):
                raise ConfigurationError(
                    f"{where}: {text!r} is not an http(s) URL; give the API's base, e.g. http://127.0.0.1:8000/v1"
                )
            return text.rstrip("/")
        if spec.kind == "model":
            from pytest_llmeval.backends.registry import scheme_of

            if scheme_of(text) is not None:  # py:pkg.mod:fn and other registered schemes
                return text
        return str((base_dir / Path(text).expanduser()).resolve())
    if spec.kind == "env_name":
        if not _ENV_NAME_RE.match(text):
            raise ConfigurationError(
                f"{where}: {text!r} is not an environment variable name (give the variable's name, "
                "e.g. OPENAI_API_KEY, never the key itself)"
            )
        return text
    if spec.kind == "seconds":
        try:
            seconds = float(text)
        except ValueError:
            seconds = -1.0
        if not seconds > 0 or seconds == float("inf"):
            raise ConfigurationError(f"{where}: {text!r} is not a positive number of seconds")
        return seconds
    if spec.kind == "choice":
        if text not in spec.choices:
            raise ConfigurationError(f"{where}: {text!r} is not one of {', '.join(spec.choices)}")
        return text
    if spec.kind == "device":
        if not _DEVICE_RE.match(text):
            raise ConfigurationError(
                f"{where}: {text!r} is not a device; use auto, cpu, cuda, cuda:N (e.g. cuda:0) or mps"
            )
        return text
    if spec.kind == "confidence":
        try:
            level = float(text)
        except ValueError:
            level = -1.0
        if not is_confidence(level):
            raise ConfigurationError(
                f"{where}: {text!r} is not a confidence from 0.5 up to (not including) 1, e.g. 0.95"
            )
        return level
    if spec.kind in ("samples", "rate"):
        from pytest_llmeval.samples import check_min_pass_rate, check_samples

        try:
            if spec.kind == "samples":
                return check_samples(_whole_number(text), where)
            return check_min_pass_rate(_finite_number(text), where)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
    if spec.kind == "batch_size" and text == "auto":
        return "auto"
    if spec.kind == "probability":
        try:
            value = float(text) if len(text) <= 40 else -1.0
        except ValueError:
            value = -1.0
        if not 0.0 <= value <= 1.0:
            raise ConfigurationError(f"{where}: {text!r} is not a probability from 0 to 1")
        return value
    if len(text) > 40:  # int() of thousands of digits is slow, and no setting needs them
        raise ConfigurationError(f"{where}: {text[:20]!r}... ({len(text)} characters) is not a usable number")
    try:
        number = int(text)
    except ValueError:
        hint = " or auto" if spec.kind == "batch_size" else ""
        raise ConfigurationError(f"{where}: {text!r} is not a whole number{hint}") from None
    if spec.kind in ("positive_int", "batch_size") and not 1 <= number <= MAX_TOKENS:
        raise ConfigurationError(f"{where}: must be from 1 to {MAX_TOKENS:,}, got {number:,}")
    if spec.kind == "count" and number < 0:
        raise ConfigurationError(f"{where}: must be 0 or more, got {number}")
    if spec.kind == "count" and number > MAX_TOKENS:
        raise ConfigurationError(f"{where}: must be from 0 to {MAX_TOKENS:,}, got {number:,}")
    if spec.kind == "seed" and not 0 <= number <= MAX_SEED:
        raise ConfigurationError(f"{where}: must be from 0 to {MAX_SEED:,}, got {number:,}")
    if spec.kind == "resamples" and number < 100:
        raise ConfigurationError(f"{where}: must be at least 100 (e.g. 10000), got {number}")
    if spec.kind == "resamples" and number > MAX_RESAMPLES:
        raise ConfigurationError(f"{where}: must be at most {MAX_RESAMPLES:,}, got {number:,}")
    return number


def _whole_number(text: str) -> int | str:
    """``text`` as an int when it is one (the text itself otherwise, for the message)."""
    try:
        return int(text) if len(text) <= 40 else text
    except ValueError:
        return text


def _finite_number(text: str) -> float | str:
    try:
        return float(text) if len(text) <= 40 else text
    except ValueError:
        return text


def resolve_settings(
    flag_value: Callable[[str], Any],
    ini_value: Callable[[str], Any],
    *,
    cwd: Path,
    ini_dir: Path | None,
) -> Settings:
    """Resolve every option: the flag (``flag_value(dest)``, None when not given) wins over the ini
    value (``ini_value(key)``, None or "" when unset), which wins over the default.

    Relative paths from the command line are relative to ``cwd``; from the ini file, to ``ini_dir``.
    """
    values: dict[str, Any] = {}
    for spec in OPTIONS:
        raw_flag = flag_value(spec.dest)
        raw_ini = ini_value(spec.ini) if spec.has_ini else None
        if raw_flag is not None:
            values[spec.name] = _convert(spec, raw_flag, "flag", cwd)
        elif raw_ini not in (None, ""):
            values[spec.name] = _convert(spec, raw_ini, "ini", ini_dir or cwd)
        else:
            values[spec.name] = spec.default
    return Settings(**values)
