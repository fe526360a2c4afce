"""Errors services raise; the API turns each into its HTTP status."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of the errors below."""


class NotFound(ServiceError):
    """Unknown, or belongs to another client (both answer 404 `Not Found`)."""

    def __init__(self, what: str = "Not Found") -> None:
        super().__init__(what)


class Forbidden(ServiceError):
    """A valid id with the wrong secret (403)."""


class Invalid(ServiceError):
    """A request that is well-formed but wrong; the message names the field (400)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f'"{field}" {message}')
        self.field = field

    @classmethod
    def joined(cls, messages: list[str]) -> Invalid:
        """One error carrying several complete messages (`"a" is required. "b" is required`)."""
        error = cls.__new__(cls)
        Exception.__init__(error, ". ".join(messages))
        error.field = messages[0].split('"')[1] if messages[0].count('"') >= 2 else ""
        return error


class Unavailable(ServiceError):
    """Something the request needs outside the service is down (503 with Retry-After); the
    message names it (`channel telegram unreachable: …`)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooMany(ServiceError):
    """Over a fair-share limit (429 with Retry-After)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
