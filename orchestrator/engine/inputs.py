"""Inbound events normalised for the runtime (`turn.*`), and typed coercion of answers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from orchestrator.payloads import inbound_adapter

from . import extract
from .matching import Probe
from .text import normalise

TurnType = Literal["text", "payload", "event", "attachment", "location"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9 ().-]+$")
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)$")
_YES = {"yes", "y", "true", "1", "ok", "okay", "sure", "yep", "yeah", "oui", "si", "ja"}
_NO = {"no", "n", "false", "0", "nope", "non", "nein"}
_TODAY = {"today", "aujourd hui", "hoy"}
_TOMORROW = {"tomorrow", "demain", "manana"}


@dataclass(frozen=True, slots=True)
class TurnEvent:
    """One inbound event, normalised: what `turn.*` exposes and what triggers see."""

    type: TurnType
    text: str | None = None
    payload: str | None = None
    event: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def is_user_message(self) -> bool:
        """False for system events (timers, desk events, account_linked…)."""
        return self.type != "event"

    def probe(self) -> Probe:
        """What triggers can match in this input."""
        text = self.text if self.type == "text" else None
        return Probe.of(payload=self.payload, event=self.event, text=text)

    def scope(self) -> dict[str, Any]:
        """Values of the `turn` scope."""
        return {
            "type": self.type,
            "text": self.text,
            "payload": self.payload,
            "event": self.event,
            "data": self.data,
            "url": self.url,
            "raw": self.raw,
        }


def normalise_event(event: dict[str, Any]) -> TurnEvent:
    """Validate a canonical inbound payload dict and normalise it; ValueError if invalid."""
    if len(event) == 2 and event.get("type") == "text" and type(event.get("text")) is str:
        return TurnEvent("text", text=event["text"], raw={"type": "text", "text": event["text"]})
    try:
        parsed = inbound_adapter.validate_python(event)
    except ValidationError as exc:
        raise ValueError(f"invalid inbound event: {exc.errors()[0]['msg']}") from None
    raw = parsed.to_dict()
    kind = raw["type"]
    if kind == "text":
        return TurnEvent("text", text=raw["text"], raw=raw)
    if kind in ("postback", "quick_reply"):
        return TurnEvent("payload", text=raw.get("text"), payload=raw["payload"], raw=raw)
    if kind == "event":
        return TurnEvent("event", event=raw["event"], data=raw.get("data") or {}, raw=raw)
    if kind == "location":
        data = {k: raw.get(k) for k in ("latitude", "longitude", "address", "title")}
        return TurnEvent("location", data=data, raw=raw)
    return TurnEvent("attachment", text=raw.get("title"), url=raw.get("url"), raw=raw)


def _enum(value: str, values: list[Any]) -> str | None:
    wanted = normalise(value)
    for item in values:
        canonical = item if isinstance(item, str) else item.value
        names = [canonical] + ([] if isinstance(item, str) else list(item.synonyms))
        if any(normalise(n) == wanted for n in names):
            return canonical
    return None


def _date(value: str, today: date) -> str | None:
    text = normalise(value)
    if text in _TODAY:
        return today.isoformat()
    if text in _TOMORROW:
        return (today + timedelta(days=1)).isoformat()
    raw = value.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(raw, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def coerce(kind: str, turn: TurnEvent, *, today: date, values: list[Any] | None = None) -> tuple[bool, Any]:
    """(True, value) when the turn is a valid answer of type `kind`, else (False, None)."""
    if kind == "attachment":
        return (turn.url is not None, turn.url)
    if kind == "any":
        value = turn.text if turn.text is not None else turn.payload or turn.url or turn.data
        return (value is not None, value)
    raw = turn.payload if turn.type == "payload" else turn.text
    if raw is None or not raw.strip():
        return (False, None)
    text = raw.strip()
    if kind == "str":
        return (True, text)
    if kind == "int":
        compact = text.replace(" ", "").replace("_", "")
        if _INT.match(compact):
            return (True, int(compact))
        found = extract.number(text)  # "4 people", "four"
        return (True, found) if isinstance(found, int) else (False, None)
    if kind == "float":
        compact = text.replace(" ", "")
        if _FLOAT.match(compact):
            return (True, float(compact.replace(",", ".")))
        found = extract.amount(text)  # "$50", "50 dollars", "1,234.50"
        return (found is not None, found)
    if kind == "bool":
        word = normalise(text)
        if word in _YES:
            return (True, True)
        return (True, False) if word in _NO else (False, None)
    if kind == "email":
        if not _EMAIL.match(text):
            email = extract.find_email(text)  # "it's bob@example.com"
            return (email is not None, email)
        local, _, domain = text.partition("@")
        return (True, f"{local}@{domain.lower()}")
    if kind == "phone":
        digits = re.sub(r"\D", "", text)
        if not _PHONE.match(text) or not 6 <= len(digits) <= 15:
            return (False, None)
        return (True, ("+" if text.startswith("+") else "") + digits)
    if kind == "date":
        iso = _date(text, today) or extract.find_date(text, today)  # "next friday"
        return (iso is not None, iso)
    if kind == "enum":
        chosen = _enum(text, values or []) or extract.choice(text, values or [])  # "greek food"
        return (chosen is not None, chosen)
    raise ValueError(f"unknown input type '{kind}'")


def coerce_stored(kind: str, value: Any) -> Any:
    """A value written into a variable declared `kind`, converted where that is safe: a
    numeric string into a number ("40" → 40 for int, "12,5" → 12.5 for float), a whole float
    into an int. Anything else is returned as it is (the caller checks the type)."""
    if isinstance(value, str) and kind in ("int", "float"):
        compact = value.strip().replace(" ", "").replace("_", "")
        if kind == "int" and _INT.match(compact):
            return int(compact)
        if kind == "float" and _FLOAT.match(compact):
            return float(compact.replace(",", "."))
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value
