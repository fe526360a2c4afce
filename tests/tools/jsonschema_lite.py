"""A small JSON Schema validator for the keywords our generated schemas use (no dependency):
$ref (local), type, enum, const, properties, patternProperties, additionalProperties,
required, items, minItems, minimum, maximum, pattern, anyOf, oneOf, allOf."""

from __future__ import annotations

import re
from typing import Any

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def errors(
    schema: dict[str, Any], value: Any, root: dict[str, Any] | None = None, path: str = "$"
) -> list[str]:
    """Every way `value` fails `schema` (empty when it is valid)."""
    root = root if root is not None else schema
    out: list[str] = []
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        out += errors(target, value, root, path)
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_TYPES[k](value) for k in kinds):
            return [*out, f"{path}: {value!r} is not of type {kinds}"]
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        out.append(f"{path}: {value!r} is not {schema['const']!r}")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        out.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(f"{path}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            out.append(f"{path}: {value} > {schema['maximum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        patterns = schema.get("patternProperties", {})
        for key in schema.get("required", []):
            if key not in value:
                out.append(f"{path}: missing {key!r}")
        for key, item in value.items():
            matched = False
            if key in props:
                matched = True
                out += errors(props[key], item, root, f"{path}.{key}")
            for pattern, sub in patterns.items():
                if re.search(pattern, key):
                    matched = True
                    out += errors(sub, item, root, f"{path}.{key}")
            extra = schema.get("additionalProperties", True)
            if not matched:
                if extra is False:
                    out.append(f"{path}: unknown key {key!r}")
                elif isinstance(extra, dict):
                    out += errors(extra, item, root, f"{path}.{key}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            out.append(f"{path}: fewer than {schema['minItems']} items")
        if isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                out += errors(schema["items"], item, root, f"{path}[{i}]")
    for sub in schema.get("allOf", []):
        out += errors(sub, value, root, path)
    if "anyOf" in schema:
        results = [errors(sub, value, root, path) for sub in schema["anyOf"]]
        if all(results):
            out.append(f"{path}: matches none of anyOf ({min(results, key=len)[0]})")
    if "oneOf" in schema:
        results = [errors(sub, value, root, path) for sub in schema["oneOf"]]
        ok = sum(1 for r in results if not r)
        if ok != 1:
            detail = min(results, key=len)[0] if ok == 0 else f"{ok} alternatives match"
            out.append(f"{path}: must match exactly one of oneOf ({detail})")
    return out
