"""Loading a third party's entry points (checks, backends) the same way for every group."""

from __future__ import annotations

import inspect
from collections.abc import Callable


def load_entry_points(
    group: str, error: Callable[[str], Exception], take: Callable[[object, str], bool] | None = None
) -> None:
    """Load every entry point of ``group``. Each names a module (importing it is the point), a
    function (called with no arguments), or an object that ``take(obj, where)`` accepts (returns
    True). Any failure raises ``error(message)`` naming the entry point and what went wrong."""
    from importlib.metadata import entry_points

    for entry in entry_points(group=group):
        where = f"entry point {entry.name} = {entry.value} (group {group})"
        try:
            loaded = entry.load()
            if take is not None and take(loaded, where):
                continue
            if callable(loaded) and not inspect.isclass(loaded) and not inspect.ismodule(loaded):
                loaded()
        except Exception as exc:  # a third party's error: say whose it is
            raise error(f"{where} failed to load: {type(exc).__name__}: {exc}") from None
