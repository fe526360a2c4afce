"""Extractors: values found inside what the user wrote ("4 people" → 4, "$50" → 50.0,
"tomorrow" → an ISO date, an email address, one of a list of choices).

Typed asks use them (an `int` ask accepts "table for 4 people"), and templates reach them as
the filters `number`, `amount`, `currency`, `find_date`, `find_email` and `choice`
(templating.py). Each returns None when the text holds no such value, or more than one
different value (an ambiguous "2 adults and 3 children" is not a number of people).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from .text import normalise

_NUMBER = re.compile(r"(?<![\w.,])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:[.,]\d+)?(?!\w|[.,]\d)")
_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100,
    "a dozen": 12, "a couple": 2, "a hundred": 100, "a thousand": 1000,
}  # fmt: skip
_WORD = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _WORDS), key=len, reverse=True)) + r")\b")
# currency: symbols and words → ISO code
CURRENCIES = {
    "$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "bucks": "USD",
    "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP",
    "¥": "JPY", "jpy": "JPY", "yen": "JPY", "chf": "CHF", "francs": "CHF",
}  # fmt: skip
_CURRENCY = re.compile(
    r"(?i)(?:(?P<sym>[$€£¥])|\b(?P<word>"
    + "|".join(sorted((re.escape(k) for k in CURRENCIES if k.isalpha()), key=len, reverse=True))
    + r")\b)"
)
_EMAIL = re.compile(r"[^@\s<>(),;:\"']+@[^@\s<>(),;:\"']+\.[A-Za-z]{2,}")
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_DMY = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\b")
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_IN_DAYS = re.compile(r"\bin (\d+) days?\b")
_TODAY = ("today", "aujourd hui", "hoy", "tonight")
_TOMORROW = ("tomorrow", "demain", "manana")


def _to_number(raw: str) -> float:
    """ "1,234.50" → 1234.5, "12,5" → 12.5, "1,234" → 1234 (a comma before exactly three
    digits groups thousands; otherwise the last separator is the decimal point)."""
    if "," in raw and "." in raw:
        last = max(raw.rfind(","), raw.rfind("."))
        return float(re.sub(r"[.,]", "", raw[:last]) + "." + raw[last + 1 :])
    if raw.count(",") == 1 and not re.search(r",\d{3}$", raw):
        return float(raw.replace(",", "."))
    return float(raw.replace(",", ""))


def numbers(text: Any) -> list[float]:
    """Every number written in the text, in order: digits ("1,234.50", "12,5") or words
    ("four", "a dozen")."""
    if isinstance(text, bool):
        return []
    if isinstance(text, int | float):
        return [float(text)]
    if not isinstance(text, str):
        return []
    found = [(m.start(), _to_number(m.group(0))) for m in _NUMBER.finditer(text)]
    lowered = text.casefold()
    found.extend((m.start(), float(_WORDS[m.group(1)])) for m in _WORD.finditer(lowered))
    return [value for _, value in sorted(found)]


def _one(values: Iterable[Any]) -> Any:
    distinct = list(dict.fromkeys(values))
    return distinct[0] if len(distinct) == 1 else None


def number(text: Any) -> int | float | None:
    """The one number in the text ("table for 4 people" → 4), as an int when whole."""
    value = _one(numbers(text))
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def amount(text: Any) -> float | None:
    """The amount of money in the text ("$50", "50 dollars", "€12,50", "make it 40")."""
    value = _one(numbers(text))
    return None if value is None else float(value)


def currency(text: Any, default: str | None = None) -> str | None:
    """The ISO code of the currency named in the text ("$50" → USD), else `default`."""
    if not isinstance(text, str):
        return default
    codes = []
    for m in _CURRENCY.finditer(text):
        key = m.group("sym") or m.group("word").casefold()
        codes.append(CURRENCIES[key])
    for m in re.finditer(r"\b(USD|EUR|GBP|JPY|CHF)\b", text):
        codes.append(m.group(1))
    return _one(codes) or default


def find_email(text: Any) -> str | None:
    """The one email address in the text, its domain lower-cased."""
    if not isinstance(text, str):
        return None
    found = []
    for m in _EMAIL.finditer(text):
        local, _, domain = m.group(0).rstrip(".").partition("@")
        found.append(f"{local}@{domain.lower()}")
    return _one(found)


def find_date(text: Any, today: date | str) -> str | None:
    """The one date in the text as YYYY-MM-DD: ISO or day/month/year, today, tomorrow,
    "in 3 days", or a weekday name (the next one, never today)."""
    if not isinstance(text, str):
        return None
    if isinstance(today, str):
        today = date.fromisoformat(today[:10])
    found: list[str] = []
    for m in _ISO.finditer(text):
        found.extend(_valid(int(m.group(1)), int(m.group(2)), int(m.group(3))))
    for m in _DMY.finditer(text):
        found.extend(_valid(int(m.group(3)), int(m.group(2)), int(m.group(1))))
    words = f" {normalise(text)} "
    if any(f" {w} " in words for w in _TODAY):
        found.append(today.isoformat())
    if any(f" {w} " in words for w in _TOMORROW):
        found.append((today + timedelta(days=1)).isoformat())
    for m in _IN_DAYS.finditer(words):
        found.append((today + timedelta(days=int(m.group(1)))).isoformat())
    for index, day in enumerate(_DAYS):
        if f" {day} " in words:
            ahead = (index - today.weekday() - 1) % 7 + 1
            found.append((today + timedelta(days=ahead)).isoformat())
    return _one(found)


def _valid(year: int, month: int, day: int) -> list[str]:
    try:
        return [datetime(year, month, day).date().isoformat()]
    except ValueError:
        return []


def choice(text: Any, options: Iterable[Any]) -> str | None:
    """The one option named in the text, whole words, case- and accent-insensitive
    ("greek food please" with [greek, italian] → greek). An option may be a string or a
    {value, synonyms} mapping."""
    if not isinstance(text, str):
        return None
    words = f" {normalise(text)} "
    found = []
    for option in options:
        if isinstance(option, dict):
            canonical, names = option.get("value"), [option.get("value"), *option.get("synonyms", [])]
        else:
            value = getattr(option, "value", option)
            canonical, names = value, [value, *getattr(option, "synonyms", [])]
        if any(f" {normalise(str(n))} " in words for n in names if n is not None and normalise(str(n))):
            found.append(canonical)
    return _one(found)
