"""API keys: random, shown once, stored only as a hash and compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

KEY_PREFIX = "ssk_"
_USER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def generate_webhook_secret() -> str:
    """A key's webhook signing secret, as Standard Webhooks writes it: "whsec_" + base64 of 24 random bytes.
    Kept (not hashed): it signs."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def generate_key_id() -> str:
    return "key_" + secrets.token_hex(6)


def generate_user_id() -> str:
    return "usr_" + secrets.token_hex(8)


def hash_api_key(raw_key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def hashes_match(stored_hash: str, presented_key: str) -> bool:
    return hmac.compare_digest(stored_hash.encode(), hash_api_key(presented_key).encode())


def is_valid_user_id(user_id: str) -> bool:
    """User ids become S3 key segments (`ocr/<user_id>/...`), so they are kept to a safe alphabet."""
    return bool(_USER_ID.match(user_id))


def key_from_headers(headers: dict[str, str]) -> str | None:
    """`Authorization: Bearer <key>` or `X-API-Key: <key>`; header names are case-insensitive."""
    lowered = {name.lower(): value for name, value in headers.items() if value is not None}
    api_key = lowered.get("x-api-key", "").strip()
    if api_key:
        return api_key
    scheme, _, credentials = lowered.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None
