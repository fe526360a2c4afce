"""Meta's webhook contract, shared by Messenger and the WhatsApp Cloud API.

Both platforms subscribe a URL with the same `GET` handshake (`hub.verify_token` answered by
`hub.challenge`) and sign every `POST` body with `X-Hub-Signature-256` (HMAC-SHA256 of the raw
body with the app secret).
"""

from __future__ import annotations

from pydantic import SecretStr

from orchestrator.channels.base import (
    ImmediateResponse,
    InboundRequest,
    ParsedInbound,
    VerificationError,
    hmac_sha256_hex,
    secrets_equal,
)


def verify(
    req: InboundRequest,
    verify_token: SecretStr | str,
    app_secret: SecretStr | str,
    missing_signature_status: int,
) -> None:
    """Check the handshake's verify token, or the body's `X-Hub-Signature-256`."""
    if req.method == "GET":
        token = req.query.get("hub.verify_token", "")
        if req.query.get("hub.mode") != "subscribe" or not secrets_equal(token, verify_token):
            raise VerificationError(403, "wrong hub.verify_token")
        return
    signature = req.headers.get("X-Hub-Signature-256", "")
    if not signature:
        raise VerificationError(missing_signature_status, "missing X-Hub-Signature-256")
    expected = "sha256=" + hmac_sha256_hex(app_secret, req.body)
    if not secrets_equal(signature, expected):
        raise VerificationError(403, "wrong X-Hub-Signature-256")


def handshake(req: InboundRequest) -> ParsedInbound | None:
    """The answer to a subscription handshake (`hub.challenge`), or None for an event."""
    if req.method != "GET":
        return None
    challenge = req.query.get("hub.challenge", "").encode()
    return ParsedInbound(response=ImmediateResponse(200, challenge, "text/plain"))
