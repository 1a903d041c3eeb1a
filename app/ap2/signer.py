"""The vault key as the engine's receipt `Signer`, cached per process and reloaded now and then.

The keyring is read before the request's transaction starts (SQLite has one writer:
reading it inside the request's write transaction would wait on itself), and re-read
every few minutes so a rotation reaches every server process.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from app.core.config import Settings
from app.core.database import Database
from app.core.logging import get_logger
from app.signing import Keyring

REFRESH_SECONDS = 300.0
log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class KeyringSigner:
    """Signs a receipt payload as an ES256 JWT with the vault's current key."""

    keyring: Keyring

    @property
    def kid(self) -> str:
        return self.keyring.kid

    def sign(self, payload: dict[str, Any], /) -> str:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        return self.keyring.sign(body, typ="JWT")


class VaultSigners:
    """One cached KeyringSigner per process (the ap2 feature's app-state object)."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self._signer: KeyringSigner | None = None
        self._loaded = 0.0
        self._lock = asyncio.Lock()

    async def current(self) -> KeyringSigner:
        signer = self._signer
        if signer is not None and time.monotonic() - self._loaded < REFRESH_SECONDS:
            return signer
        async with self._lock:
            if self._signer is None or time.monotonic() - self._loaded >= REFRESH_SECONDS:
                from app.audit.vault_keys import load_keyring

                try:
                    keyring = await load_keyring(self.database, self.settings)
                except Exception as error:
                    if self._signer is None:
                        raise
                    # Keep signing with the key read before; try again in a minute.
                    log.warning("vault_key_refresh_failed", error=type(error).__name__)
                    self._loaded = time.monotonic() - REFRESH_SECONDS + 60
                    return self._signer
                self._signer = KeyringSigner(keyring)
                self._loaded = time.monotonic()
            return self._signer
