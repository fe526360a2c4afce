"""Text as triggers see it: lower-case, no accents, no punctuation (keywords and intents)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


@lru_cache(maxsize=4096)  # the same text is normalised for every trigger kind of a turn
def normalise(text: str) -> str:
    """Lower-case, accents removed, punctuation to spaces, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NON_WORD.sub(" ", stripped.casefold()).split())
