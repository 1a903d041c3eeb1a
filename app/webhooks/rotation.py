"""An endpoint's signing secrets at rest (sealed by SecretBox) and their rotation.

After a rotation the old secret keeps signing, beside the new one, until
`previous_expires_at`; receivers can switch secrets at their own pace. A second
rotation inside the window drops the oldest secret: at most two are ever live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.core.secretbox import SecretBox
from app.webhooks.signing import SigningKey, new_secret, parse_secret

DEFAULT_ROTATION_OVERLAP = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class StoredSecrets:
    """What the endpoint row keeps: sealed secrets, never plaintext."""

    current: str
    previous: str | None = None
    previous_expires_at: datetime | None = None

    def in_rotation(self, now: datetime) -> bool:
        """True while the previous secret still signs."""
        return (
            self.previous is not None
            and self.previous_expires_at is not None
            and now < self.previous_expires_at
        )


def issue_secrets(box: SecretBox, secret: str | None = None) -> StoredSecrets:
    """Secrets for a new endpoint: `secret` (checked) or a fresh one, sealed."""
    chosen = secret if secret is not None else new_secret()
    parse_secret(chosen)
    return StoredSecrets(current=box.seal(chosen))


def rotate_secrets(
    box: SecretBox,
    stored: StoredSecrets,
    *,
    now: datetime,
    overlap: timedelta = DEFAULT_ROTATION_OVERLAP,
    secret: str | None = None,
) -> StoredSecrets:
    """A new current secret; the old one keeps signing for `overlap` (zero: not at all)."""
    chosen = secret if secret is not None else new_secret()
    parse_secret(chosen)
    if overlap <= timedelta(0):
        return StoredSecrets(current=box.seal(chosen))
    return StoredSecrets(
        current=box.seal(chosen), previous=stored.current, previous_expires_at=now + overlap
    )


def current_secret(box: SecretBox, stored: StoredSecrets) -> str:
    """The plaintext current secret, to show its owner; raises SecretUnreadable."""
    return box.open(stored.current)


def signing_keys(box: SecretBox, stored: StoredSecrets, *, now: datetime) -> tuple[SigningKey, ...]:
    """The keys a message sent at `now` is signed with: current first, then previous in its window."""
    keys = [SigningKey.from_secret(box.open(stored.current))]
    if stored.in_rotation(now) and stored.previous is not None:
        keys.append(SigningKey.from_secret(box.open(stored.previous)))
    return tuple(keys)


def expire_previous(stored: StoredSecrets, *, now: datetime) -> StoredSecrets:
    """The same secrets without a previous one whose window has closed (for a cleanup job)."""
    if stored.previous is not None and not stored.in_rotation(now):
        return StoredSecrets(current=stored.current)
    return stored


def reseal_secrets(box: SecretBox, stored: StoredSecrets) -> StoredSecrets:
    """The same secrets sealed under the first ENCRYPTION_KEYS key (key rotation)."""
    return StoredSecrets(
        current=box.reseal(stored.current),
        previous=box.reseal(stored.previous) if stored.previous is not None else None,
        previous_expires_at=stored.previous_expires_at,
    )
