"""Secrets at rest: channel configs and webhook tokens are encrypted when a key is configured.

Fernet (AES-128-CBC with an HMAC-SHA256) from `cryptography`. Values written before a key was
set stay readable; encrypted values need the key that wrote them.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from .base import StoreError

PREFIX = "enc:v1:"


def valid_key(key: str) -> bool:
    """Whether `key` is a Fernet key (`python -m orchestrator.store.secrets` prints a new one)."""
    try:
        Fernet(key.encode())
    except ValueError:
        return False
    return True


class SecretBox:
    """Seals values before they are stored, and opens them when read."""

    def __init__(self, key: str | None = None) -> None:
        self._fernet = Fernet(key.encode()) if key else None

    def seal(self, text: str) -> str:
        """The stored form of a secret value (unchanged when no key is configured)."""
        if self._fernet is None:
            return text
        return PREFIX + self._fernet.encrypt(text.encode()).decode()

    def open(self, stored: str) -> str:
        """The value of a stored secret; StoreError when it cannot be decrypted."""
        if not stored.startswith(PREFIX):
            return stored
        if self._fernet is None:
            raise StoreError("stored secrets are encrypted: set storage.encryption_key")
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise StoreError("stored secrets do not decrypt with storage.encryption_key") from exc


if __name__ == "__main__":  # pragma: no cover
    print(Fernet.generate_key().decode())
