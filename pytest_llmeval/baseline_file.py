"""The baseline file (reviewable JSON): what it holds, built from a run, dumped, read and validated.

A baseline is the accepted run the gate compares with, committed beside the evals and reviewed in
diffs: sorted keys, cases by node id, numbers rounded to ``SIGNIFICANT_DIGITS``. Writing it to disk
atomically is ``store.write_baseline``'s job. Every problem reading one is a ``BaselineError`` that
names the file, the key and how to fix it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmeval.input_limits import reject_json_constant
from pytest_llmeval.record_encoding import iso_utc, output_sha256, round_number, storable_text, to_json
from pytest_llmeval.records import OUTCOMES, CaseRecord, RunRecord

__all__ = [
    "BASELINE_FORMAT",
    "EXCERPT_CHARS",
    "Baseline",
    "BaselineCase",
    "BaselineError",
    "baseline_from_run",
    "dump_baseline",
    "merge_new_cases",
    "read_baseline",
]

BASELINE_FORMAT = 1
EXCERPT_CHARS = 160


class BaselineError(Exception):
    """A baseline file is missing, is not valid JSON or does not have the baseline layout."""


# Tracebacks and recorded messages name it by its public path, as they did before the split.
BaselineError.__module__ = "pytest_llmeval.store"


@dataclass
class BaselineCase:
    """One case's accepted result: what the gate compares, not the full record."""

    outcome: str
    checks: list[dict[str, Any]] = field(default_factory=list)  # [{"name", "passed", "score"}]
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # {name: {"value", "higher_is_better"}}
    output_sha256: str | None = None
    output_excerpt: str | None = None
    # repeated samples: {"n", "passed", "rate", "min_pass_rate"}; absent for a case of one output
    samples: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if data["samples"] is None:
            del data["samples"]  # baselines without sampled cases stay as they were
        return data


@dataclass
class Baseline:
    """The accepted run: the identity block of the run it came from and one entry per case."""

    run: dict[str, Any]  # {run_id, model, settings, versions, git_commit, created_at}
    cases: dict[str, BaselineCase]
    format: int = BASELINE_FORMAT

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "run": self.run,
            "cases": {node_id: self.cases[node_id].to_dict() for node_id in sorted(self.cases)},
        }


def _baseline_case(case: CaseRecord) -> BaselineCase:
    checks = [
        {"name": check.get("name"), "passed": check.get("passed"), "score": round_number(check.get("score"))}
        for check in case.checks
    ]
    metrics = {
        name: {
            "value": round_number(metric.get("value")),
            "higher_is_better": bool(metric.get("higher_is_better", True)),
            # an interval (the perplexity gap's) stays beside its value
            **{k: round_number(metric[k]) for k in ("low", "high", "confidence") if k in metric},
        }
        for name, metric in case.metrics.items()
    }
    return BaselineCase(
        outcome=case.outcome,
        checks=checks,
        metrics=metrics,
        output_sha256=output_sha256(case.output),
        output_excerpt=None if case.output is None else case.output[:EXCERPT_CHARS],
        samples=None
        if case.samples is None
        else {
            "n": int(case.samples["n"]),
            "passed": int(case.samples["passed"]),
            "rate": round_number(float(case.samples["rate"])),
            "min_pass_rate": round_number(float(case.samples["min_pass_rate"])),
        },
    )


def _run_identity(run: RunRecord) -> dict[str, Any]:
    # created_at is when the run started (not when the file was written), so writing a baseline from
    # the same run twice gives byte-identical files.
    return {
        "run_id": run.run_id,
        "model": run.model,
        "settings": run.settings,
        "versions": run.versions,
        "git_commit": run.git_commit,
        "created_at": iso_utc(run.started_at),
    }


def baseline_from_run(run: RunRecord) -> Baseline:
    """The baseline that accepts ``run`` as it is (``--llm-update-baseline``)."""
    # A later record of the same node id wins, matching how the run itself reports it.
    cases = {case.node_id: _baseline_case(case) for case in run.cases}
    # Round-trip through JSON so the in-memory baseline equals what read_baseline returns
    # (e.g. a tuple in settings becomes a list).
    data = json.loads(to_json(Baseline(_run_identity(run), cases).to_dict()))
    return _parse_baseline(data, f"made from run {run.run_id}")


def merge_new_cases(old: Baseline, run: RunRecord) -> Baseline:
    """``--llm-update-baseline=new``: add the cases ``old`` lacks, keep every existing entry (and the
    identity block) unchanged."""
    fresh = baseline_from_run(run)
    cases = dict(old.cases)
    for node_id, case in fresh.cases.items():
        cases.setdefault(node_id, case)
    return Baseline(run=old.run, cases=cases, format=old.format)


def dump_baseline(baseline: Baseline) -> str:
    """The file text: sorted keys, cases by node id, indent 2, UTF-8 characters kept, one final newline."""
    try:
        text = json.dumps(baseline.to_dict(), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
        text = storable_text(text) or ""
    except ValueError as exc:  # NaN/inf that bypassed rounding: JSON cannot hold it
        raise BaselineError(f"the baseline cannot be written as JSON: {exc}") from exc
    return text + "\n"


_HOW_TO_RECREATE = "fix it or recreate it with pytest --llm-update-baseline"


def read_baseline(path: str | os.PathLike[str]) -> Baseline:
    """Read and validate a baseline file; every problem is a ``BaselineError`` naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(
            f"the baseline {path} does not exist; create it with pytest --llm-update-baseline"
        ) from None
    except IsADirectoryError:
        raise BaselineError(f"the baseline {path} is a folder, not a file; pass the JSON file's path") from None
    except UnicodeDecodeError as exc:
        raise BaselineError(f"the baseline {path} is not UTF-8 text ({exc}); {_HOW_TO_RECREATE}") from None
    except OSError as exc:
        raise BaselineError(f"cannot read the baseline {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text, parse_constant=reject_json_constant)
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"the baseline {path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}; "
            f"{_HOW_TO_RECREATE}"
        ) from None
    except (ValueError, RecursionError) as exc:  # NaN/Infinity (a NaN metric would compare false)
        raise BaselineError(f"the baseline {path} is not valid JSON: {exc}; {_HOW_TO_RECREATE}") from None
    return _parse_baseline(data, str(path))


class _Layout:
    """Checks parsed baseline values against the layout; each failure names the file and the key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> BaselineError:
        return BaselineError(f"the baseline {self.source}: key {key!r} {problem}; {_HOW_TO_RECREATE}")

    def expect(self, value: Any, kind: type | tuple[type, ...], key: str, what: str) -> Any:
        # bool is an int: a number field must not accept true/false.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.fail(key, f"must be {what}, not {json.dumps(value)}")
        if not isinstance(value, kind):
            raise self.fail(key, f"must be {what}, not {type(value).__name__ if value is not None else 'null'}")
        return value


def _parse_baseline(data: Any, source: str) -> Baseline:
    layout = _Layout(source)
    if not isinstance(data, dict):
        raise BaselineError(f"the baseline {source} must hold a JSON object at the top; {_HOW_TO_RECREATE}")
    for key in ("format", "run", "cases"):
        if key not in data:
            raise layout.fail(key, "is missing")
    fmt = layout.expect(data["format"], int, "format", "an integer")
    if fmt != BASELINE_FORMAT:
        newer = " (written by a newer pytest-llmeval; upgrade it)" if fmt > BASELINE_FORMAT else ""
        raise BaselineError(
            f"the baseline {source} has format {fmt}, this pytest-llmeval reads format {BASELINE_FORMAT}{newer}"
        )
    run = layout.expect(data["run"], dict, "run", "an object")
    for key in ("model", "settings"):
        if key in run:
            layout.expect(run[key], dict, f"run.{key}", "an object")
    cases_data = layout.expect(data["cases"], dict, "cases", "an object of node id -> case")
    cases = {node_id: _parse_baseline_case(layout, f"cases.{node_id}", entry) for node_id, entry in cases_data.items()}
    return Baseline(run=run, cases=cases, format=fmt)


def _parse_baseline_case(layout: _Layout, where: str, entry: Any) -> BaselineCase:
    expect, fail = layout.expect, layout.fail
    expect(entry, dict, where, "an object")
    if "outcome" not in entry:
        raise fail(f"{where}.outcome", "is missing")
    outcome = expect(entry["outcome"], str, f"{where}.outcome", "a string")
    if outcome not in OUTCOMES:
        raise fail(f"{where}.outcome", f"is {outcome!r}, expected one of {', '.join(OUTCOMES)}")
    checks = expect(entry.get("checks", []), list, f"{where}.checks", "a list")
    for index, check in enumerate(checks):
        expect(check, dict, f"{where}.checks[{index}]", "an object")
        expect(check.get("name"), str, f"{where}.checks[{index}].name", "a string")
    metrics = expect(entry.get("metrics", {}), dict, f"{where}.metrics", "an object")
    for name, metric in metrics.items():
        expect(metric, dict, f"{where}.metrics.{name}", "an object")
        value = metric.get("value")
        if value is not None:
            expect(value, (int, float), f"{where}.metrics.{name}.value", "a number or null")
        hib_key = f"{where}.metrics.{name}.higher_is_better"
        expect(metric.get("higher_is_better", True), bool, hib_key, "true or false")
        for bound in ("low", "high", "confidence"):
            if metric.get(bound) is not None:
                expect(metric[bound], (int, float), f"{where}.metrics.{name}.{bound}", "a number or null")
    sha = entry.get("output_sha256")
    if sha is not None:
        expect(sha, str, f"{where}.output_sha256", "a string or null")
    excerpt = entry.get("output_excerpt")
    if excerpt is not None:
        expect(excerpt, str, f"{where}.output_excerpt", "a string or null")
    samples = entry.get("samples")
    if samples is not None:
        expect(samples, dict, f"{where}.samples", "an object")
        for key in ("n", "passed"):
            expect(samples.get(key), int, f"{where}.samples.{key}", "a whole number")
        if not 0 <= samples["passed"] <= samples["n"] or samples["n"] < 1:
            raise fail(f"{where}.samples", f"says {samples['passed']} of {samples['n']} samples passed")
    return BaselineCase(
        outcome=outcome,
        checks=checks,
        metrics=metrics,
        output_sha256=sha,
        output_excerpt=excerpt,
        samples=samples,
    )
