"""Limits on what the plugin reads from a user: file kind and size, parsed size and depth, text.

One careless or hostile value (a YAML alias bomb, ``/dev/zero`` given as a schema, a 4,000-digit
number, half a UTF-16 surrogate pair) must fail only the case or option it belongs to, with a message;
it must never hang the session, exhaust memory, or raise from deep inside a library. Everything that
reads a user's file or describes a user's value in a message goes through here.
"""

from __future__ import annotations

import math
import os
import reprlib
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "MAX_BEAMS",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "MAX_SEED",
    "MAX_TOKENS",
    "InputLimitError",
    "bounded_repr",
    "data_size_problem",
    "join_surrogate_pairs",
    "load_yaml",
    "lone_surrogate",
    "read_text_file",
    "reject_json_constant",
]

# A case file, schema or lexicon larger than this is not something a person wrote by hand.
MAX_FILE_BYTES = 32 * 1024 * 1024
# Values (mappings, lists, scalars) one parsed file may hold, with YAML aliases counted expanded:
# a 300-byte alias bomb expands to billions; a 20,000-case file holds a few hundred thousand.
MAX_NODES = 2_000_000
# Nesting deeper than this is no eval case; it exists to hit recursion limits.
MAX_DEPTH = 64
# Generation numbers: torch.manual_seed takes 64 bits; SQLite and JSON readers take signed 64.
MAX_SEED = 2**63 - 1
MAX_TOKENS = 10_000_000
# Beam search keeps num_beams sequences per prompt, so memory grows with beams x batch: 64 beams of a
# batch of 32 is already 2,048 sequences. Published decoding uses 1-10 beams; past 64 is a typo.
MAX_BEAMS = 64


class InputLimitError(ValueError):
    """A file or value beyond what the plugin reads: not a regular file, too large, nested too deep."""


def read_text_file(path: str | os.PathLike[str], *, what: str, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of the regular file ``path``, read only when it is at most ``limit`` bytes.

    Devices, pipes and folders are refused before anything is read (``/dev/zero`` never ends).
    Raises InputLimitError (or OSError / UnicodeDecodeError) with ``what`` naming the file's role.
    """
    location = Path(path)
    info = location.stat()  # OSError (missing, no permission) is the caller's to word
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a device, pipe or socket)"
        raise InputLimitError(f"{what} {str(path)!r} is {kind}; give a file")
    with location.open("rb") as handle:
        data = handle.read(limit + 1)  # a file that grows while read is still bounded
    if len(data) > limit:
        raise InputLimitError(f"{what} {str(path)!r} is larger than {limit // (1024 * 1024)} MiB; not read")
    return data.decode("utf-8")


def join_surrogate_pairs(text: str) -> str:
    """``text`` with each UTF-16 surrogate pair (``"\\ud83d\\ude00"`` as JSON writes an emoji, which
    PyYAML keeps as two code points) joined into the one character it encodes; lone halves stay."""
    if not any("\ud800" <= char <= "\udfff" for char in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def lone_surrogate(text: str) -> int | None:
    """The index of the first lone surrogate code point in ``text`` (not encodable as UTF-8), or None."""
    for index, char in enumerate(text):
        if "\ud800" <= char <= "\udfff":
            return index
    return None


def reject_json_constant(name: str) -> float:
    """``parse_constant`` for ``json.loads``: NaN and Infinity are not JSON numbers; refuse them."""
    raise ValueError(f"{name} is not a number (NaN and infinities are refused)")


def data_size_problem(data: Any, *, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH) -> str | None:
    """Why ``data`` (parsed JSON: a tree, no shared parts) is beyond the limits, or None. Costs at
    most ``max_nodes`` steps."""
    count = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > max_nodes:
            return f"it holds more than {max_nodes:,} values"
        if depth > max_depth:
            return f"it nests deeper than {max_depth} levels"
        if isinstance(value, Mapping):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend((item, depth + 1) for item in value)
    return None


def _check_node(node: yaml.Node, depth: int, memo: dict[int, tuple[int, int]], active: set[int]) -> tuple[int, int]:
    """(expanded size, height) of a composed YAML node; raises InputLimitError beyond the limits.
    Memoised per node, so an alias bomb costs as much as its text, not as its expansion."""
    known = memo.get(id(node))
    if known is None:
        if id(node) in active:
            raise InputLimitError("a value contains itself (a recursive YAML alias)")
        if depth > MAX_DEPTH:
            raise InputLimitError(f"it nests deeper than {MAX_DEPTH} levels")
        size, height = 1, 1
        if isinstance(node, yaml.ScalarNode):
            node.value = join_surrogate_pairs(node.value)
        else:
            active.add(id(node))
            children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
            for child in children:
                child_size, child_height = _check_node(child, depth + 1, memo, active)
                size += child_size
                height = max(height, child_height + 1)
                if size > MAX_NODES:
                    raise InputLimitError(
                        f"it expands to more than {MAX_NODES:,} values (a YAML alias counts once per use)"
                    )
            active.discard(id(node))
        known = memo[id(node)] = (size, height)
    if depth + known[1] - 1 > MAX_DEPTH:
        raise InputLimitError(f"it nests deeper than {MAX_DEPTH} levels")
    return known


class _DepthLimitedComposer:
    """Mixed into a loader: stops composing at MAX_DEPTH, before the composer's recursion (which
    formats a RecursionError slowly, after thousands of frames) gets deep."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH + 1:  # +1: the document's root node
                raise InputLimitError(f"it nests deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth -= 1


_BOUNDED_LOADERS: dict[type[yaml.SafeLoader], type[yaml.SafeLoader]] = {}


def _bounded(loader_class: type[yaml.SafeLoader]) -> type[yaml.SafeLoader]:
    bounded = _BOUNDED_LOADERS.get(loader_class)
    if bounded is None:
        name = f"DepthLimited{loader_class.__name__}"
        bounded = _BOUNDED_LOADERS[loader_class] = type(name, (_DepthLimitedComposer, loader_class), {})
    return bounded


def load_yaml(text: str, loader_class: type[yaml.SafeLoader] = yaml.SafeLoader) -> Any:
    """``yaml.load`` with a safe loader, refusing documents that expand beyond MAX_NODES values or
    nest deeper than MAX_DEPTH (checked on the composed nodes, before anything is built), and with
    surrogate pairs in strings joined. Raises yaml.YAMLError or InputLimitError."""
    loader = _bounded(loader_class)(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise InputLimitError(f"it nests deeper than {MAX_DEPTH} levels") from None
        if node is None:
            return None
        _check_node(node, 1, {}, set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


class _BoundedRepr(reprlib.Repr):
    def repr_float(self, value: float, level: int) -> str:
        return repr(value) if math.isfinite(value) else str(value)

    def repr_int(self, value: int, level: int) -> str:
        # str(int) of more than 4,300 digits raises; a long number is described, not printed
        if value.bit_length() > 128:
            return f"<an integer of about {int(value.bit_length() * 0.30103)} digits>"
        return repr(value)


_REPR = _BoundedRepr()
_REPR.maxlevel = 3
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = _REPR.maxset = 8
_REPR.maxstring = _REPR.maxother = 120


def bounded_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` for a message, at most ``limit`` characters (plus a size note), computed
    without formatting more than a few items of any container: a value's size never shows in the
    time a message takes. Long containers and strings say how long they were."""
    text = _REPR.repr(value)
    size = ""
    if isinstance(value, (str, list, tuple, dict, set)) and len(value) > 8:
        size = f" ({len(value):,} {'chars' if isinstance(value, str) else 'items'})"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text + size
