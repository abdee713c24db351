"""Passwords (argon2id) and the random secrets behind API tokens and web sessions (pure, no I/O)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults are RFC 9106's second recommended option (argon2id, 64 MiB, t=3, p=4).
_HASHER = PasswordHasher()
# Verified against when the account does not exist, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
TOKEN_PREFIX = "aic_"  # noqa: S105 (a public prefix, not a secret)


def hash_password(password: str) -> str:
    check_password_strength(password)
    return _HASHER.hash(password)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; takes the same time whether or not a hash exists."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class NewSecret:
    plaintext: str
    digest: str
    hint: str


def new_token_secret() -> NewSecret:
    """An API token: ``aic_`` and 43 URL-safe characters (256 bits). Stored as SHA-256 only.

    A fast hash is right here: the secret is random and long, so it cannot be guessed offline, and
    every API request has to check it.
    """
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return NewSecret(plaintext, sha256_hex(plaintext), plaintext[:10])


def new_session_secret() -> NewSecret:
    plaintext = secrets.token_urlsafe(32)
    return NewSecret(plaintext, sha256_hex(plaintext), "")


def csrf_token(key: bytes, binding: str) -> str:
    """The CSRF token for a browser: an HMAC of its session (or anonymous) cookie under the server key."""
    return hmac.new(key, b"csrf:" + binding.encode(), hashlib.sha256).hexdigest()


def csrf_matches(key: bytes, binding: str, presented: str) -> bool:
    return hmac.compare_digest(csrf_token(key, binding), presented or "")
