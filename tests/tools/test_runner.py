"""`orchestrator test`: the example bot's conversation tests, deliberately failing files (their
output: the diff, the trace, coverage, JUnit), mocks, the virtual clock and mid-flow starts."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from xml.etree import ElementTree as ET

from orchestrator import cli
from orchestrator.engine.conversation_tests import TestRunner, find_test_files, render_report

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent / "conversations"


def run(files: list[Path], **kw) -> tuple:
    runner = TestRunner(ROOT, **kw)
    report = asyncio.run(runner.run(files))
    return report, render_report(report)


def write_test(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "x.test.yaml"
    path.write_text("version: 1\nbot: support-desk\n" + textwrap.dedent(body))
    return path


def test_the_example_bot_passes_with_90_percent_step_coverage() -> None:
    report, text = run(find_test_files([ROOT / "flows"]))
    assert report.ok, text
    assert len(report.tests) >= 30
    coverage = report.coverage["support-desk"]
    assert coverage.step_ratio >= 0.9, coverage.report()
    assert f"coverage of support-desk (bots/support-desk.yaml): {coverage.step_ratio:.1%} of steps" in text


def test_the_command_runs_every_test_under_flows_by_default(monkeypatch, capsys) -> None:
    monkeypatch.chdir(ROOT)
    assert cli.main(["test", "--min-coverage", "90"]) == 0
    out = capsys.readouterr().out
    assert "flows/support-desk/orders.test.yaml  (bot support-desk)" in out
    assert "  PASS  a valid order number is looked up  (3 turns)" in out
    assert "% of steps (" in out and " 0 failed " in out
    # one file: the coverage of the flows it ran (orders.test.yaml also enters human_handoff)
    assert cli.main(["test", "flows/support-desk/orders.test.yaml", "--min-coverage", "90"]) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("coverage too low: support-desk: ")


def test_a_failure_shows_the_diff_the_messages_and_the_trace() -> None:
    report, text = run([HERE / "failing.test.yaml"])
    assert not report.ok
    assert [t.status for t in report.tests] == ["failed"] * 4 + ["passed"]
    typo = report.tests[0]
    assert typo.message == (
        "tests/tools/conversations/failing.test.yaml:10:14: bot message 1 after user payload MENU_CONTACT "
        "does not match: the text differs"
    )
    lines = typo.details.splitlines()
    assert lines[:5] == [
        'expected: text "What is your e-mail address?"',
        'actual:   text "What is your email address?"',
        "  - What is your e-mail address?",
        "  ?               -",
        "  + What is your email address?",
    ]
    assert "engine trace of the turn:" in lines
    assert "    route:      trigger → contact_form" in lines
    assert any(
        line.strip().startswith("contact_form.ask_email  ask  flows/support-desk/contact.yaml:11:9")
        for line in lines
    )
    buttons = report.tests[1].message
    assert buttons.endswith(
        "buttons are [FAQ → MENU_FAQ, Order status → MENU_ORDER, Contact us → MENU_CONTACT, "
        "Link my account → MENU_LINK], expected [FAQ, Orders]"
    )
    assert report.tests[2].message.endswith('conv.email is null, expected "bob@example.com"')
    assert report.tests[3].message.endswith(
        "expected no more bot messages after user payload FAQ_SHIPPING, got 1"
    )
    assert "  FAIL  a typo in the expected text" in text
    assert "  PASS  this one passes  (1 turn)" in text
    assert text.splitlines()[-1].startswith("5 tests: 1 passed, 4 failed (")


def test_unmocked_calls_fail_and_real_actions_run_only_when_allowed() -> None:
    report, _ = run([HERE / "unmocked.test.yaml"])
    http, action = report.tests
    assert http.status == action.status == "failed"
    assert http.message.endswith(
        "unmocked HTTP call GET https://orders.test/orders/A12345 (add it under mocks.http)"
    )
    assert "secret-token" not in http.details  # the trace masks env values
    assert "unmocked action 'account_link_url' called with {}" in action.message
    report, text = run([HERE / "unmocked.test.yaml"], allow_actions=True)
    assert [t.status for t in report.tests] == ["failed", "passed"], text


def test_schema_mistakes_in_a_test_file_are_positioned(monkeypatch, capsys) -> None:
    monkeypatch.chdir(ROOT)
    assert cli.main(["test", str(HERE / "broken.test.yaml"), "--no-coverage"]) == 1
    out = capsys.readouterr().out
    assert (
        "tests/tools/conversations/broken.test.yaml:8:15: error E110 unknown key 'text_contain' "
        "(did you mean 'text_contains'?)" in out
    )
    assert "broken.test.yaml:9:15: error E112 'wait': 'soon' is not a duration" in out
    assert out.splitlines()[-1].startswith("0 tests: 0 passed, 0 failed, 1 file with errors")


def test_junit_xml(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(ROOT)
    junit = tmp_path / "out" / "junit.xml"
    code = cli.main(
        ["test", str(HERE / "failing.test.yaml"), str(HERE / "broken.test.yaml"), "--junit", str(junit)]
    )
    assert code == 1
    assert f"JUnit XML written to {junit}" in capsys.readouterr().out
    suites = ET.parse(junit).getroot()
    # the totals count the broken file's error case, as its suite does
    assert suites.tag == "testsuites" and suites.get("tests") == "6" and suites.get("failures") == "5"
    broken, failing = sorted(suites.findall("testsuite"), key=lambda s: s.get("name"))
    for total in ("tests", "failures"):
        assert int(suites.get(total)) == int(broken.get(total)) + int(failing.get(total))
    assert failing.get("name") == "tests/tools/conversations/failing.test.yaml"
    cases = failing.findall("testcase")
    assert cases[0].get("name") == "a typo in the expected text"
    failure = cases[0].find("failure")
    assert failure is not None and "the text differs" in failure.get("message")
    assert "- What is your e-mail address?" in failure.text
    assert cases[4].find("failure") is None
    props = {p.get("name"): p.get("value") for p in failing.iter("property")}
    assert props["bot"] == "support-desk" and 0 < float(props["coverage.steps"]) < 1
    [file_error] = broken.findall("testcase")
    assert "E110" in file_error.find("failure").text


def test_the_virtual_clock_mocks_and_state(tmp_path) -> None:
    path = write_test(
        tmp_path,
        """\
        defaults:
          clock: "2024-06-03T17:55:00+02:00"      # five minutes before closing
          env: {ORDERS_API_URL: "https://orders.test", ORDERS_API_TOKEN: t0k3n}
          mocks:
            http:
              - request: {url: "*/orders/A12345"}
                response: {status: 503}
                times: 1
              - request: {url: "*/orders/A12345"}
                response: {status: 200, json: {id: A12345, status: packed, eta: null}}
        tests:
          - name: the second attempt is answered, the clock closes the desk
            conversation:
              - user: {payload: MENU_ORDER}
              - bot: {any: true}
              - user: A12345
              - bot: {msg: orders_down}
              - expect: {http_called: [{method: GET, url: "*/orders/A12345"}], step: offer_help}
              - user: {payload: MENU_ORDER}
              - bot: {any: true}
              - user: A12345
              - bot: "Order A12345 is packed."
              - expect: {http_called: 2}
              - wait: 10m
              - user: opening hours
              - bot: {text_contains: "We're closed right now."}
          - name: start mid-flow
            start_at: {flow: order_status, step: found}
            given: {flow: {order: {json: {id: B2, status: lost, eta: null}}}}
            conversation:
              - bot: "Order B2 is lost."
              - bot: {msg: back_to_menu}
              - bot: {none: true}
          - name: skipped for now
            skip: waiting for the new API
            conversation: [{user: hi}]
    """,
    )
    report, text = run([path])
    assert [t.status for t in report.tests] == ["passed", "passed", "skipped"], text
    assert "  SKIP  skipped for now  (waiting for the new API)" in text


def test_errors_must_be_expected(tmp_path) -> None:
    path = write_test(
        tmp_path,
        """\
        tests:
          - name: the error is expected
            mocks: {actions: {account_link_url: {error: boom}}}
            conversation:
              - user: {payload: MENU_LINK}
              - expect: {error: "action 'account_link_url' failed: boom"}
              - user: hi
              - bot: {msg: welcome}
          - name: the error is not expected
            mocks: {actions: {account_link_url: {error: boom}}}
            conversation:
              - user: {payload: MENU_LINK}
              - bot: {msg: error}
              - user: hi
    """,
    )
    report, text = run([path])
    ok, ko = report.tests
    assert ok.status == "passed", text
    assert ko.status == "failed"
    assert "x.test.yaml:14:9: the flow failed: flows/support-desk/account.yaml:14:9: action" in ko.message


def test_name_filter(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(ROOT)
    assert cli.main(["test", "flows/support-desk/faq.test.yaml", "-k", "carousel", "--no-coverage"]) == 0
    out = capsys.readouterr().out
    assert "PASS  pricing shows a carousel" in out and out.count("PASS") == 1
    assert "coverage of" not in out


def test_booleans_match_only_booleans_in_partial_matches() -> None:
    from orchestrator.engine.conversation_tests.values import subset

    assert subset({"linked": True}, {"linked": True, "id": 1})
    assert not subset({"n": 1}, {"n": True})
    assert not subset({"ok": False}, {"ok": 0})
    assert subset([1, 2.0], [1, 2])
