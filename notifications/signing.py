"""Standard Webhooks signing (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp`
and `webhook-signature` = `v1,` + base64 HMAC-SHA256 over `id.timestamp.body`, computed by the
`standardwebhooks` library, with every secret in force (two during a rotation)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"


def secret_generate() -> str:
    """A new signing secret: `whsec_` and 24 random bytes in base64 (the library's format)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signed_headers(
    *, secrets_in_force: Iterable[str], message_id: str, timestamp: datetime, body: str
) -> dict[str, str]:
    """The three Standard Webhooks headers for `body` (plus the content type)."""
    signatures = " ".join(
        Webhook(secret).sign(msg_id=message_id, timestamp=timestamp, data=body)
        for secret in secrets_in_force
    )
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signatures,
    }
