"""The Makefile finds a Python >= 3.11, says so in one line when there is none, and rebuilds a
.venv made by a wrong Python. Run on a copy of the Makefile with fake Pythons on PATH."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="no make on this machine")


def _python(path: Path, minor: int) -> None:
    """A fake `python3.x`: answers the version check as Python 3.minor would."""
    ok = "0" if minor >= 11 else "1"
    path.write_text(f'#!/bin/sh\n[ "$1" = -c ] && exit {ok}\necho "$0 $*"\n')
    path.chmod(0o755)


def _make(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert MAKE is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("rm", "touch"):
        found = shutil.which(tool)
        if found and not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(found)
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").write_text("")
    return subprocess.run(
        [MAKE, *args],
        cwd=tmp_path,
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_no_python_311_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    _python(tmp_path / "bin" / "python3", 9)
    done = _make(tmp_path, "test")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.endswith(
        "*** no Python >= 3.11 found (tried python3.12, python3.11, python3.13, python3): "
        "install one, or run make PYTHON=/path/to/python3.11.  Stop."
    )
    assert not (tmp_path / ".venv").exists()


def test_the_first_python_311_or_newer_is_used(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    _python(tmp_path / "bin" / "python3.12", 10)  # a python3.12 that is not one (a broken shim)
    _python(tmp_path / "bin" / "python3.11", 11)
    _python(tmp_path / "bin" / "python3", 9)
    done = _make(tmp_path, "-n", ".venv/bin/python")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "python3.11 -m venv .venv"


def test_a_venv_made_by_a_wrong_python_is_rebuilt(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    _python(tmp_path / "bin" / "python3.12", 12)
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    _python(tmp_path / ".venv" / "bin" / "python", 10)  # made by python3.10 earlier
    (tmp_path / ".venv" / ".installed").touch()
    done = _make(tmp_path, "-n", ".venv/.installed")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == ".venv was not made by a Python >= 3.11: rebuilding it"
    assert lines[1] == "python3.12 -m venv .venv"
    assert not (tmp_path / ".venv").exists()


def test_a_good_venv_is_kept(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    _python(tmp_path / "bin" / "python3.12", 12)
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    _python(tmp_path / ".venv" / "bin" / "python", 12)
    done = _make(tmp_path, "-n", ".venv/bin/python")
    assert done.returncode == 0, done.stderr
    assert "rebuilding" not in done.stdout and (tmp_path / ".venv" / "bin" / "python").exists()
