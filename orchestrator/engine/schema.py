"""JSON Schemas of bot, flow and test files, generated from the pydantic models that validate
them (so editors and the loader agree). `orchestrator schema` prints or writes them; the
example files point at the committed copies in `schema/` with a `yaml-language-server`
modeline, e.g. `# yaml-language-server: $schema=../../schema/flow.schema.json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from .conversation_tests import TestFileModel
from .models import BotFile, FlowFile

DIALECT = "https://json-schema.org/draft/2020-12/schema"
KINDS = ("bot", "flow", "test")
_MODELS: dict[str, Any] = {"bot": BotFile, "flow": FlowFile, "test": TestFileModel}
_TITLES = {
    "bot": "Orchestrator bot file (bots/<id>.yaml)",
    "flow": "Orchestrator flow file (flows/**/*.yaml)",
    "test": "Orchestrator conversation test file (*.test.yaml)",
}


def _fix(schema: dict[str, Any]) -> dict[str, Any]:
    """Editor-friendly adjustments the models cannot express."""
    defs = schema.get("$defs", {})
    set_step = defs.get("SetStep")
    if set_step is not None:
        # `set:` or `unset:` (or both): otherwise `{goto: x}` would match SetStep too
        set_step["anyOf"] = [{"required": ["set"]}, {"required": ["unset"]}]
    return schema


def file_schema(kind: str) -> dict[str, Any]:
    """The schema of one kind of file (`bot`, `flow` or `test`)."""
    model = _MODELS[kind]
    body = _fix(model.model_json_schema())
    return {"$schema": DIALECT, "$id": f"{kind}.schema.json", **body, "title": _TITLES[kind]}


def combined_schema() -> dict[str, Any]:
    """One document: the three file kinds under `$defs`, any of them at the top (`oneOf`)."""
    _, top = models_json_schema([(m, "validation") for m in _MODELS.values()], title="Orchestrator files")
    defs = _fix(top)["$defs"]
    return {
        "$schema": DIALECT,
        "title": "Orchestrator bot, flow and conversation test files",
        "oneOf": [{"$ref": f"#/$defs/{_MODELS[k].__name__}"} for k in KINDS],
        "$defs": defs,
    }


def dumps(schema: dict[str, Any]) -> str:
    """The canonical text of a schema (what is committed under `schema/`)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_files(directory: Path) -> list[Path]:
    """Write `bot.schema.json`, `flow.schema.json` and `test.schema.json` into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        path = directory / f"{kind}.schema.json"
        path.write_text(dumps(file_schema(kind)), encoding="utf-8")
        written.append(path)
    return written
