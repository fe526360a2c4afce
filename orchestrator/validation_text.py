"""Joi-style texts for pydantic validation errors: the one formatter of "which field, what is
wrong" (the API's request validation and sync's channel configs both use it)."""

from __future__ import annotations

from typing import Any


def describe(error: Any, part: str) -> str:
    """One pydantic error as a Joi-style message."""
    field = label(part, error["loc"])
    kind, ctx = error["type"], error.get("ctx") or {}
    text = _MESSAGES.get(kind)
    if text is None:
        if kind == "less_than_equal":
            text = f"must be less than or equal to {ctx.get('le')}"
        elif kind == "greater_than_equal":
            text = f"must be greater than or equal to {ctx.get('ge')}"
        elif kind == "string_too_long":
            text = f"length must be less than or equal to {ctx.get('max_length')} characters long"
        elif kind == "literal_error":
            text = f"must be one of [{_joi_list(str(ctx.get('expected', '')))}]"
        elif kind == "guid":
            text = "must be a valid GUID"
        elif kind == "date_time":
            text = "must be a valid date"
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            text = message[:1].lower() + message[1:]
    return f'"{field}" {text}'


def _joi_list(expected: str) -> str:
    """pydantic's `'a', 'b' or 'c'` as Joi's `a, b, c`."""
    return expected.replace("' or '", "', '").replace("'", "")


def label(part: str, loc: tuple[Any, ...]) -> str:
    """Joi's label of a path: keys joined by dots, array indexes in brackets (`a.b[0].c`)."""
    text = part
    for segment in loc:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif not segment.startswith("function-"):
            text += f".{segment}"
    return text


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not allowed",
    "dict_type": "must be of type object",
    "model_type": "must be of type object",
    "model_attributes_type": "must be of type object",
    "string_type": "must be a string",
    "int_type": "must be a number",
    "int_parsing": "must be a number",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be a boolean",
    "bool_parsing": "must be a boolean",
    "list_type": "must be an array",
    "string_too_short": "is not allowed to be empty",
    "datetime_type": "must be a valid date",
    "datetime_parsing": "must be a valid date",
    "datetime_from_date_parsing": "must be a valid date",
    "url_parsing": "must be a valid uri",
    "url_scheme": "must be a valid uri",
    "url_type": "must be a valid uri",
}
