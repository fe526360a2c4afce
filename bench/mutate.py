"""`make mutate`: a small mutation run (issue 9). One mutation at a time is applied to a module
(in a scratch copy of the tree: the working tree is never touched),
the module's tests run (`pytest -x`, bounded), and the file is restored. A mutant the tests
do not fail on "survives". Prints the score per module and the survivors.

    .venv/bin/python bench/mutate.py [--sample N] [--seed S] [MODULE ...]

`--sample N` runs N random mutants per module (a bounded run on a loaded machine).
"""

from __future__ import annotations

import argparse
import ast
import io
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = str(ROOT / ".venv" / "bin" / "python")

# module → (tests to run, function names to mutate or None for the whole module)
STORE_TESTS = [
    "tests/test_store_backends.py",  # the store's contract (SQLite and PostgreSQL)
    "tests/test_store.py",
    "tests/api",
    "tests/hardening",
    "tests/integration/test_dedupe_transaction.py",
]
TARGETS: dict[str, tuple[list[str], set[str] | None]] = {
    "orchestrator/store/sqlite.py": (STORE_TESTS, None),
    "orchestrator/store/postgres.py": (
        ["tests/test_store_backends.py", "tests/test_store_postgres.py"],
        None,
    ),
    "orchestrator/services/collect.py": (["tests/api/test_collect.py", "tests/hardening"], None),
    "orchestrator/services/messages.py": (["tests/api", "tests/hardening", "tests/integration"], None),
    "orchestrator/channels/tiledesk.py": (
        ["tests/channels/test_channel_tiledesk.py", "tests/hardening"],
        {"verify"},
    ),
    "orchestrator/channels/chat21.py": (
        ["tests/channels/test_channel_chat21.py", "tests/hardening"],
        {"verify"},
    ),
    "orchestrator/channels/qiscus.py": (
        ["tests/channels/test_channel_qiscus.py", "tests/hardening"],
        {"verify"},
    ),
    "orchestrator/channels/messagemedia.py": (["tests/channels/test_channel_messagemedia.py"], {"verify"}),
    **{
        f"orchestrator/channels/{name}.py": (
            [f"tests/channels/test_channel_{name}.py", "tests/hardening"],
            {"verify"},
        )
        for name in ("telegram", "slack", "twilio", "smooch", "vonage")
    },
    "orchestrator/channels/meta_webhook.py": (
        [
            "tests/channels/test_channel_messenger.py",
            "tests/channels/test_channel_whatsapp.py",
            "tests/hardening",
        ],
        None,
    ),
    "orchestrator/channels/replay.py": (["tests/hardening/test_tiledesk_replay.py"], None),
    "orchestrator/engine/matching.py": (["tests/engine"], None),
}

# Whole-API runs that take long and target none of these modules in particular.
IGNORED = ["--ignore=tests/api/test_schemathesis.py"]

SWAPS = [
    (" AND ", " OR "),
    (" OR ", " AND "),
    (" and ", " or "),
    (" or ", " and "),
    (" == ", " != "),
    (" != ", " == "),
    (" <= ", " < "),
    (" >= ", " > "),
    (" < ", " <= "),
    (" > ", " >= "),
    ("return True", "return False"),
    ("return False", "return True"),
    ("if not ", "if "),
    (" + 1", " - 1"),
    (" - 1", " + 1"),
    ("DO UPDATE SET", "DO NOTHING --"),
    ("min(", "max("),
    ("max(", "min("),
]


@dataclass(frozen=True)
class Mutant:
    module: str
    line: int
    description: str
    new_line: str


def _lines_in_scope(tree: ast.Module, names: set[str] | None, total: int) -> set[int]:
    if names is None:
        scope = set(range(1, total + 1))
    else:
        scope = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names:
                scope.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.update(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
    return scope - docstrings


def _statement_lines(tree: ast.Module) -> set[int]:
    """Lines holding a whole one-line statement that can be replaced by `pass`."""
    found = set()
    for node in ast.walk(tree):
        simple = isinstance(node, ast.Expr | ast.Assign | ast.AugAssign | ast.Raise | ast.Return)
        docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if simple and not docstring and node.lineno == node.end_lineno:
            found.add(node.lineno)
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and len(block) == 1:
                found.discard(block[0].lineno)  # a lone statement: `pass` keeps the block valid anyway
    return found


def _comment_columns(source: str) -> dict[int, int]:
    """Line → column where its comment starts (a change there is an equivalent mutant)."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {tok.start[0]: tok.start[1] for tok in tokens if tok.type == tokenize.COMMENT}


def mutants(module: str, names: set[str] | None) -> list[Mutant]:
    source = (ROOT / module).read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    scope = _lines_in_scope(tree, names, len(lines))
    comments = _comment_columns(source)
    found: list[Mutant] = []
    for number in sorted(scope):
        text = lines[number - 1]
        stripped = text.strip()
        if not stripped or stripped.startswith(
            ("#", "import ", "from ", "def ", "async def ", "class ", "@")
        ):
            continue
        for old, new in SWAPS:
            for match in re.finditer(re.escape(old), text):
                if match.start() >= comments.get(number, len(text)):
                    continue
                mutated = text[: match.start()] + new + text[match.end() :]
                found.append(Mutant(module, number, f"{old.strip()} -> {new.strip()}", mutated))
    for number in sorted(_statement_lines(tree) & scope):
        text = lines[number - 1]
        indent = text[: len(text) - len(text.lstrip())]
        found.append(Mutant(module, number, f"delete `{text.strip()[:50]}`", indent + "pass"))
    return found


def scratch_copy() -> Path:
    """A copy of the tree to mutate, so the working tree is never touched (an interrupted run
    leaves no mutant behind). Its tests import the copy: pytest runs with the copy as cwd."""
    target = Path(tempfile.mkdtemp(prefix="mutate-"))
    skip = shutil.ignore_patterns(".venv", ".git", "data", "test-artifacts", "__pycache__", ".*cache")
    shutil.copytree(ROOT, target / "tree", ignore=skip)
    return target / "tree"


def run_tests(tree: Path, tests: list[str], timeout: float) -> str:
    try:
        done = subprocess.run(
            [PY, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *IGNORED, *tests],
            cwd=tree,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return "killed (timeout)"
    return "killed" if done.returncode != 0 else "survived"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=int, default=0, help="random mutants per module (0: all)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("modules", nargs="*")
    args = parser.parse_args()
    chosen = args.modules or list(TARGETS)
    rng = random.Random(args.seed)
    tree = scratch_copy()
    totals = [0, 0]
    for module in chosen:
        tests, names = TARGETS[module]
        every = mutants(module, names)
        picked = rng.sample(every, min(args.sample, len(every))) if args.sample else every
        path = tree / module
        original = path.read_text()
        survivors, tried = [], 0
        started = time.monotonic()
        for mutant in picked:
            lines = original.splitlines(keepends=True)
            lines[mutant.line - 1] = mutant.new_line + "\n"
            try:
                compile("".join(lines), module, "exec")
            except SyntaxError:
                continue  # not a mutant at all: not counted
            tried += 1
            try:
                path.write_text("".join(lines))
                outcome = run_tests(tree, tests, args.timeout)
            finally:
                path.write_text(original)
            if outcome == "survived":
                survivors.append(mutant)
        killed = tried - len(survivors)
        totals[0] += killed
        totals[1] += tried
        score = 100 * killed / tried if tried else 100
        print(
            f"{module}: {killed}/{tried} killed ({score:.0f}%) of {len(every)} mutants,"
            f" {time.monotonic() - started:.0f} s",
            flush=True,
        )
        for mutant in survivors:
            print(f"  survived {module}:{mutant.line}: {mutant.description}", flush=True)
    if totals[1]:
        print(f"overall: {totals[0]}/{totals[1]} killed ({100 * totals[0] / totals[1]:.0f}%)")
    shutil.rmtree(tree.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
