from __future__ import annotations

import numpy  # noqa: F401 - see below
import pytest
import rouge_score.rouge_scorer  # noqa: F401
import sacrebleu  # noqa: F401
import sklearn.metrics  # noqa: F401

# In-process pytester runs drop the modules an inner session imported first; numpy and the metric
# libraries (imported lazily by checks) cannot all be imported twice in one process, so they are
# imported here, once.


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # Inner sessions must not find the outer project's configuration.
    pytester.makeini("[pytest]\n")
    # Inner sessions print to a terminal 400 columns wide (whatever runs the outer one), so a test
    # reads a message whole; a test of fitting to the terminal sets the width it tests.
    monkeypatch.setenv("COLUMNS", "400")
    return pytester
