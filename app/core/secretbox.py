"""Secrets at rest: webhook signing secrets, the vault's private key, anything a
database dump must not give away.

Values are sealed with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`)
under the keys of `ENCRYPTION_KEYS`: the first key seals, every key opens, so a
key is rotated by putting a new one first, running `reseal` over stored values,
then dropping the old one. Without `ENCRYPTION_KEYS` one key is derived from
`SECRET_KEY` (HKDF-SHA256), so a development setup needs nothing more.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_DERIVATION_INFO = b"mandate-vault/secretbox/v1"


class SecretUnreadable(Exception):
    """A sealed value that none of the configured keys opens (wrong or rotated-away key)."""


def derive_key(secret_key: str, purpose: bytes = _DERIVATION_INFO) -> bytes:
    """A Fernet key derived from SECRET_KEY for one purpose."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(raw)


def new_key() -> str:
    """A fresh random key for ENCRYPTION_KEYS."""
    return Fernet.generate_key().decode()


class SecretBox:
    """Seal and open short secrets with the configured keys (first one seals)."""

    def __init__(self, keys: Sequence[bytes | str]) -> None:
        if not keys:
            raise ValueError("a SecretBox needs at least one key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_settings(cls, secret_key: str, encryption_keys: Sequence[str] = ()) -> SecretBox:
        return cls(list(encryption_keys) or [derive_key(secret_key)])

    def seal(self, plaintext: str | bytes) -> str:
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        return self._fernet.encrypt(data).decode("ascii")

    def open_bytes(self, sealed: str) -> bytes:
        try:
            return self._fernet.decrypt(sealed.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise SecretUnreadable(
                "a stored secret cannot be decrypted with ENCRYPTION_KEYS (was a key removed?)"
            ) from None

    def open(self, sealed: str) -> str:
        return self.open_bytes(sealed).decode()

    def reseal(self, sealed: str) -> str:
        """The same secret sealed under the current first key (key rotation)."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError):
            raise SecretUnreadable("a stored secret cannot be decrypted for rotation") from None
