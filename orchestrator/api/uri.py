"""RFC 3986 URIs, accepted exactly as Joi's `string().uri()` accepts them.

The pattern is built the way Joi's URI grammar (`@sideway/address`) builds it, with the same
character classes (ASCII `\\w`, a `%` allowed anywhere a character class allows it), so that
what Botpress Messaging accepts is accepted here and what it refuses is refused. The value is
never normalised: a webhook URL is stored and returned exactly as the client sent it.
"""

from __future__ import annotations

import re

_HEX = r"\dA-Fa-f"
_UNRESERVED = r"\w\-\.~"
_SUB_DELIMS = r"!\$&'\(\)\*\+,;="
_PCT = "%" + _HEX
_PCHAR = _UNRESERVED + _PCT + _SUB_DELIMS + ":@"
_PCHAR_ONLY = f"[{_PCHAR}]"

_DEC_OCTET = r"(?:0{0,2}\d|0?[1-9]\d|1\d\d|2[0-4]\d|25[0-5])"
_IPV4 = rf"(?:{_DEC_OCTET}\.){{3}}{_DEC_OCTET}"
_H16 = f"[{_HEX}]{{1,4}}"
_LS32 = f"(?:{_H16}:{_H16}|{_IPV4})"
_IPV6 = (
    "(?:"
    + "|".join(
        [
            f"(?:{_H16}:){{6}}{_LS32}",
            f"::(?:{_H16}:){{5}}{_LS32}",
            f"(?:{_H16})?::(?:{_H16}:){{4}}{_LS32}",
            f"(?:(?:{_H16}:){{0,1}}{_H16})?::(?:{_H16}:){{3}}{_LS32}",
            f"(?:(?:{_H16}:){{0,2}}{_H16})?::(?:{_H16}:){{2}}{_LS32}",
            f"(?:(?:{_H16}:){{0,3}}{_H16})?::{_H16}:{_LS32}",
            f"(?:(?:{_H16}:){{0,4}}{_H16})?::{_LS32}",
            f"(?:(?:{_H16}:){{0,5}}{_H16})?::{_H16}",
            f"(?:(?:{_H16}:){{0,6}}{_H16})?::",
        ]
    )
    + ")"
)
_IPV_FUTURE = f"v[{_HEX}]+\\.[{_UNRESERVED}{_SUB_DELIMS}:]+"
_SCHEME = r"[a-zA-Z][a-zA-Z\d+\-\.]*"
_USERINFO = f"[{_UNRESERVED}{_PCT}{_SUB_DELIMS}:]*"
_IP_LITERAL = rf"\[(?:{_IPV6}|{_IPV_FUTURE})\]"
_REG_NAME = f"[{_UNRESERVED}{_PCT}{_SUB_DELIMS}]{{1,255}}"
_HOST = f"(?:{_IP_LITERAL}|{_IPV4}|{_REG_NAME})"
_AUTHORITY = rf"(?:{_USERINFO}@)?{_HOST}(?::\d*)?"
_SEGMENT = _PCHAR_ONLY + "*"
_SEGMENT_NZ = _PCHAR_ONLY + "+"
_PATH_AB_EMPTY = rf"(?:\/{_SEGMENT})*"
_PATH_ABSOLUTE = rf"\/(?:{_SEGMENT_NZ}{_PATH_AB_EMPTY})?"
_PATH_ROOTLESS = _SEGMENT_NZ + _PATH_AB_EMPTY
_PATH_AB_NO_AUTHORITY = rf"(?:\/\/\/{_SEGMENT}{_PATH_AB_EMPTY})"
_HIER_PART = (
    rf"(?:(?:\/\/{_AUTHORITY}{_PATH_AB_EMPTY})|{_PATH_ABSOLUTE}|{_PATH_ROOTLESS}"
    rf"|{_PATH_AB_NO_AUTHORITY})"
)
_QUERY = rf"[{_PCHAR}\/\?]*(?=#|\Z)"
_FRAGMENT = rf"[{_PCHAR}\/\?]*"

URI_PATTERN = rf"^(?:{_SCHEME}:{_HIER_PART})(?:\?{_QUERY})?(?:#{_FRAGMENT})?\Z"
_URI = re.compile(URI_PATTERN, re.ASCII)


def is_uri(value: str) -> bool:
    """Whether Joi's `string().uri()` accepts `value` (an absolute URI, any scheme)."""
    return _URI.match(value) is not None
