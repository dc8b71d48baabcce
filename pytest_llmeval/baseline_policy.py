"""Accepting a run as the baseline: the one policy that ``--llm-update-baseline`` and
``llmeval baseline RUN`` both follow.

- ``all``: every case of the run is accepted; entries of cases the run did not include (a partial
  run: ``-k``, ``-m``, a path) are kept as they were, so accepting a partial run never forgets the
  rest of the suite. An unreadable existing baseline is replaced.
- ``new``: only cases the baseline lacks are added; existing entries stay byte for byte. With no
  baseline file yet, that is every case (reported as ``all``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pytest_llmeval.records import RunRecord
from pytest_llmeval.store import (
    Baseline,
    BaselineCase,
    BaselineError,
    baseline_from_run,
    merge_new_cases,
    read_baseline,
    write_baseline,
)

__all__ = ["AcceptMode", "Acceptance", "accept_run"]

AcceptMode = Literal["all", "new"]


@dataclass(frozen=True)
class Acceptance:
    """What accepting a run did to the baseline file."""

    path: Path
    mode: AcceptMode
    written: int  # cases written from the run (all) or added (new)
    kept: int  # entries kept from the previous baseline
    added_ids: tuple[str, ...] = ()  # new: the ids added

    def describe(self, shown_path: str | None = None) -> str:
        """One line for the terminal, naming the file as ``shown_path`` when given."""
        path = self.path if shown_path is None else shown_path
        if self.mode == "new":
            ids = ", ".join(self.added_ids) or "none"
            return f"baseline {path}: added {_count(self.written, 'new case')} ({ids})"
        line = f"baseline {path}: wrote {_count(self.written, 'case')} from this run"
        return line + (f", kept {self.kept} not run now" if self.kept else "")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def accept_run(path: str | Path, run: RunRecord, mode: AcceptMode = "all") -> Acceptance:
    """Write ``run`` into the baseline at ``path`` following ``mode`` (atomically).

    Raises BaselineError when ``mode`` is ``new`` and the existing baseline cannot be read (adding
    to a file we cannot read would lose its entries), and OSError when the file cannot be written.
    """
    location = Path(path)
    if mode == "new" and location.is_file():
        old = read_baseline(location)
        merged = merge_new_cases(old, run)
        added = tuple(sorted(set(merged.cases) - set(old.cases)))
        write_baseline(location, merged)
        return Acceptance(location, mode, len(added), len(old.cases), added)
    accepted = baseline_from_run(run)
    kept: dict[str, BaselineCase] = {}
    if location.is_file():
        try:
            previous: Baseline | None = read_baseline(location)
        except BaselineError:
            previous = None  # replaced: the run is the new truth
        if previous is not None:
            kept = {k: v for k, v in previous.cases.items() if k not in accepted.cases}
    write_baseline(location, Baseline(run=accepted.run, cases={**kept, **accepted.cases}))
    # "new" with no baseline yet accepts everything: said as what it did, "all"
    return Acceptance(location, "all", len(accepted.cases), len(kept))
