"""A misspelt public name suggests the closest real ones, through `from ... import` and attributes."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pytest_llmeval


def test_from_import_of_a_misspelt_helper_suggests_the_closest_names() -> None:
    with pytest.raises(ImportError) as error:
        from pytest_llmeval import assert_contians  # type: ignore[attr-defined]  # noqa: F401
    message = str(error.value)
    assert message.startswith(
        "module 'pytest_llmeval' has no attribute 'assert_contians'; did you mean assert_contains"
    )


def test_attribute_access_raises_attribute_error_so_hasattr_works() -> None:
    with pytest.raises(AttributeError, match=r"has no attribute 'chek'; did you mean check\?"):
        pytest_llmeval.chek  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(pytest_llmeval, "assert_nothing_like_it")
    assert not hasattr(pytest_llmeval, "__wrapped__")


def test_a_name_with_nothing_close_gets_no_suggestion() -> None:
    with pytest.raises(ImportError) as error:
        from pytest_llmeval import zzzzzz  # type: ignore[attr-defined]  # noqa: F401
    assert str(error.value) == "module 'pytest_llmeval' has no attribute 'zzzzzz'"


def test_the_message_reaches_a_user_running_a_script() -> None:
    script = "from pytest_llmeval import assert_contians"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 1
    assert (
        "ImportError: module 'pytest_llmeval' has no attribute 'assert_contians'; did you mean assert_contains"
        in result.stderr
    )
