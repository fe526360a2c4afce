"""`orchestrator schema`: the committed schemas are current, the example files validate against
the schema their modeline names, and mistakes do not."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from orchestrator import cli
from orchestrator.engine import schema as S
from orchestrator.engine.yaml_loader import parse_yaml

from .jsonschema_lite import errors

ROOT = Path(__file__).resolve().parents[2]
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(?P<ref>\S+)$")
EXAMPLES = sorted([*ROOT.glob("bots/*.yaml"), *ROOT.glob("flows/**/*.yaml")])


@pytest.mark.parametrize("kind", S.KINDS)
def test_the_committed_schemas_are_current(kind: str) -> None:
    committed = ROOT / "schema" / f"{kind}.schema.json"
    assert committed.read_text(encoding="utf-8") == S.dumps(S.file_schema(kind)), (
        f"{committed.relative_to(ROOT)} is stale: run `orchestrator schema -o schema/`"
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT)) for p in EXAMPLES])
def test_every_example_file_names_a_schema_it_validates_against(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = MODELINE.match(first)
    assert match, f"{path.relative_to(ROOT)} does not start with a yaml-language-server modeline"
    schema_path = (path.parent / match["ref"]).resolve()
    kind = "test" if path.name.endswith(".test.yaml") else "bot" if path.parent.name == "bots" else "flow"
    assert schema_path == ROOT / "schema" / f"{kind}.schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    data = parse_yaml(path.read_text(encoding="utf-8"), path.name).data
    assert errors(schema, data) == []


def test_the_schema_underlines_mistakes() -> None:
    flow = json.loads((ROOT / "schema/flow.schema.json").read_text())
    ok = {"version": 1, "flows": {"a": {"steps": [{"goto": "b"}, {"id": "b", "unset": ["conv.x"]}]}}}
    assert errors(flow, ok) == []
    two_actions = {
        "version": 1,
        "flows": {"a": {"steps": [{"say": "x", "ask": {"prompt": "p", "into": "conv.x"}}]}},
    }
    assert errors(flow, two_actions)
    typo = {"version": 1, "flows": {"a": {"steps": [{"say": {"txt": "x"}}]}}}
    assert errors(flow, typo)
    test = json.loads((ROOT / "schema/test.schema.json").read_text())
    good = {
        "version": 1,
        "tests": [{"name": "n", "conversation": [{"user": {"payload": "X"}}, {"bot": "hi"}]}],
    }
    assert errors(test, good) == []
    assert errors(test, {"version": 1, "tests": [{"name": "n", "conversation": [{"usr": "hi"}]}]})


def test_schema_command(tmp_path: Path, capsys) -> None:
    assert cli.main(["schema"]) == 0
    combined = json.loads(capsys.readouterr().out)
    assert [r["$ref"] for r in combined["oneOf"]] == [
        "#/$defs/BotFile",
        "#/$defs/FlowFile",
        "#/$defs/TestFileModel",
    ]
    bot_file = {"version": 1, "bot": {"id": "b"}, "flows": ["flows/*.yaml"]}
    assert errors(combined, bot_file) == []
    assert errors(combined, {"version": 1, "tests": []})  # minItems 1
    assert cli.main(["schema", "-o", f"{tmp_path}/schemas/"]) == 0
    assert sorted(p.name for p in (tmp_path / "schemas").iterdir()) == [
        "bot.schema.json",
        "flow.schema.json",
        "test.schema.json",
    ]
    assert (tmp_path / "schemas/test.schema.json").read_text() == S.dumps(S.file_schema("test"))
    assert cli.main(["schema", "-o", str(tmp_path / "all.json")]) == 0
    assert json.loads((tmp_path / "all.json").read_text()) == combined
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote {tmp_path / 'all.json'}"
    assert cli.main(["schema", "--kind", "flow"]) == 0
    assert json.loads(capsys.readouterr().out)["title"].startswith("Orchestrator flow file")
