"""Inbound normalisation and typed coercion of answers."""

from datetime import date

import pytest

from orchestrator.engine.inputs import coerce, normalise_event
from orchestrator.engine.models import EnumValue

TODAY = date(2024, 6, 3)


def answer(kind, text, **kw):
    return coerce(kind, normalise_event({"type": "text", "text": text}), today=TODAY, **kw)


def test_normalise_event_kinds():
    assert normalise_event({"type": "postback", "payload": "P", "text": "T"}).payload == "P"
    assert normalise_event({"type": "quick_reply", "payload": "Q"}).type == "payload"
    ev = normalise_event({"type": "event", "event": "account_linked", "data": {"a": 1}})
    assert (ev.type, ev.event, ev.data) == ("event", "account_linked", {"a": 1})
    assert normalise_event({"type": "image", "url": "https://x/y.png"}).url == "https://x/y.png"
    with pytest.raises(ValueError, match="invalid inbound event"):
        normalise_event({"type": "bogus"})


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("str", "  hi ", (True, "hi")),
        ("int", "1 200", (True, 1200)),
        ("int", "12a", (False, None)),
        ("float", "3,5", (True, 3.5)),
        ("bool", "Oui", (True, True)),
        ("bool", "nope", (True, False)),
        ("bool", "maybe", (False, None)),
        ("email", "Bob@Example.COM", (True, "Bob@example.com")),
        ("email", "bob@", (False, None)),
        ("phone", "+33 1 23 45 67 89", (True, "+33123456789")),
        ("phone", "12", (False, None)),
        ("date", "25/12/2024", (True, "2024-12-25")),
        ("date", "tomorrow", (True, "2024-06-04")),
        ("date", "soon", (False, None)),
    ],
)
def test_coercion(kind, text, expected):
    assert answer(kind, text) == expected


def test_enum_with_synonyms_and_payload_answers():
    values = ["red", EnumValue(value="blue", synonyms=["bleu", "azure"])]
    assert answer("enum", "Bleu", values=values) == (True, "blue")
    assert answer("enum", "green", values=values) == (False, None)
    click = normalise_event({"type": "postback", "payload": "red"})
    assert coerce("enum", click, today=TODAY, values=values) == (True, "red")
