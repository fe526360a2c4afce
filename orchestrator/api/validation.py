"""Request validation with pydantic, worded like Botpress Messaging's Joi messages.

`"body.payload" must be of type object`, `"body.foo" is not allowed`, `"params.id" must be a
valid GUID`: the field always named, the first problem reported (as Joi's abortEarly).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError, WithJsonSchema
from pydantic_core import PydanticCustomError

from ..validation_text import describe
from .uri import is_uri

M = TypeVar("M", bound=BaseModel)

_GUID = re.compile(
    r"^[{(]?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}[})]?$"
)


def _check_guid(value: str) -> str:
    if not _GUID.match(value):
        raise PydanticCustomError("guid", "must be a valid GUID")
    return value


Guid = Annotated[
    str, AfterValidator(_check_guid), WithJsonSchema({"type": "string", "pattern": _GUID.pattern})
]
"""A GUID as Joi's `string().guid()` accepts it: hyphens optional, braces allowed."""

MAX_SAFE_INTEGER = 2**53 - 1


def _check_uri(value: str) -> str:
    if not value:
        raise PydanticCustomError("empty", "is not allowed to be empty")
    if not is_uri(value):
        raise PydanticCustomError("uri", "must be a valid uri")
    return value


def _check_count(value: int) -> int:
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise PydanticCustomError("safe_number", "must be a safe number")
    if value < 0:
        raise PydanticCustomError("min", "must be greater than or equal to 0")
    return value


Uri = Annotated[
    str,
    AfterValidator(_check_uri),
    WithJsonSchema({"type": "string", "format": "uri", "minLength": 1}),
]
"""A URI as Joi's `string().uri()` accepts it, kept exactly as given (never normalised)."""

Count = Annotated[
    int,
    AfterValidator(_check_count),
    WithJsonSchema({"type": "integer", "minimum": 0, "maximum": MAX_SAFE_INTEGER}),
]
"""A count as Joi's `number().min(0)`: 0 to 2^53 - 1, beyond which Joi says unsafe."""


_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII)


def _check_date_time(value: Any) -> datetime:
    if not isinstance(value, str) or not _DATE_TIME.match(value):
        raise PydanticCustomError("date_time", "must be a valid date")
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError as exc:  # 2024-02-30T…, or a leap second (:60), which Python cannot hold
        raise PydanticCustomError("date_time", "must be a valid date") from exc


DateTime = Annotated[
    datetime,
    BeforeValidator(_check_date_time),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""An RFC 3339 date-time with its offset, as `Date.toISOString()` writes it (`…T…Z`)."""


class Strict(BaseModel):
    """Base of request models: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RequestInvalid(Exception):
    """A request part failed validation; the text is the message the client sees."""


def parse(model: type[M], data: Any, part: str) -> M:
    """Validate one part (`body`, `query`, `params`) or raise RequestInvalid naming the field."""
    if not isinstance(data, dict):
        raise RequestInvalid(f'"{part}" must be of type object')
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestInvalid(describe(exc.errors()[0], part)) from exc
