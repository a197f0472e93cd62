"""Passwords of people signing in to the web console: argon2id hashes (``argon2-cffi``,
its default parameters: RFC 9106's low-memory profile), never the password itself.

Hashing takes tens of milliseconds on purpose; callers run it in a thread
(:func:`asyncio.to_thread`), and the argon2 binding releases the GIL meanwhile.
"""

from __future__ import annotations

import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from flow_engine.errors import UnprocessableEntity

PASSWORD_MIN = 10
PASSWORD_MAX = 256

_hasher = PasswordHasher()
#: verified against when the e-mail is unknown, so both cases cost the same
_DUMMY = _hasher.hash("not a password of anyone")


def check_password(password: str, field: str = "password") -> None:
    """422 naming ``field`` unless ``password`` is acceptable: 10 to 256 characters, not
    only spaces."""
    problem = None
    if len(password) < PASSWORD_MIN:
        problem = f"at least {PASSWORD_MIN} characters"
    elif len(password) > PASSWORD_MAX:
        problem = f"at most {PASSWORD_MAX} characters"
    elif not password.strip():
        problem = "not only spaces"
    if problem:
        raise UnprocessableEntity(
            "unacceptable password",
            details=[{"field": field, "message": f"use {problem}", "type": "password"}],
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (None: no password set; the same work is
    done anyway)."""
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def stamp(stored: str) -> str:
    """A short fingerprint of a stored hash: a session made before the password changed
    carries the old one, and stops working."""
    return hashlib.sha256(stored.encode()).hexdigest()[:16]
