from __future__ import annotations

import pytest


@pytest.fixture
def pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    # Inner sessions must not find the outer project's configuration.
    pytester.makeini("[pytest]\n")
    return pytester
