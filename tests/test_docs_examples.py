"""Every YAML example of the README and `docs/` goes through `orchestrator check`, so the guide
cannot drift from the engine; and the language guide names every step, handler, trigger,
filter, test and diagnostic code the engine has.

How an example is read (written for doc authors in docs/language/README.md):

- a complete bot, flow or test file (`version: 1` with `bot:`, `flows:` or `tests:`);
- a list: the steps of a flow started by the keyword "example" and by any button payload;
- a mapping with `flows:` but no `version:`: a flow file;
- any other mapping: keys of a bot file, merged into a bot `example`.

An HTML comment right before the fence changes that: `<!-- check: skip -->` (not a bot file),
`<!-- check: expect E201 W222 -->` (exactly these codes), `<!-- check: group NAME -->` (the
blocks of a page with the same group are one project: a bot and its flows and tests).
Test files outside a group are checked against the example support-desk bot.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from orchestrator.engine import models as M
from orchestrator.engine.checker import check_bot
from orchestrator.engine.conversation_tests import TestRunner, load_test_file
from orchestrator.engine.conversation_tests.report import FileOutcome
from orchestrator.engine.diagnostics import CODES
from orchestrator.engine.templating import Templates

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
GUIDE = ROOT / "docs" / "language"
_BLOCK = re.compile(
    r"(?:<!--\s*check:\s*(?P<directive>[^>]*?)\s*-->[ \t]*\n)?^```ya?ml[^\n]*\n(?P<body>.*?)^```",
    re.S | re.M,
)
_HARNESS_BOT = "version: 1\nbot: {id: example}\nflows: [flows/example/*.yaml]\n"
_FILLER_FLOW = "version: 1\nflows:\n  filler:\n    triggers: [{keywords: [filler]}]\n    steps: [{say: hi}]\n"


@dataclass
class Example:
    """One YAML block of a page, with what its directive says."""

    page: str
    line: int
    body: str
    skip: bool = False
    group: str | None = None
    expect: set[str] = field(default_factory=set)

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def _examples() -> list[Example]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in _BLOCK.finditer(text):
            ex = Example(str(page.relative_to(ROOT)), text.count("\n", 0, m.start("body")) + 1, m["body"])
            for item in (m["directive"] or "").split(","):
                word, _, rest = item.strip().partition(" ")
                if word == "skip":
                    ex.skip = True
                elif word == "group":
                    ex.group = rest.strip()
                elif word == "expect":
                    ex.expect = set(rest.split())
                elif word:
                    raise AssertionError(f"{ex.where}: unknown check directive {word!r}")
            found.append(ex)
    return found


EXAMPLES = _examples()


def _kind(body: str, n: int = 0) -> tuple[str, str]:
    """(kind, file text) of one example: bot, flow or test."""
    try:
        data = yaml.safe_load(body)
    except yaml.YAMLError:
        return "flow", body  # a syntax error on purpose (E101): check it as a flow file
    if isinstance(data, list):
        steps = textwrap.indent(body, " " * 6)
        triggers = f"[{{keywords: [example{n}]}}, {{payload: '*'}}]"
        head = f"version: 1\nflows:\n  example{n}:\n    triggers: {triggers}\n"
        return "flow", f"{head}    steps:\n{steps}"
    if not isinstance(data, dict):
        return "flow", body
    if "tests" in data:
        return "test", body
    if "flows" in data and isinstance(data["flows"], dict):
        return "flow", body if "version" in data else "version: 1\n" + body
    if "version" in data and "bot" in data:
        return "bot", body
    head = "version: 1\n" if "version" not in data else ""
    if "bot" not in data:
        head += "bot: {id: example}\n"
    if "flows" not in data:
        head += "flows: [flows/example/*.yaml]\n"
    return "bot", head + body


def _codes(examples: list[Example], project: Path) -> list[str]:
    """Write the examples as one project and check it: the diagnostics, as text lines."""
    bots = [e for e in examples if _kind(e.body)[0] == "bot"]
    assert len(bots) <= 1, f"{examples[0].where}: a group has one bot file at most"
    (project / "bots").mkdir(parents=True)
    (project / "flows" / "example").mkdir(parents=True)
    shutil.copy(ROOT / "bots" / "support_desk_actions.py", project / "bots")  # for `do:` examples
    bot_file = project / "bots" / "example.yaml"
    bot_file.write_text(_kind(bots[0].body)[1] if bots else _HARNESS_BOT, encoding="utf-8")
    flows = [e for e in examples if _kind(e.body)[0] == "flow"]
    for i, e in enumerate(flows):
        (project / "flows" / "example" / f"example{i}.yaml").write_text(_kind(e.body, i)[1], encoding="utf-8")
    if not flows:
        (project / "flows" / "example" / "filler.yaml").write_text(_FILLER_FLOW, encoding="utf-8")
    result = check_bot(bot_file, project)
    lines = [str(d) for d in result.diagnostics]
    tests = [e for e in examples if _kind(e.body)[0] == "test"]
    for i, e in enumerate(tests):
        path = project / "flows" / "example" / f"example{i}.test.yaml"
        path.write_text(e.body, encoding="utf-8")
        lines.extend(_test_diagnostics(path, project))
    return lines


def _test_diagnostics(path: Path, project: Path) -> list[str]:
    loaded = load_test_file(path, project)
    found = [str(d) for d in loaded.diagnostics]
    if loaded.model is not None:
        outcome = FileOutcome(loaded.display, None)
        runner = TestRunner(project)
        bot = runner.bot_of(loaded, outcome)
        found.extend(str(d) for d in outcome.diagnostics)
        if bot is not None:
            found.extend(str(d) for d in runner.references(loaded, bot))
    return found


def _units() -> list[list[Example]]:
    groups: dict[tuple[str, str], list[Example]] = {}
    units: list[list[Example]] = []
    for e in EXAMPLES:
        if e.skip:
            continue
        if e.group:
            key = (e.page, e.group)
            if key not in groups:
                groups[key] = []
                units.append(groups[key])
            groups[key].append(e)
        else:
            units.append([e])
    return units


UNITS = _units()


@pytest.mark.parametrize("unit", UNITS, ids=[u[0].where for u in UNITS])
def test_example_checks_as_the_page_says(unit: list[Example], tmp_path: Path) -> None:
    lone_test = len(unit) == 1 and _kind(unit[0].body)[0] == "test" and unit[0].group is None
    if lone_test:  # a test file on its own is one of the example bot's
        for folder in ("bots", "flows"):
            shutil.copytree(ROOT / folder, tmp_path / folder)
        path = tmp_path / "flows" / "support-desk" / "docs-example.test.yaml"
        path.write_text(unit[0].body, encoding="utf-8")
        lines = _test_diagnostics(path, tmp_path)
    else:
        lines = _codes(unit, tmp_path)
    got = {line.split()[2] for line in lines if re.match(r"^\S+: (error|warning) [EW]\d+ ", line)}
    expected = set().union(*(e.expect for e in unit))
    where = ", ".join(e.where for e in unit)
    wanted = sorted(expected) or "no diagnostics"
    assert got == expected, f"{where}: expected {wanted}, got:\n" + "\n".join(lines)


def test_the_examples_are_found() -> None:
    """The extraction itself: a broken fence pattern would make every check above vacuous."""
    assert len(UNITS) >= 40
    assert any(e.page == "README.md" for e in EXAMPLES) or "```yaml" not in (ROOT / "README.md").read_text()


def _guide_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(GUIDE.glob("*.md")))


def _guide_expectations() -> set[str]:
    return {code for e in EXAMPLES if e.page.startswith("docs/language/") for code in e.expect}


EXEMPT_CODES = {
    "E100": "a file that cannot be read (permissions, encoding) has no YAML to show",
}


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_diagnostic_code_has_an_example_that_produces_it(code: str) -> None:
    if code in EXEMPT_CODES:
        assert f"`{code}`" in _guide_text(), f"{code} is exempt from an example but must be listed"
        return
    assert code in _guide_expectations(), (
        f"docs/language/ has no example marked `<!-- check: expect {code} -->` for {code} ({CODES[code]})"
    )


def _names() -> list[str]:
    env = Templates().env
    custom = {"mask_email", "money", "date", "plural"} | {"email", "phone", "url", "match", "search"}
    names = [f"step {k}" for k in M.ACTION_KEYS]
    names += [f"handler {h}" for h in M.KNOWN_HANDLERS]
    names += ["trigger payload", "trigger regex", "trigger keywords", "trigger event", "trigger examples"]
    names += [f"filter {f}" for f in sorted(env.filters) if f in custom or f not in _JINJA_FILTERS]
    names += [f"test {t}" for t in sorted(env.tests) if t in custom or t not in _JINJA_TESTS]
    names += [f"reply {k}" for k in M.ReplyObject.model_fields if k != "when"]
    names += [f"limit {k}" for k in M.Limits.model_fields]
    return names


def _jinja_builtins() -> tuple[set[str], set[str]]:
    from jinja2 import Environment

    plain = Environment()
    return set(plain.filters), set(plain.tests)


_JINJA_FILTERS, _JINJA_TESTS = _jinja_builtins()


@pytest.mark.parametrize("name", _names())
def test_the_guide_names_every_construct(name: str) -> None:
    word = name.split()[1]
    assert f"`{word}`" in _guide_text() or f"`{word}:" in _guide_text(), f"docs/language/ never names {name}"
