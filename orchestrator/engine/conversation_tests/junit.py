"""JUnit XML of a test run (`orchestrator test --junit`), for CI servers."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from .report import RunReport


def junit_xml(report: RunReport) -> bytes:
    """JUnit XML: a testsuite per file, a testcase per test (file errors as a failing case)."""
    counts = report.counts()
    broken = sum(1 for f in report.files if any(d.is_error for d in f.diagnostics))  # one case each
    suites = ET.Element(
        "testsuites",
        name="orchestrator test",
        tests=str(len(report.tests) + broken),
        failures=str(counts["failed"] + broken),
        skipped=str(counts["skipped"]),
        time=f"{report.seconds:.3f}",
    )
    for f in report.files:
        errors = [d for d in f.diagnostics if d.is_error]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f.display,
            tests=str(len(f.tests) + (1 if errors else 0)),
            failures=str(sum(1 for t in f.tests if t.status == "failed") + (1 if errors else 0)),
            skipped=str(sum(1 for t in f.tests if t.status == "skipped")),
            time=f"{sum(t.seconds for t in f.tests):.3f}",
        )
        cov = report.coverage.get(f.bot_id or "")
        if cov is not None:
            props = ET.SubElement(suite, "properties")
            ET.SubElement(props, "property", name="bot", value=cov.bot.id)
            ET.SubElement(props, "property", name="coverage.steps", value=f"{cov.step_ratio:.4f}")
            ET.SubElement(props, "property", name="coverage.branches", value=f"{cov.branch_ratio:.4f}")
        classname = f.display.removesuffix(".yaml").removesuffix(".yml").replace("/", ".")
        if errors:
            case = ET.SubElement(suite, "testcase", classname=classname, name="(test file)", time="0")
            failure = ET.SubElement(case, "failure", message=str(errors[0]), type="TestFileError")
            failure.text = "\n".join(str(d) for d in f.diagnostics)
        for t in f.tests:
            case = ET.SubElement(suite, "testcase", classname=classname, name=t.name, time=f"{t.seconds:.3f}")
            case.set("file", f.display)
            case.set("line", str(t.pos[0]))
            if t.status == "failed":
                failure = ET.SubElement(case, "failure", message=t.message, type="ConversationMismatch")
                failure.text = t.message + ("\n" + t.details if t.details else "")
            elif t.status == "skipped":
                ET.SubElement(case, "skipped", message=t.message)
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)
