"""Finding and loading test files: `*.test.yaml` discovery, the project root, and parsing with
schema problems reported as positioned diagnostics instead of exceptions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .. import diagnostics as D
from ..diagnostics import Diagnostic, did_you_mean
from ..yaml_loader import SourceMap, parse_yaml
from .models import KNOWN_KEYS, TestFileModel

TEST_SUFFIXES = (".test.yaml", ".test.yml")

_TEST_FILE = TypeAdapter(TestFileModel)


@dataclass
class LoadedTestFile:
    """A parsed test file with its positions and its problems."""

    path: Path
    display: str
    model: TestFileModel | None
    source: SourceMap
    diagnostics: list[Diagnostic]
    __test__ = False


def load_test_file(path: Path, root: Path) -> LoadedTestFile:
    """Parse and validate one test file (diagnostics instead of exceptions)."""
    display = _display(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        diag = Diagnostic(display, 0, 0, "error", D.E_FILE, str(exc))
        return LoadedTestFile(path, display, None, SourceMap(display), [diag])
    parsed = parse_yaml(text, display)
    diags = list(parsed.diagnostics)
    if parsed.data is None or diags:
        if not diags:
            diags.append(Diagnostic(display, 1, 1, "error", D.E_VERSION, "empty file"))
        return LoadedTestFile(path, display, None, parsed.source, diags)
    try:
        model = _TEST_FILE.validate_python(parsed.data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            diags.append(_schema_diagnostic(err, parsed.source))
        return LoadedTestFile(path, display, None, parsed.source, _unique(diags))
    return LoadedTestFile(path, display, model, parsed.source, diags)


def _unique(diags: list[Diagnostic]) -> list[Diagnostic]:
    return sorted(set(diags), key=lambda d: (d.line, d.col, d.code, d.message))


def _schema_diagnostic(err: Any, source: SourceMap) -> Diagnostic:
    loc = tuple(err["loc"])
    kind, msg = err["type"], err["msg"]
    path = source.resolve_loc(loc)
    last = loc[-1] if loc else ""
    key = False
    code = {"extra_forbidden": D.E_UNKNOWN_KEY, "missing": D.E_MISSING}.get(kind, D.E_INVALID)
    if loc == ("version",):
        code = D.E_VERSION
        msg = (
            "the file must start with 'version: 1'"
            if kind == "missing"
            else "unsupported version (expected 1)"
        )
    elif kind == "extra_forbidden":
        key = True
        msg = f"unknown key '{last}'{did_you_mean(str(last), KNOWN_KEYS)}"
    elif kind == "missing":
        msg = f"missing required key '{last}'"
    elif isinstance(last, str) and last and not last[:1].isupper():
        msg = f"'{last}': {msg}"
    line, col = source.pos(path, key=key)
    return Diagnostic(source.file, line, col, "error", code, msg)


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def find_test_files(paths: Sequence[Path]) -> list[Path]:
    """`*.test.yaml` files: the files given, and those under the folders given."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith(TEST_SUFFIXES)))
        elif p.is_file():
            found.append(p)
    unique: dict[Path, Path] = {}
    for f in found:
        unique.setdefault(f.resolve(), f)
    return list(unique.values())


def project_root(path: Path, default: Path) -> Path:
    """The folder holding `bots/` above `path` (the default when there is none)."""
    for parent in [path.resolve(), *path.resolve().parents]:
        if (parent / "bots").is_dir():
            return parent
    return default.resolve()
