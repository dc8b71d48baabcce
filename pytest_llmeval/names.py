"""A misspelt public name gets the closest real ones: ``from pytest_llmeval import assert_contians``.

Plain Python. The package's module ``__getattr__`` calls :func:`unknown_name`. Python 3.12+ suggests
names itself, but 3.10 and 3.11 turn a module ``__getattr__``'s AttributeError into a bare
"cannot import name" ImportError, dropping its message; so when the name is asked for by a
``from ... import`` statement, an ImportError carrying the suggestion is raised instead (an
attribute access, ``hasattr`` included, still gets an AttributeError).
"""

from __future__ import annotations

import difflib
import dis
from collections.abc import Iterable
from types import FrameType

__all__ = ["unknown_name"]

_IMPORT_FROM = dis.opmap["IMPORT_FROM"]


def unknown_name(
    module: str, name: str, names: Iterable[str], caller: FrameType | None, *, message: str | None = None
) -> Exception:
    """The error for ``module.name`` that does not exist: AttributeError, or ImportError when
    ``caller`` (the frame asking) is executing ``from module import name``. Its message is
    ``message`` when given (one that already suggests names), else one naming the closest of
    ``names``."""
    if message is None:
        message = f"module {module!r} has no attribute {name!r}"
        if not (name.startswith("__") and name.endswith("__")):
            close = difflib.get_close_matches(name, sorted(set(names)), n=3, cutoff=0.6)
            if close:
                message += f"; did you mean {', '.join(close)}?"
    if caller is not None and _executing_import_from(caller):
        return ImportError(message, name=module)
    return AttributeError(message)


def _executing_import_from(frame: FrameType) -> bool:
    try:
        return frame.f_code.co_code[frame.f_lasti] == _IMPORT_FROM
    except (IndexError, AttributeError):  # an unusual frame: fall back to the AttributeError
        return False
