"""Issue 16 item 7: one test file's coverage, JUnit totals with file errors, given.flow without
start_at, form-body mocks, version_gone in tests, no W226 while a file has a YAML error, and
running tests and the service at a given time."""

from __future__ import annotations

import textwrap
from pathlib import Path

from orchestrator import cli
from orchestrator.engine.checker import check_bot

ROOT = Path(__file__).resolve().parents[2]

BOT = """\
version: 1
bot: {id: demo, timezone: Europe/Paris, business_hours: {mon-fri: "09:00-18:00"}}
flows: [flows/demo/*.yaml]
handlers:
  version_gone:
    steps: [{say: "I was updated, let's start again."}]
"""
FLOWS = """\
version: 1
flows:
  greet:
    triggers: [{keywords: [hi]}]
    params: {name: {type: str, default: you}}
    steps:
      - say: "Hi {{ flow.name }}! We're {{ 'open' if sys.open else 'closed' }}."
  subscribe:
    triggers: [{keywords: [subscribe]}]
    steps:
      - http: {method: POST, url: "https://list.test/add", form: {email: "a@b.c", list: news}, into: flow.r}
      - say: "Subscribed: {{ flow.r.status }}."
  other:
    triggers: [{keywords: [other]}]
    steps: [{say: "Other."}]
"""


def project(tmp_path: Path, tests: str) -> Path:
    (tmp_path / "bots").mkdir()
    (tmp_path / "flows" / "demo").mkdir(parents=True)
    (tmp_path / "bots" / "demo.yaml").write_text(BOT)
    (tmp_path / "flows" / "demo" / "main.yaml").write_text(FLOWS)
    path = tmp_path / "flows" / "demo" / "one.test.yaml"
    path.write_text("version: 1\n" + textwrap.dedent(tests))
    return path


TESTS = """\
tests:
  - name: given.flow reaches the first flow started
    given: {flow: {name: Ann}}
    conversation:
      - user: hi
      - bot: "Hi Ann! We're open."
  - name: a form body is matched
    mocks:
      http:
        - request: {method: POST, url: "https://list.test/add", form: {email: "a@b.c"}}
          response: {status: 201}
    conversation:
      - user: subscribe
      - bot: "Subscribed: 201."
  - name: version_gone runs for a conversation an older version left
    given: {version_gone: true}
    conversation:
      - user: hi
      - bot: "I was updated, let's start again."
"""


def test_conveniences_in_test_files(tmp_path, monkeypatch, capsys):
    path = project(tmp_path, TESTS)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["test", str(path)]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "3 tests: 3 passed" in out
    # one file: the coverage of the flows it ran (and of the handler), not of `other`
    assert "coverage of demo in the flows these tests ran (greet, handler version_gone, subscribe)" in out
    assert not (tmp_path / "data" / "coverage.json").exists()  # the studio keeps whole runs
    assert cli.main(["test"]) == 0
    assert "coverage of demo (bots/demo.yaml): " in capsys.readouterr().out


def test_a_form_mock_that_differs_is_unmocked(tmp_path, monkeypatch, capsys):
    path = project(
        tmp_path,
        """\
        tests:
          - name: wrong list
            mocks:
              http:
                - request: {url: "https://list.test/add", form: {list: other}}
                  response: {status: 201}
            conversation: [{user: subscribe}, {bot: "Subscribed: 201."}]
        """,
    )
    monkeypatch.chdir(tmp_path)
    assert cli.main(["test", str(path), "--no-coverage"]) == 1
    assert 'unmocked HTTP call POST https://list.test/add form {"email": "a@b.c", "list": "news"}' in (
        capsys.readouterr().out
    )


def test_the_clock_of_tests_that_set_none(tmp_path, monkeypatch, capsys):
    path = project(
        tmp_path,
        """\
        tests:
          - name: closed on Saturday night
            conversation: [{user: hi}, {bot: "Hi you! We're closed."}]
        """,
    )
    monkeypatch.chdir(tmp_path)
    assert cli.main(["test", str(path), "--no-coverage"]) == 1  # Monday 10:00 by default
    capsys.readouterr()
    assert cli.main(["test", str(path), "--no-coverage", "--clock", "2025-01-04T23:00+01:00"]) == 0
    assert cli.main(["test", str(path), "--clock", "someday"]) == 2
    assert "is not an ISO 8601 date-time" in capsys.readouterr().err


def test_no_w226_while_a_file_has_a_yaml_error(tmp_path):
    (tmp_path / "bots").mkdir()
    (tmp_path / "flows" / "demo").mkdir(parents=True)
    (tmp_path / "bots" / "demo.yaml").write_text(BOT.split("handlers:")[0])
    menu = (
        "version: 1\nflows:\n  menu:\n    triggers: [{keywords: [menu]}]\n    steps:\n"
        '      - say: {text: "Menu", buttons: [{title: Go, payload: GO}]}\n'
    )
    (tmp_path / "flows" / "demo" / "menu.yaml").write_text(menu)
    go = tmp_path / "flows" / "demo" / "go.yaml"
    go.write_text('version: 1\nflows:\n  go:\n    triggers: [{payload: GO}]\n    steps: [{say: "Go!"\n')
    codes = [d.code for d in check_bot(tmp_path / "bots" / "demo.yaml", tmp_path).diagnostics]
    assert codes == ["E101"]
    go.write_text('version: 1\nflows:\n  go:\n    triggers: [{payload: GOO}]\n    steps: [{say: "Go!"}]\n')
    codes = [d.code for d in check_bot(tmp_path / "bots" / "demo.yaml", tmp_path).diagnostics]
    assert codes == ["W226"]  # once the file parses, a real unhandled payload is reported


def test_serve_clock_starts_at_the_given_time():
    clock = cli._shifted_clock("2025-01-06T10:00:00+01:00")
    first = clock()
    assert first.isoformat().startswith("2025-01-06T10:00:0") and clock() >= first
