"""Run by test_fuzz_case_files.py in a child process under a memory limit: hypothesis writes hostile
case files (YAML and JSONL, valid and not), each example runs a whole pytest session on them with a
`py:` pipeline that returns hostile outputs, and the session must end with an error item or a result
for every file: never INTERNALERROR, an interrupted collection, a hang or unbounded memory.

Usage: python fuzz_case_files_child.py WORKDIR MAX_EXAMPLES MEMORY_LIMIT_BYTES
Exit 0 when every example held; otherwise hypothesis's falsifying example is printed.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

SESSION_SECONDS = 20  # one session on a handful of tiny files takes well under a second

BOT = """
import hashlib

OUTPUTS = [
    "hello there",
    "lone \\ud800 high",
    "\\x1b[31mred\\x07 bell\\x00 nul",
    "",
    '{"name": "Ann", "age": 31}',
    "I can't help with that.",
    "word " * 2000,
    "\\u202eevil\\u202c and \\U0001f600",
]


def answer(prompt, **params):
    text = prompt if isinstance(prompt, str) else repr(prompt)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return OUTPUTS[digest[0] % len(OUTPUTS)]
"""

CHECK_NAMES = [
    "contains",
    "contains_all",
    "contains_any",
    "ends_with",
    "equals",
    "grounded",
    "is_json",
    "json_schema",
    "length",
    "no_bias_terms",
    "no_hallucinations",
    "no_pii",
    "no_refusal",
    "no_repetition",
    "not_garbled",
    "one_of",
    "pydantic",
    "refusal",
    "regex",
    "rouge_l",
    "bleu",
    "starts_with",
    "not_contains",
    "contain_any",
    "judge",
    "perplexity",
]

ALIAS_BOMB = "\n".join(
    ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    + ["cases:", "  - prompt: hi", "    expect: {contains_any: *a8}", ""]
)


def strategies() -> Any:
    from hypothesis import strategies as st

    hostile_text = st.one_of(
        st.text(max_size=30),
        st.sampled_from(["\ud800", "\ud83d\ude00", "a\x00b", "\x1b[2J", "skip", "xfail", "{q}", "[x]", "a:b", " "]),
        st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=10),
    )
    numbers = st.one_of(
        st.integers(min_value=-(10**30), max_value=10**30),
        st.integers(min_value=10**399, max_value=10**401),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([0, 1, -1, 0.5, 2**63, 2**64]),
    )
    scalars = st.one_of(st.none(), st.booleans(), numbers, hostile_text)
    values = st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(hostile_text, inner, max_size=4)),
        max_leaves=12,
    )
    expect = st.dictionaries(st.sampled_from(CHECK_NAMES), values, max_size=3)
    case = st.fixed_dictionaries(
        {},
        optional={
            "id": st.one_of(hostile_text, numbers),
            "prompt": st.one_of(hostile_text, values),
            "messages": values,
            "vars": values,
            "system": st.one_of(hostile_text, values),
            "expect": st.one_of(expect, values),
            "tags": st.one_of(st.lists(hostile_text, max_size=3), values),
            "reference": hostile_text,
            "xfail": hostile_text,
            "tolerance": st.one_of(st.dictionaries(st.sampled_from(["rouge_l", "bleu"]), numbers, max_size=2), values),
            "temperature": numbers,
            "seed": numbers,
            "do_sample": st.booleans(),
            "max_new_tokens": numbers,
            "top_p": numbers,
            "stop": values,
            "label": hostile_text,
            "max_tokens": numbers,
        },
    )
    structured = st.fixed_dictionaries(
        {"cases": st.one_of(st.lists(case, min_size=1, max_size=4), values)},
        optional={
            "defaults": st.one_of(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "tags": values,
                        "prompt_template": hostile_text,
                        "tolerance": values,
                        "temperature": numbers,
                    },
                ),
                values,
            ),
            "pass_rate": numbers,
            "tag_pass_rates": st.one_of(st.dictionaries(hostile_text, numbers, max_size=2), values),
            "classification": values,
        },
    )

    def as_yaml(data: dict[str, Any]) -> tuple[str, str]:
        # JSON is YAML: escapes (\ud800), NaN and huge numbers arrive as a JSON writer leaves them
        return ".eval.yaml", json.dumps(data, indent=1)

    def as_jsonl(data: dict[str, Any]) -> tuple[str, str]:
        cases = data["cases"] if isinstance(data["cases"], list) else [data["cases"]]
        return ".eval.jsonl", "".join(json.dumps(c) + "\n" for c in cases)

    raw = st.one_of(
        st.text(max_size=200).map(lambda t: (".eval.yaml", t)),
        st.text(max_size=200).map(lambda t: (".eval.jsonl", t)),
        st.sampled_from(
            [
                (".eval.yaml", ALIAS_BOMB),
                (".eval.yaml", "cases: 5\n"),
                (".eval.yaml", "cases:\n  - prompt: hi\n    expect: {contains: " + "[" * 3000 + "]" * 3000 + "}\n"),
                (".eval.yaml", "a: &a [*a]\ncases: *a\n"),
                (".eval.jsonl", '{"prompt": "hi", "seed": ' + "9" * 5000 + "}\n"),
                (".eval.jsonl", '{"prompt": "hi", "vars": ' + "[" * 50000 + "]" * 50000 + "}\n"),
            ]
        ),
    )
    # Cases that load, so outputs are generated and checked too (hostile outputs, hostile arguments)
    plain = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20)
    valid_case = st.fixed_dictionaries(
        {
            "prompt": plain,
            "expect": st.dictionaries(
                st.sampled_from(["contains", "not_contains", "equals", "regex", "starts_with"]), plain, max_size=2
            ),
        },
        optional={
            "id": st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True),
            "tags": st.lists(st.from_regex(r"[a-z_]{1,6}", fullmatch=True), max_size=2),
        },
    )
    loading = st.lists(valid_case, min_size=1, max_size=3).map(lambda cases: {"cases": cases})
    one_file = st.one_of(
        structured.map(as_yaml), structured.map(as_jsonl), raw, loading.map(as_yaml), loading.map(as_jsonl)
    )
    return st.lists(one_file, min_size=1, max_size=4)


class Reports:
    """Counts the reports of each case file's items (an error item or a result counts)."""

    def __init__(self) -> None:
        self.files: set[str] = set()

    def pytest_runtest_logreport(self, report: Any) -> None:
        self.files.add(report.nodeid.split("::")[0])


def _timeout(signum: int, frame: Any) -> None:
    raise TimeoutError(f"a session ran longer than {SESSION_SECONDS} s (a hang)")


def main() -> int:
    workdir, max_examples, memory_limit = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    import pytest
    from hypothesis import HealthCheck, given, settings

    (workdir / "bot.py").write_text(BOT, encoding="utf-8")
    (workdir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    sys.path.insert(0, str(workdir))
    os.chdir(workdir)
    counter = iter(range(10**9))

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategies())
    def session_survives(files: list[tuple[str, str]]) -> None:
        folder = workdir / f"s{next(counter)}"
        folder.mkdir()
        names = []
        for index, (suffix, text) in enumerate(files):
            name = f"f{index}{suffix}"
            (folder / name).write_bytes(text.encode("utf-8", "surrogatepass"))
            names.append(name)
        reports = Reports()
        signal.signal(signal.SIGALRM, _timeout)
        signal.alarm(SESSION_SECONDS)
        try:
            code = pytest.main(
                [
                    str(folder),
                    "--llm-model=py:bot:answer",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    f"--rootdir={folder}",
                    "-c",
                    str(workdir / "pytest.ini"),
                    "--llm-cache=off",
                    "-W",
                    "ignore::pytest.PytestAssertRewriteWarning",
                ],
                plugins=[reports],
            )
        finally:
            signal.alarm(0)
        shutil.rmtree(folder, ignore_errors=True)
        assert code in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), f"exit {code!r} for {files!r}"
        reported = {node.split("/")[-1] for node in reports.files}
        assert reported == set(names), f"files without an error item or result: {sorted(set(names) - reported)}"

    session_survives()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"fuzz: {max_examples} sessions held; peak memory {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
