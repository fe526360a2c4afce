"""`orchestrator check`: the corpus of broken files (one per diagnostic code, asserting code,
line and column), the example bot, the command line, and `serve` refusing a broken bot."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orchestrator import cli
from orchestrator.engine import diagnostics as D
from orchestrator.engine.checker import check_bot

from .corpus import BROKEN, PROJECT, header, run_case

ROOT = Path(__file__).resolve().parents[2]
CASES = sorted(BROKEN.glob("*.yaml"))


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_broken_file_reports_its_code_at_its_position(case: Path, tmp_path: Path) -> None:
    target, diagnostics = run_case(case, tmp_path)
    _, expected = header(case)
    assert expected, f"{case.name} has no '# expect:' line"
    got = sorted((d.code, d.line, d.col) for d in diagnostics)
    assert got == sorted((e.code, e.line, e.col) for e in expected), "\n".join(map(str, diagnostics))
    for e in expected:
        here = [d for d in diagnostics if (d.code, d.line, d.col) == (e.code, e.line, e.col)]
        assert any(e.text in d.message for d in here), f"{[d.message for d in here]} lack {e.text!r}"
        for d in here:
            assert d.file == target
            assert d.severity == ("warning" if e.code.startswith("W") else "error")


def test_the_corpus_has_a_file_for_every_code() -> None:
    covered = {e.code for case in CASES for e in header(case)[1]}
    missing = set(D.CODES) - covered - {D.E_FILE}  # E100: see the next test
    assert not missing, f"no broken file for {sorted(missing)}"


def test_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(PROJECT, root)
    (root / "flows/b/main.yaml").write_bytes(b"version: 1\nflows: {main: {steps: [{say: \xff}]}}\n")
    result = check_bot(root / "bots/b.yaml", root)
    [diag] = result.diagnostics
    assert (diag.file, diag.code, diag.line) == ("flows/b/main.yaml", "E100", 0)
    assert str(diag).startswith("flows/b/main.yaml: error E100 'utf-8' codec can't decode")


def test_the_corpus_project_itself_is_clean() -> None:
    result = check_bot(PROJECT / "bots/b.yaml", PROJECT)
    assert result.ok and result.diagnostics == []


def test_every_problem_at_once_sorted_by_file_and_position(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(PROJECT, root)
    (root / "flows/b/main.yaml").write_text(
        "version: 1\n"
        "flows:\n"
        "  main:\n"
        "    triggers: [{keywords: [go]}]\n"
        "    steps:\n"
        '      - say: "{{ conv.emial }}"\n'
        "      - goto: nowhere\n"
        "      - sya: typo\n"
    )
    (root / "flows/b/base.yaml").write_text(
        (PROJECT / "flows/b/base.yaml").read_text() + "      - call: mian\n"
    )
    result = check_bot(root / "bots/b.yaml", root)
    assert [(d.file, d.line, d.code) for d in result.diagnostics] == [
        ("flows/b/base.yaml", 7, "E202"),
        ("flows/b/main.yaml", 6, "E310"),
        ("flows/b/main.yaml", 7, "E201"),
        ("flows/b/main.yaml", 8, "E113"),
    ]
    assert result.bot is None and not result.ok


def test_the_example_bot_has_no_errors() -> None:
    result = check_bot(ROOT / "bots/support-desk.yaml", ROOT)
    assert result.ok, result.report()
    assert result.warnings == [], result.report()


# ------------------------------------------------------------------ the command line


def _example(tmp_path: Path) -> Path:
    root = tmp_path / "desk"
    root.mkdir()
    shutil.copytree(ROOT / "bots", root / "bots", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "flows", root / "flows")
    return root


def test_check_names_file_line_column_and_the_fix(tmp_path, monkeypatch, capsys) -> None:
    root = _example(tmp_path)
    contact = root / "flows/support-desk/contact.yaml"
    contact.write_text(contact.read_text().replace("on_fail: contact_failed", "on_fail: contact_faild", 1))
    monkeypatch.chdir(root)
    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert (
        "flows/support-desk/contact.yaml:22:20: error E201 unknown step 'contact_faild' "
        "(did you mean 'contact_failed'?)"
    ) in out
    assert any(line.startswith("support-desk: 1 error, ") for line in out)


def test_check_a_bot_by_id_or_path_and_warnings_exit_0(tmp_path, monkeypatch, capsys) -> None:
    root = _example(tmp_path)
    monkeypatch.chdir(root)
    assert cli.main(["check", "support-desk"]) == 0
    by_id = capsys.readouterr().out
    assert cli.main(["check", "bots/support-desk.yaml"]) == 0
    assert capsys.readouterr().out == by_id
    assert "support-desk: 0 errors" in by_id
    assert cli.main(["check", "nope"]) == 2
    assert "no bot 'nope'" in capsys.readouterr().err


def test_check_reports_broken_test_files_next_to_the_flows(tmp_path, monkeypatch, capsys) -> None:
    root = _example(tmp_path)
    (root / "flows/support-desk/typo.test.yaml").write_text(
        "version: 1\ntests:\n  - name: x\n    start_at: {flow: order_status, step: lookpu}\n"
        "    conversation: [{user: hi}]\n"
    )
    monkeypatch.chdir(root)
    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out
    assert (
        "flows/support-desk/typo.test.yaml:4:42: error E502 flow 'order_status' has no step 'lookpu' "
        "(did you mean 'lookup'?)"
    ) in out
    assert cli.main(["check", "--no-tests"]) == 0


def test_serve_refuses_a_broken_bot_with_the_same_output(tmp_path, monkeypatch, capsys) -> None:
    root = _example(tmp_path)
    orders = root / "flows/support-desk/orders.yaml"
    orders.write_text(orders.read_text().replace("flow.order.status == 404", "flow.ordr.status == 404"))
    monkeypatch.chdir(root)
    monkeypatch.setattr(cli, "setup_logging", lambda settings: None)  # keep the test run's logging
    monkeypatch.setattr(cli.gc, "set_threshold", lambda *thresholds: None)
    assert cli.main(["check"]) == 1
    checked = [line for line in capsys.readouterr().out.splitlines() if ": error " in line]
    assert checked == [
        "flows/support-desk/orders.yaml:35:20: error E310 'flow.ordr' is not a param of flow "
        "'order_status' or set in it (did you mean 'flow.order'?)"
    ]
    config = tmp_path / "config.yaml"
    config.write_text(f"storage: {{url: 'sqlite:///{tmp_path}/o.db'}}\nbots: {{dir: bots, reload: false}}\n")
    assert cli.main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if ": error " in line] == checked
    assert err[-1].startswith("orchestrator: refusing to start with a broken bot")


def test_serve_prints_warnings_but_starts(tmp_path, monkeypatch, capsys) -> None:
    root = _example(tmp_path)
    faq = root / "flows/support-desk/faq.yaml"
    faq.write_text(faq.read_text() + "\n  orphan:\n    steps: [{say: lonely}]\n")
    monkeypatch.chdir(root)
    monkeypatch.setattr(cli, "setup_logging", lambda settings: None)  # keep the test run's logging
    monkeypatch.setattr(cli.gc, "set_threshold", lambda *thresholds: None)
    started = []
    monkeypatch.setattr(cli.web, "run_app", lambda app, **kw: started.append(app))
    config = tmp_path / "config.yaml"
    config.write_text(f"storage: {{url: 'sqlite:///{tmp_path}/o.db'}}\nbots: {{dir: bots, reload: false}}\n")
    assert cli.main(["serve", "--config", str(config)]) == 0
    assert started
    err = capsys.readouterr().err
    assert "flows/support-desk/faq.yaml:95:3: warning W223 flow 'orphan' is never started" in err
