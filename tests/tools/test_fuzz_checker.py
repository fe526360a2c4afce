"""Issue 9 item 13: random YAML, templates and Unicode given to the loader and checker end in
diagnostics, never a traceback or a hang. Bounded (about 20 s in all) so `make test` stays fast."""

from __future__ import annotations

import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.engine.checker import check_bot

HEADER = "version: 1\nbot:\n  id: fuzz\nflows: [flows/*.yaml]\n"
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,  # the same inputs every run: a failure is reproducible
)
PER_INPUT_SECONDS = 10

JINJA_BITS = st.sampled_from(
    [
        "{{",
        "}}",
        "{%",
        "%}",
        "{#",
        "#}",
        " ** ",
        " * ",
        "9",
        "999999",
        "range(",
        ")",
        "lipsum(",
        "conv.",
        "env.",
        "flow.n",
        "|",
        "money",
        "for x in ",
        "endfor",
        "if",
        "endif",
        "[",
        "]",
        "'",
        '"',
        "\\",
        "\u202e",
        "\udc80",
        "\x00",
        "é",
        "\U0001d518",
        " ",
        "\n",
        ":",
        "-",
    ]
)
TEMPLATE = st.lists(JINJA_BITS, max_size=12).map("".join) | st.text(max_size=40)
KEYS = st.sampled_from(
    [
        "say",
        "ask",
        "choose",
        "set",
        "if",
        "then",
        "else",
        "goto",
        "call",
        "steps",
        "triggers",
        "keywords",
        "when",
        "into",
        "prompt",
        "id",
        "flows",
        "version",
        "messages",
        "handlers",
        "text",
    ]
) | st.text(max_size=8)
LEAF = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | TEMPLATE
TREE = st.recursive(
    LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=30
)


def _flow_document(tree: Any) -> str:
    return yaml.safe_dump({"version": 1, "flows": tree}, allow_unicode=True)


class _Timeout(Exception):
    pass


def _check(flow_text: str) -> None:
    root = Path(tempfile.mkdtemp())
    try:
        (root / "bots").mkdir()
        (root / "flows").mkdir()
        (root / "bots" / "fuzz.yaml").write_text(HEADER, encoding="utf-8")
        (root / "flows" / "main.yaml").write_text(flow_text, encoding="utf-8", errors="surrogatepass")

        def hang(*_: Any) -> None:
            raise _Timeout(f"check took more than {PER_INPUT_SECONDS} s on {flow_text!r}")

        previous = signal.signal(signal.SIGALRM, hang)
        signal.alarm(PER_INPUT_SECONDS)
        try:
            result = check_bot(root / "bots" / "fuzz.yaml", root)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        for d in result.diagnostics:
            assert d.line >= 0 and d.col >= 0 and d.message
    finally:
        shutil.rmtree(root, ignore_errors=True)


@FUZZ
@given(TREE)
def test_random_flow_structures_end_in_diagnostics(tree: Any) -> None:
    _check(_flow_document(tree))


@FUZZ
@given(st.text(max_size=200))
def test_random_unicode_text_ends_in_diagnostics(text: str) -> None:
    _check(text)


@FUZZ
@given(TEMPLATE, st.sampled_from(["say", "when", "set"]))
def test_random_templates_in_a_valid_flow_end_in_diagnostics(template: str, where: str) -> None:
    step: dict[str, Any] = {"say": template}
    if where == "when":
        step = {"say": "hi", "when": template}
    elif where == "set":
        step = {"set": {"conv.x": template}}
    tree = {"main": {"triggers": [{"keywords": ["go"]}], "steps": [step]}}
    _check(_flow_document(tree))
