"""Fuzzing: hypothesis writes hostile case files; every session must end with an error item or a
result for each file, never INTERNALERROR, an interrupted collection, a hang or unbounded memory.

The sessions run in a child process (fuzz_case_files_child.py) under a 3 GiB address-space limit, so
a file that makes memory grow without bound fails the test instead of the machine, and under a wall
clock limit, so a hang fails it too. Hypothesis is derandomised: the same examples every run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("fuzz_case_files_child.py")
MAX_EXAMPLES = 12
MEMORY_LIMIT = 3 * 1024**3
PEAK_MB_ALLOWED = 1024  # a session on a few tiny files needs ~250 MB; a bomb would need gigabytes


@pytest.mark.skipif(sys.platform == "win32", reason="resource limits and SIGALRM are POSIX")
def test_hostile_case_files_never_end_hang_or_exhaust_a_session(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTEST_ADDOPTS": "",
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    result = subprocess.run(
        [sys.executable, str(CHILD), str(tmp_path), str(MAX_EXAMPLES), str(MEMORY_LIMIT)],
        capture_output=True,
        text=True,
        errors="backslashreplace",
        env=env,
        timeout=300,
        check=False,
    )
    tail = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, tail
    found = re.search(r"fuzz: (\d+) sessions held; peak memory (\d+) MB", result.stdout)
    assert found, tail
    assert int(found.group(1)) == MAX_EXAMPLES
    assert int(found.group(2)) < PEAK_MB_ALLOWED
    assert "INTERNALERROR" not in result.stdout + result.stderr
