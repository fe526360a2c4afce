"""Ids of messages: random version-4 UUIDs without a urandom syscall per id.

A process-local generator seeded once from the OS draws them. They are names, not secrets
(reading a message still needs its client's token), so a fast PRNG is enough; tokens and
webhook secrets keep using `secrets`/`uuid.uuid4`.
"""

from __future__ import annotations

import os
import random

_random = random.Random(os.urandom(32))
_VERSION_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def new_id() -> str:
    """A random UUID (version 4) as text, like `str(uuid.uuid4())`."""
    h = f"{(_random.getrandbits(128) & _VERSION_CLEAR) | _VERSION_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
