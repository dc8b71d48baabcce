from __future__ import annotations

import numpy  # noqa: F401 - see below
import pytest

# In-process pytester runs drop the modules an inner session imported first; numpy (imported lazily
# by a check) cannot be imported twice in one process, so it is imported here, once.


@pytest.fixture
def pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    # Inner sessions must not find the outer project's configuration.
    pytester.makeini("[pytest]\n")
    return pytester
