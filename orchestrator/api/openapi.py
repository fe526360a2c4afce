"""The OpenAPI 3 document, generated from the declared routes and their pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .. import __version__
from .routing import ROUTES, Route

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad request (names the field)",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    413: "Body too large",
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
        "openapi": "3.0.3",
        "info": {
            "title": "Orchestrator messaging API",
            "version": __version__,
            "description": "The Botpress Messaging REST API, served by the orchestrator.",
        },
        "components": {
            "schemas": defs.get("$defs", {}),
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
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
        for name in re.findall(r"{(\w+)}", spec.path)
    ]
    for name, field in spec.query.model_fields.items():
        schema: dict[str, Any] = {"type": "integer" if name == "limit" else "string"}
        if field.default is not None:
            schema["default"] = field.default
        parameters.append(
            {
                "name": field.alias or name,
                "in": "query",
                "required": False,
                "schema": schema,
                "description": field.description or "",
            }
        )
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        operation["requestBody"] = {
            "required": True,
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
    for status in (*spec.errors, 413):
        responses[str(status)] = {
            "description": _STATUS_TEXT[status],
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    operation["responses"] = responses
    return operation
