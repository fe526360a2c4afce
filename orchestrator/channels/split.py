"""Splitting a text that is over a platform's length limit into several that fit.

Platforms refuse an over-long message (Telegram 4096 characters, a caption 1024; Messenger
2000; a Slack section 3000) instead of cutting it, so a channel sends the pieces in order.
A piece ends at the last paragraph break that fits, else the last line break, else the last
space (a break is only taken in the second half of the limit, so no piece is much shorter than
it must be), else it is cut at the limit. Whitespace at the cut is dropped; nothing else is.
"""

from __future__ import annotations

from collections.abc import Callable

_BREAKS = ("\n\n", "\n", " ")


def utf16_length(text: str) -> int:
    """The length in UTF-16 code units (how Telegram counts: an emoji outside the BMP is 2)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(
    text: str, limit: int, size: Callable[[str], int] = len, *, first: int | None = None
) -> list[str]:
    """`text` as pieces of at most `limit` (measured by `size`), cut at natural boundaries;
    the first piece at most `first` when given (a caption, then messages).

    A text that fits is returned as it is (one piece, even empty)."""
    if limit < 1 or (first is not None and first < 1):
        raise ValueError("limits must be positive")
    pieces: list[str] = []
    rest = text
    while size(rest) > (current := first if first is not None and not pieces else limit):
        cut = _cut(rest, current, size)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if head:
            pieces.append(head)
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def _cut(text: str, limit: int, size: Callable[[str], int]) -> int:
    """Where to end the first piece of `text` (which is over `limit`)."""
    end = min(limit, len(text))
    while end > 1 and (over := size(text[:end]) - limit) > 0:
        end = max(1, end - (over + 1) // 2)  # a character is at most 2 UTF-16 units
    window = text[: end + 1]  # a break just after the limit still ends a piece that fits
    for separator in _BREAKS:
        at = window.rfind(separator, 0, end + 1)
        if at >= end // 2 and at > 0:
            return at
    return end
