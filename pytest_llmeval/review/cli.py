"""``llmeval review``: serve the review app, print its statistics, export and import judgements.

    llmeval review [--run RUN | --pairwise A B] [--dimensions A,B,C] [--host HOST] [--port N]
    llmeval review stats [--run RUN] [--pairwise A B]   (both may be given)
    llmeval review export [--out PATH] [--dpo]
    llmeval review import FILE

``--history`` and ``--reviews`` may stand before or after the action.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from pytest_llmeval.review.store import (
    DEFAULT_DIMENSIONS,
    ReviewStore,
    ReviewStoreError,
    check_dimensions,
    reviews_path,
)

__all__ = [
    "ReviewError",
    "add_review_parser",
    "parse_dimensions",
    "pytest_ini_value",
    "resolve_dimensions",
    "run_review",
]

ReviewError = ReviewStoreError
DEFAULT_PORT = 8765


def parse_dimensions(text: str) -> tuple[str, ...]:
    """``"helpfulness, tone"`` -> ``("helpfulness", "tone")``; argparse-friendly errors."""
    try:
        return check_dimensions(part.strip() for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


INI_DIMENSIONS = "llm_review_dimensions"


def pytest_ini_value(key: str, start: Path) -> tuple[str, Path] | None:
    """``key``'s value in the pytest configuration file that governs ``start`` (found the way pytest
    finds it: the nearest folder upwards with pytest.ini, .pytest.ini, a pyproject.toml with
    [tool.pytest.ini_options], a tox.ini with [pytest] or a setup.cfg with [tool:pytest]), and that file."""
    import iniconfig

    for folder in [start, *start.parents]:
        for name, section in (
            ("pytest.ini", "pytest"),
            (".pytest.ini", "pytest"),
            ("pyproject.toml", None),
            ("tox.ini", "pytest"),
            ("setup.cfg", "tool:pytest"),
        ):
            path = folder / name
            if not path.is_file():
                continue
            if section is None:
                table = _pyproject_pytest_table(path)
                if table is None:
                    continue
                value = table.get(key)
                if isinstance(value, list):
                    return ", ".join(str(v) for v in value), path
                return None if value is None else (str(value), path)
            try:
                config = iniconfig.IniConfig(str(path))
            except iniconfig.ParseError as exc:
                raise ReviewStoreError(f"cannot read {path}: {exc}") from None
            if section in config:
                value = config[section].get(key)
                return None if value is None else (value, path)
            if name in ("pytest.ini", ".pytest.ini"):
                return None  # pytest.ini governs even without a [pytest] section
    return None


def _pyproject_pytest_table(path: Path) -> dict[str, Any] | None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: tomli is pytest's own dependency there
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReviewStoreError(f"cannot read {path}: {exc}") from None
    table = data.get("tool", {}).get("pytest", {}).get("ini_options")
    return table if isinstance(table, dict) else None


def resolve_dimensions(given: tuple[str, ...] | None, start: Path) -> tuple[str, ...]:
    """``--dimensions`` when given, else ``llm_review_dimensions`` from the pytest ini, else the defaults."""
    if given is not None:
        return given
    found = pytest_ini_value(INI_DIMENSIONS, start)
    if found is None:
        return DEFAULT_DIMENSIONS
    value, path = found
    try:
        return parse_dimensions(value.replace("\n", ",").replace("\r", ","))
    except argparse.ArgumentTypeError as exc:
        raise ReviewStoreError(f"{path}: {INI_DIMENSIONS}: {exc}") from None


def _port(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number 0..65535 (0: any free port)")
    return number


def add_review_parser(commands: Any, history: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``review`` and its actions to the ``llmeval`` subcommands."""
    review = commands.add_parser(
        "review",
        help="rate outputs in a local web app (Likert or blind pairwise); stats, export, import",
        description="Without an action: serve the review app over the run history on 127.0.0.1.",
    )

    def files(sub: argparse.ArgumentParser, suppress: bool) -> None:
        if suppress:  # on an action: only set when given there, so the value before the action stays
            sub.add_argument("--history", default=argparse.SUPPRESS, metavar="PATH", help="run history file")
        else:
            history(sub)
        sub.add_argument(
            "--reviews",
            default=argparse.SUPPRESS if suppress else None,
            metavar="PATH",
            help="review file (default: reviews.db next to the history)",
        )

    def runs(sub: argparse.ArgumentParser, suppress: bool, both: bool = False) -> None:
        # The app reviews one thing at a time; stats shows the Likert run and the pair together.
        which = sub.add_argument_group() if both else sub.add_mutually_exclusive_group()
        which.add_argument(
            "--run",
            default=argparse.SUPPRESS if suppress else "latest",
            metavar="RUN",
            help="Likert: rate this run's outputs (id, prefix, latest, previous; default latest)",
        )
        which.add_argument(
            "--pairwise",
            nargs=2,
            default=argparse.SUPPRESS if suppress else None,
            metavar=("A", "B"),
            help="pairwise: compare run A (the candidate) with run B, blind",
        )

    files(review, suppress=False)
    runs(review, suppress=False)
    review.add_argument(
        "--dimensions",
        type=parse_dimensions,
        default=None,
        metavar="A,B,C",
        help=f"Likert dimensions, comma-separated (default: the ini's {INI_DIMENSIONS}, else "
        f"{','.join(DEFAULT_DIMENSIONS)})",
    )
    review.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    review.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free port)"
    )
    actions = review.add_subparsers(dest="review_command", metavar="ACTION")

    stats = actions.add_parser("stats", help="Likert means, win rate, agreement between annotators and with the judge")
    files(stats, suppress=True)
    runs(stats, suppress=True, both=True)
    stats.add_argument("--json", action="store_true", help="print the numbers as JSON (undefined ones as null)")

    export = actions.add_parser("export", help="write the judgements as JSONL (or DPO preference pairs with --dpo)")
    files(export, suppress=True)
    export.add_argument(
        "--out",
        default=None,
        metavar="PATH",
        help="file to write (default llmeval-judgements.jsonl, or llmeval-dpo.jsonl with --dpo)",
    )
    export.add_argument(
        "--dpo",
        action="store_true",
        help="prompt/chosen/rejected rows from the pairwise judgements, as TRL's DPOTrainer reads them",
    )

    imported = actions.add_parser("import", help="add the judgements of an exported JSONL file")
    files(imported, suppress=True)
    imported.add_argument("file", metavar="FILE", help="a JSONL file written by llmeval review export")


def _require(*modules: str) -> None:
    """The optional libraries of ``llmeval review`` are installed, or one error saying how to get them."""
    import importlib.util

    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise ReviewStoreError(f"llmeval review needs {', '.join(missing)}: pip install 'pytest-llmeval[review]'")


def run_review(args: argparse.Namespace, out: TextIO) -> int:
    """Carry out ``llmeval review [ACTION]``; errors are ReviewStoreError/StoreError (exit 2)."""
    store = ReviewStore(args.reviews if args.reviews is not None else reviews_path(args.history))
    action = getattr(args, "review_command", None)
    if action == "stats":
        return _stats(args, store, out)
    if action == "export":
        return _export(args, store, out)
    if action == "import":
        added, present = store.import_jsonl(args.file)
        print(
            f"imported {added} {'judgement' if added == 1 else 'judgements'} from {args.file} into {store.path} "
            f"({present} already there)",
            file=out,
        )
        return 0
    return _serve(args, store, out)


def _stats(args: argparse.Namespace, store: ReviewStore, out: TextIO) -> int:
    _require("scipy", "krippendorff")
    from pytest_llmeval.review.results import review_results

    pair = tuple(args.pairwise) if args.pairwise else None
    results = review_results(args.history, store.path, run=args.run, pairwise=pair)
    if args.json:
        import json

        print(json.dumps(results.to_dict(), indent=2, allow_nan=False), file=out)
    else:
        print(results.format(), file=out)
    return 0


def _export(args: argparse.Namespace, store: ReviewStore, out: TextIO) -> int:
    if args.dpo:
        from pytest_llmeval.review.store import write_dpo_jsonl

        path = Path(args.out or "llmeval-dpo.jsonl")
        count = write_dpo_jsonl(path, store.current(kind="pairwise"))
        print(
            f"wrote {count} preference {'pair' if count == 1 else 'pairs'} (prompt/chosen/rejected; ties left "
            f"out) to {path}",
            file=out,
        )
        return 0
    path = Path(args.out or "llmeval-judgements.jsonl")
    count = store.export_jsonl(path)
    print(f"wrote {count} {'judgement' if count == 1 else 'judgements'} to {path}", file=out)
    return 0


def _cases_have(count: int) -> str:
    return f"{count} case has" if count == 1 else f"{count} cases have"


def _serve(args: argparse.Namespace, store: ReviewStore, out: TextIO) -> int:
    _require("starlette", "uvicorn")
    dimensions = resolve_dimensions(args.dimensions, Path.cwd())
    from pytest_llmeval.review.app import ReviewApp, serve
    from pytest_llmeval.review.items import likert_plan, pairwise_plan

    if args.pairwise:
        try:
            plan = pairwise_plan(args.history, *args.pairwise)
        except ValueError as exc:
            raise ReviewStoreError(str(exc)) from None
    else:
        plan = likert_plan(args.history, args.run, store)
    if plan.identical:
        print(f"{_cases_have(plan.identical)} the same output in both runs: not asked", file=out)
    if plan.without_output:
        print(f"{_cases_have(plan.without_output)} no text output: not asked", file=out)
    changed = sum(1 for item in plan.items if item.needs_review)
    if changed:
        print(f"{changed} outputs changed since their case was rated: queued first", file=out)
    try:
        serve(ReviewApp(plan, store, dimensions), host=args.host, port=args.port, out=out)
    except KeyboardInterrupt:
        pass
    return 0
