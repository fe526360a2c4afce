"""The OpenAPI 3.1 document, generated from the declared routes and their pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .. import __version__
from ..channels import registry
from .routing import ROUTES, Route

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad request (names the field)",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict (the conversation's client has no built-in bot)",
    413: "Body too large",
    429: "Too many open collects (see Retry-After)",
    503: "Storage unavailable (names the fault; see Retry-After)",
}


def document() -> dict[str, Any]:
    """Build the whole document (call once; it does not change while running)."""
    models: set[type[BaseModel]] = set()
    for spec in ROUTES:
        for model in (spec.body, spec.response):
            if model is not None:
                models.add(model)
    refs, defs = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for spec in ROUTES:
        path = "/api/v1" + spec.path
        paths.setdefault(path, {})[spec.method.lower()] = _operation(spec, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Orchestrator messaging API",
            "version": __version__,
            "description": "The Botpress Messaging REST API, served by the orchestrator.",
        },
        "components": {
            "schemas": _with_channel_rules(_without_null_defaults(defs.get("$defs", {}))),
            "securitySchemes": {
                "clientId": {"type": "apiKey", "in": "header", "name": "x-bp-messaging-client-id"},
                "clientToken": {"type": "apiKey", "in": "header", "name": "x-bp-messaging-client-token"},
                "adminKey": {"type": "apiKey", "in": "header", "name": "x-bp-messaging-admin-key"},
            },
        },
        "paths": paths,
    }


def _operation(spec: Route, refs: dict[Any, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": spec.summary, "operationId": spec.handler.__name__}
    if spec.auth == "client":
        operation["security"] = [{"clientId": [], "clientToken": []}]
    elif spec.auth == "admin":
        operation["security"] = [{"adminKey": []}]
    elif spec.auth == "sync":
        operation["security"] = [{"clientId": [], "clientToken": []}, {}]
    path_schemas = spec.params.model_json_schema()["properties"] if spec.params else {}
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _bare(path_schemas[name])}
        for name in re.findall(r"{(\w+)}", spec.path)
    ]
    for name, schema in spec.query.model_json_schema()["properties"].items():
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": _bare(schema),
                "description": schema.get("description", ""),
            }
        )
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        operation["requestBody"] = {
            "required": bool(spec.body.model_json_schema().get("required")),  # absent = {}
            "content": {"application/json": {"schema": refs[(spec.body, "validation")]}},
        }
    responses: dict[str, Any] = {}
    success: dict[str, Any] = {"description": _STATUS_TEXT.get(spec.status, "OK")}
    if spec.response is not None:
        schema = refs[(spec.response, "validation")]
        if spec.response_list:
            schema = {"type": "array", "items": schema}
        success["content"] = {"application/json": {"schema": schema}}
    responses[str(spec.status)] = success
    for status in (*spec.errors, 413, 503):
        if status == 204:
            responses["204"] = {"description": _STATUS_TEXT[204]}
            continue
        responses[str(status)] = {
            "description": _STATUS_TEXT[status],
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    operation["responses"] = responses
    return operation


def _with_channel_rules(schemas: dict[str, Any]) -> dict[str, Any]:
    """`ChannelRef` as the server checks it: the name of a channel it has, with one of that
    channel's versions (a string `channel` stays free: a custom channel)."""
    if "ChannelRef" in schemas:
        schemas["ChannelRef"] = {
            "title": "ChannelRef",
            "description": "A channel of this server and one of its versions.",
            "oneOf": [
                {
                    "type": "object",
                    "properties": {"name": {"const": name}, "version": {"enum": list(versions)}},
                    "required": ["name", "version"],
                    "additionalProperties": False,
                }
                for name, versions in sorted(registry.VERSIONS.items())
            ],
        }
    return schemas


def _bare(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without its title and description (they belong to the parameter)."""
    return _without_null_defaults({k: v for k, v in schema.items() if k not in ("title", "description")})


def _without_null_defaults(node: Any) -> Any:
    """Drop `"default": null` where null is not a value of the schema: such a field is optional
    and absent by default (the server refuses an explicit null there, as Joi does)."""
    if isinstance(node, list):
        return [_without_null_defaults(item) for item in node]
    if not isinstance(node, dict):
        return node
    cleaned = {key: _without_null_defaults(value) for key, value in node.items()}
    if "default" in cleaned and cleaned["default"] is None and not _allows_null(cleaned):
        del cleaned["default"]
    return cleaned


def _allows_null(schema: dict[str, Any]) -> bool:
    kinds = schema.get("type")
    if kinds == "null" or (isinstance(kinds, list) and "null" in kinds):
        return True
    return any(isinstance(option, dict) and _allows_null(option) for option in schema.get("anyOf", []))
