"""What the installed plugin costs a pytest run that has no LLM tests.

Measures, in fresh processes with the same environment on both sides:
- importing ``pytest_llmeval.plugin`` on top of ``pytest`` (what every pytest run pays at start-up),
- a whole ``pytest`` run of one trivial test with the plugin, and with ``-p no:llmeval``.

Prints medians of N runs (default 7) and the difference. Run: ``python benchmarks/plugin_overhead.py``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPORT = (
    "import time, pytest; t = time.perf_counter(); import pytest_llmeval.plugin; "
    "print(time.perf_counter() - t)"
)


def _median_import(repeats: int) -> float:
    times = [float(subprocess.check_output([sys.executable, "-c", IMPORT], text=True)) for _ in range(repeats)]
    return statistics.median(times)


def _median_run(folder: Path, extra: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra],
            cwd=folder, check=True, capture_output=True,
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(repeats: int = 7) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        (folder / "test_plain.py").write_text("def test_one():\n    assert 1 + 1 == 2\n", encoding="utf-8")
        imported = _median_import(repeats)
        with_plugin = _median_run(folder, [], repeats)
        without = _median_run(folder, ["-p", "no:llmeval"], repeats)
    print(f"import pytest_llmeval.plugin after pytest: {imported * 1000:.1f} ms (median of {repeats})")
    print(f"pytest run, one plain test, with the plugin:    {with_plugin:.3f} s")
    print(f"pytest run, one plain test, -p no:llmeval:      {without:.3f} s")
    print(f"the plugin's cost on a run without LLM tests:   {with_plugin - without:+.3f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
