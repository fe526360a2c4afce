"""The benchmark runs end to end (tiny counts): its figures are not checked, only that every
part runs and prints each figure next to its goal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_runs_in_tiny_mode() -> None:
    done = subprocess.run(
        [sys.executable, "bench/collect.py", "--tiny"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for figure in (
        "POST /messages, c=4:",
        "collect (FAQ answer), c=4:",
        "collect p50 at c=1:",
        "parked collect memory:",
        "parked collects all woken in",
        "one engine turn (FAQ answer):",
    ):
        assert figure in done.stdout, done.stdout
    assert "answered as expected" not in done.stdout, done.stdout  # every parked request got its answer
