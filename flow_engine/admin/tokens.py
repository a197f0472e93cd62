"""Member API tokens: ``fe_<token id>_<secret>``. Only a SHA-256 of the secret is stored
(the secret is 32 random bytes, so a slow hash adds nothing); the token is shown once."""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "fe"


def new_token() -> tuple[str, str, str]:
    """``(token id, token, hash)`` for a new token."""
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return token_id, f"{PREFIX}_{token_id}_{secret}", hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    """``(token id, secret)`` of a well-formed member token, else None."""
    prefix, _, rest = token.partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not token_id or not secret:
        return None
    return token_id, secret


def matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a secret with a stored hash."""
    return hmac.compare_digest(hash_secret(secret).encode(), stored_hash.encode())
