"""Case files as pytest items: one item per case, an error item per case that does not load, and
one group item per pass-rate, classification, NER or fairness group that has cases."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmeval.harness.groups import GroupKind, GroupSpec, Location
from pytest_llmeval.harness.payload import ClassificationLabel, GroupEntry
from pytest_llmeval.harness.session import NO_MODEL_REASON, session_of
from pytest_llmeval.records import MODES

if TYPE_CHECKING:
    from pytest_llmeval.backends.base import Generation, GenerationRequest
    from pytest_llmeval.cases import Case, CaseError, CaseFile
    from pytest_llmeval.checks.base import CheckResult
    from pytest_llmeval.running_test import RunningTest
    from pytest_llmeval.settings import Settings

__all__ = ["CASE_FILE_PATTERNS", "CaseFileCollector", "CaseItem", "GroupItem", "InvalidCaseItem"]

CASE_FILE_PATTERNS = ("*.eval.yaml", "*.eval.yml", "*.eval.jsonl")


class CaseFileCollector(pytest.File):
    """A YAML/JSONL case file: one item per case, an error item per case that does not load, and
    its group items."""

    def collect(self) -> list[pytest.Item]:
        """Parse the file: its cases, its invalid cases (as error items) and its groups. Whatever
        goes wrong makes an error item for this file: a collection error would interrupt the
        session, and the other files must still run."""
        from pytest_llmeval.cases import CaseError

        try:
            return self._collect()
        except Exception as exc:  # any failure here is this one file's error
            error = CaseError(Path(self.nodeid), None, f"cannot load this file: {type(exc).__name__}: {exc}")
            return [InvalidCaseItem.from_parent(self, name="file", error=error)]

    def _collect(self) -> list[pytest.Item]:
        from pytest_llmeval.cases import parse_case_file

        parsed = parse_case_file(self.path, display_path=self.nodeid)
        items: list[pytest.Item] = []
        groups: dict[str, GroupSpec] = {}
        for case in parsed.cases:
            case_groups = self._pass_rate_groups(parsed, case)
            classifications = self._classification_groups(parsed, case)
            scored = self._ner_and_fairness_groups(parsed, case)
            for spec in [*case_groups, *classifications, *scored]:
                groups.setdefault(spec.node_id, spec)
            items.append(
                CaseItem.from_parent(
                    self,
                    name=case.id,
                    case=case,
                    groups=[spec.node_id for spec in case_groups],
                    classifications=classifications,
                    scored_groups=scored,
                )
            )
        used = {case.id for case in parsed.cases}
        for error in parsed.errors:
            name = error.case_id if error.case_id and error.case_id not in used else f"line{error.line or 0}"
            if name in used:  # two errors on one line, or a case whose id is "line7": keep node ids unique
                name = next(f"{name}-{n}" for n in range(2, len(used) + 3) if f"{name}-{n}" not in used)
            used.add(name)
            items.append(InvalidCaseItem.from_parent(self, name=name, error=error))
        for spec in groups.values():
            items.append(GroupItem.from_parent(self, name=spec.node_id.rpartition("::")[2], spec=spec))
        if parsed.perplexity_gap is not None:  # the file's perplexity_gap: block (harness.overfitting)
            from pytest_llmeval.harness.overfitting import PerplexityGapItem

            gap = parsed.perplexity_gap
            items.append(PerplexityGapItem.from_parent(self, name="perplexity_gap", **gap.model_dump()))
        return items

    def _spec(self, suffix: str, kind: GroupKind, **fields: Any) -> GroupSpec:
        node_id = f"{self.nodeid}::{suffix}"
        location: Location = (self.nodeid, None, node_id)  # the failure report's title is its last part
        return GroupSpec(node_id, location, kind, **fields)

    def _pass_rate_groups(self, parsed: CaseFile, case: Case) -> list[GroupSpec]:
        specs = []
        if parsed.pass_rate is not None:
            specs.append(self._spec("pass_rate", "pass_rate", threshold=parsed.pass_rate))
        for tag, rate in parsed.tag_pass_rates.items():
            if tag in case.tags:
                specs.append(self._spec(f"pass_rate[{tag}]", "pass_rate", threshold=rate))
        return specs

    def _classification_groups(self, parsed: CaseFile, case: Case) -> list[GroupSpec]:
        if case.label is None:
            return []
        specs = [("classification", parsed.classification)] if parsed.classification else []
        specs += [(f"classification[{t}]", spec) for t, spec in parsed.tag_classifications.items() if t in case.tags]
        return [self._spec(suffix, "classification", classification=spec.model_dump()) for suffix, spec in specs]

    def _ner_and_fairness_groups(self, parsed: CaseFile, case: Case) -> list[GroupSpec]:
        specs = []
        if parsed.ner is not None and case.entities is not None:
            specs.append(self._spec("ner", "ner", ner=parsed.ner.thresholds()))
        if parsed.fairness is not None and case.counterfactual is not None:
            specs.append(self._spec("fairness", "fairness", max_gap=parsed.fairness.max_gap))
        return specs


class CaseItem(pytest.Item):
    """One case of a case file: generate its output, then run its expectations."""

    def __init__(
        self,
        *,
        case: Case,
        groups: list[str],
        classifications: list[GroupSpec] | None = None,
        scored_groups: list[GroupSpec] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.groups = groups
        self.classifications = classifications or []
        self.scored_groups = scored_groups or []  # its NER and fairness groups
        self.output: Generation | None = None
        self.counterfactual: CheckResult | None = None
        state = session_of(self.config)
        for tag in case.tags:
            if state is not None and tag not in state.registered_tags and tag not in MODES:
                # Tags become markers; declaring them keeps --strict-markers happy.
                self.config.addinivalue_line("markers", f"{tag}: tag from case files")
                state.registered_tags.add(tag)
            self.add_marker(tag)
        if case.xfail:
            self.add_marker(pytest.mark.xfail(reason=case.xfail))

    def setup(self) -> None:
        """Skip without a model (like the ``llm`` fixture)."""
        state = session_of(self.config)
        if state is None or state.settings.model is None:
            pytest.skip(NO_MODEL_REASON)

    def sample_count(self, settings: Settings) -> int:
        """How many outputs this case is judged on: its own ``samples``, else ``--llm-samples``
        (a counterfactual case always one: its variants are compared with one output)."""
        if self.case.samples is not None:
            return self.case.samples
        return 1 if self.case.counterfactual is not None else settings.samples

    def sample_requests(self, settings: Settings) -> list[GenerationRequest]:
        """The case's request, or its ``sample_count`` sampled requests, seeded per sample
        (GenerationParameterError when the case says ``do_sample: false``)."""
        from pytest_llmeval.errors import GenerationParameterError
        from pytest_llmeval.samples import sample_requests

        count = self.sample_count(settings)
        rated = [e.name for e in self.case.expect if e.name in ("human_rating", "not_human_rating")]
        if count > 1 and rated:
            # The review app shows a case's one output; samples 2..K could never be rated.
            raise GenerationParameterError(
                f"{rated[0]} rates one output per case, and this case asks for {count} samples; ask for "
                "1 sample (samples: 1) or judge the samples with automatic checks"
            )
        return sample_requests(self.case.request, count, case_key=self.nodeid, session_seed=settings.seed)

    def runtest(self) -> None:
        """Generate (or take the prepared output) and run the case's expectations."""
        state = session_of(self.config)
        assert state is not None
        requests = self.sample_requests(state.settings)
        model = state.prepare_all(self.nodeid, requests)
        outputs = model.run(requests)
        self.output = outputs[0]
        if len(outputs) > 1:
            self._judge_samples(outputs, state.settings)
            return
        if self.case.counterfactual is None:
            self.case.assert_expectations(self.output)
            return
        from pytest_llmeval.cases import CaseExpectationsFailed
        from pytest_llmeval.counterfactual import case_counterfactual
        from pytest_llmeval.running_test import report_check

        results = self.case.evaluate(self.output)
        # The variants (generated up front with the other requests) must agree with this output.
        self.counterfactual = case_counterfactual(self.case, model, self.output)
        report_check(self.counterfactual)
        results.append(self.counterfactual)
        if not all(r.passed for r in results):
            raise CaseExpectationsFailed(self.case, self.output, results)

    def _judge_samples(self, outputs: list[Generation], settings: Settings) -> None:
        """Each sample passes when every expectation does; the case when enough samples pass."""
        from pytest_llmeval import running_test
        from pytest_llmeval.samples import SampleOutcome, SamplesFailed, SampleVerdict

        verdicts = []
        for index, output in enumerate(outputs, 1):
            failed = [r for r in self.case.evaluate(output) if not r.passed]
            reason = "; ".join(r.message for r in failed)
            verdicts.append(SampleVerdict(index, not failed, output.text, reason))
        threshold = self.case.min_pass_rate if self.case.min_pass_rate is not None else settings.min_pass_rate
        outcome = SampleOutcome(tuple(verdicts), min_pass_rate=threshold)
        test = running_test.current()
        if test is not None:
            test.samples = outcome.to_record()
        if not outcome.passed:
            raise SamplesFailed(outcome)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """The case's file and line, for the report's location."""
        return self.path, (self.case.line - 1) if self.case.line else None, f"case {self.case.id}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """The case, its output and every check, or the usage or generation error in one line."""
        from pytest_llmeval.cases import CaseExpectationsFailed
        from pytest_llmeval.checks.base import CheckUsageError
        from pytest_llmeval.errors import GenerationError, GenerationParameterError
        from pytest_llmeval.failure_text import format_checks, format_generation, terminal_safe
        from pytest_llmeval.samples import SamplesFailed

        error = excinfo.value
        where = f"{self.path.name}:{self.case.line}" if self.case.line else self.path.name
        if isinstance(error, SamplesFailed):
            prompt = self.output.prompt if self.output is not None else self.case.request.display_prompt()
            return terminal_safe(f"case {self.case.id} ({where}): {error}\nprompt: {prompt}")
        if isinstance(error, CaseExpectationsFailed):
            failed = [r for r in error.results if not r.passed]
            lines = [f"case {self.case.id} ({where}): {len(failed)} of {len(error.results)} checks failed"]
            if self.output is not None:
                lines += ["", format_generation(self.output)]
            lines += ["", format_checks(error.results)]
            return "\n".join(lines)
        if isinstance(error, CheckUsageError):
            return f"case {self.case.id} ({where}): usage error in expect (not a model failure): {error}"
        if isinstance(error, (GenerationError, GenerationParameterError)):
            return f"case {self.case.id} ({where}): {error}"
        return str(super().repr_failure(excinfo))

    def classification_labels(self) -> list[ClassificationLabel]:
        """The case's gold and predicted label for each of its classification groups."""
        if self.output is None or self.case.label is None:
            return []
        from pytest_llmeval.checks.patterns import PatternTimeout
        from pytest_llmeval.metrics import UNMAPPED, map_label

        labels = []
        for spec in self.classifications:
            assert spec.classification is not None
            try:
                predicted = map_label(
                    self.output, list(spec.classification["labels"]), pattern=spec.classification["pattern"]
                )
            except PatternTimeout:  # the case's classified_as check fails, naming the pattern
                predicted = UNMAPPED
            labels.append(ClassificationLabel(spec.node_id, self.case.label, predicted, self.nodeid))
        return labels

    def entity_predictions(self) -> list[dict[str, Any]]:
        """The case's gold and predicted spans for its NER group (nothing without entities)."""
        if self.output is None or self.case.entities is None or self.case.ner_source is None:
            return []
        from pytest_llmeval.metrics.ner import case_prediction

        predictions = []
        for spec in self.scored_groups:
            if spec.kind == "ner":
                ner = self.case.ner_format or {}
                prediction = case_prediction(self.case.id, self.output, self.case.entities, self.case.ner_source, **ner)
                predictions.append({"group": spec.node_id, "node_id": self.nodeid, **prediction})
        return predictions

    def counterfactual_results(self) -> list[dict[str, Any]]:
        """The case's counterfactual result for its fairness group (nothing without one)."""
        if self.counterfactual is None:
            return []
        details = self.counterfactual.details
        return [
            {
                "group": spec.node_id,
                "node_id": self.nodeid,
                "case": self.case.id,
                "original": details["original"],
                "outcomes": details["outcomes"],
            }
            for spec in self.scored_groups
            if spec.kind == "fairness"
        ]

    def group_entry(self, report: pytest.TestReport, test: RunningTest | None) -> GroupEntry | None:
        """The case's result as its pass-rate groups count it (None outside any group)."""
        if not self.groups or hasattr(report, "wasxfail"):
            return None
        failed = [c for c in (test.checks if test is not None else []) if not c.passed]
        reason = failed[0].message if failed else (str(report.longrepr).splitlines() or [""])[0]
        return GroupEntry(
            self.case.id, report.passed, "" if report.passed else reason[:300], list(self.groups), self.nodeid
        )


class InvalidCaseItem(pytest.Item):
    """A case (or a whole file) that could not be loaded: an error naming the file, line and field.

    An item rather than a collection error, so the other cases still run; the session fails."""

    def __init__(self, *, error: CaseError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def setup(self) -> None:
        """Fail at once: the case did not load."""
        raise self.error

    def runtest(self) -> None:
        """Never reached: setup raises."""
        raise self.error

    def _repr_failure_py(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:  # type: ignore[override]
        # pytest formats a setup error with this (not repr_failure). The file, line and field say
        # it all; a formatted traceback would be noise, and slow for a file of many bad cases.
        return str(self.error)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """The file and line of the invalid case."""
        line = (self.error.line - 1) if self.error.line else None
        return self.path, line, f"invalid case {self.name}"


class GroupItem(pytest.Item):
    """A group over a case file's cases, judged on the controller after the run (``groups``).

    When its turn comes it is set up and torn down without reports (so fixtures stay consistent
    wherever it stands in the order) and marked selected; ``plugin.pytest_runtest_protocol``
    does that instead of running it."""

    def __init__(self, *, spec: GroupSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def runtest(self) -> None:
        """Nothing to run here: the verdict needs every case's result."""

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """The case file, and the group's node id as the title."""
        return self.path, None, self.spec.node_id


def select_group(item: GroupItem, nextitem: pytest.Item | None) -> bool:
    """Take a group item's turn: set it up and tear it down without reports (keeping pytest's
    fixture stack right for ``nextitem``) and book it as selected. Returns True: the turn is done."""
    from _pytest.runner import runtestprotocol  # as pytest-rerunfailures does: no public twin

    runtestprotocol(item, nextitem=nextitem, log=False)
    state = session_of(item.config)
    if state is not None:
        state.groups.select(item.spec)
    return True


def group_members(group: GroupItem, items: list[pytest.Item]) -> list[pytest.Item]:
    """The case items ``group`` is judged over, among ``items``."""
    return [
        i
        for i in items
        if isinstance(i, CaseItem)
        and group.spec.node_id in {*i.groups, *(c.node_id for c in [*i.classifications, *i.scored_groups])}
    ]


def select_group_members(session: pytest.Session, collected: list[pytest.Item]) -> None:
    """A group selected without any of its cases (``-k pass_rate``, ``--lf`` after a failed group)
    brings its cases back: a group is judged over them. A group with some of its cases selected is
    judged over those (``--deselect`` of one case stays deselected)."""
    selected = set(session.items)
    restored: set[pytest.Item] = set()
    for item in session.items:
        if isinstance(item, GroupItem):
            members = group_members(item, collected)
            if members and not selected.intersection(members):
                restored.update(members)
    if not restored:
        return
    session.items[:] = [i for i in collected if i in selected or i in restored]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and "deselected" in reporter.stats:
        reporter.stats["deselected"] = [i for i in reporter.stats["deselected"] if i not in restored]
