"""Secrets at rest and their rotation window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.core.secretbox import SecretBox, SecretUnreadable, new_key
from app.webhooks.rotation import (
    StoredSecrets,
    current_secret,
    expire_previous,
    issue_secrets,
    reseal_secrets,
    rotate_secrets,
    signing_keys,
)
from app.webhooks.signing import WebhookSignatureError, new_secret, unix_now, webhook_headers

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
BODY = b'{"type":"webhook.test"}'


@pytest.fixture
def box_key() -> str:
    return new_key()


@pytest.fixture
def box(box_key: str) -> SecretBox:
    return SecretBox([box_key])


def test_secrets_are_sealed_at_rest(box: SecretBox) -> None:
    secret = new_secret()
    stored = issue_secrets(box, secret)
    assert secret not in stored.current
    assert current_secret(box, stored) == secret
    assert stored.previous is None


def test_a_brought_secret_must_be_valid(box: SecretBox) -> None:
    with pytest.raises(WebhookSignatureError):
        issue_secrets(box, "not-a-secret")
    with pytest.raises(WebhookSignatureError):
        rotate_secrets(box, issue_secrets(box), now=NOW, secret="whsec_short")


def test_rotation_signs_with_both_for_the_overlap_then_only_the_new(box: SecretBox) -> None:
    old = new_secret()
    stored = issue_secrets(box, old)
    rotated = rotate_secrets(box, stored, now=NOW, overlap=timedelta(hours=24))
    new = current_secret(box, rotated)
    assert new != old
    assert rotated.previous_expires_at == NOW + timedelta(hours=24)

    during = signing_keys(box, rotated, now=NOW + timedelta(hours=23, minutes=59))
    headers = webhook_headers("msg_rot", unix_now(), BODY, during)
    Webhook(old).verify(BODY, headers)
    Webhook(new).verify(BODY, headers)

    after = signing_keys(box, rotated, now=NOW + timedelta(hours=24))
    assert len(after) == 1
    headers = webhook_headers("msg_rot", unix_now(), BODY, after)
    Webhook(new).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(BODY, headers)


def test_second_rotation_inside_the_window_drops_the_oldest(box: SecretBox) -> None:
    first = new_secret()
    once = rotate_secrets(box, issue_secrets(box, first), now=NOW)
    twice = rotate_secrets(box, once, now=NOW + timedelta(hours=1))
    keys = signing_keys(box, twice, now=NOW + timedelta(hours=2))
    assert len(keys) == 2
    headers = webhook_headers("msg_x", unix_now(), BODY, keys)
    Webhook(current_secret(box, once)).verify(BODY, headers)
    Webhook(current_secret(box, twice)).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(first).verify(BODY, headers)


def test_zero_overlap_switches_at_once(box: SecretBox) -> None:
    rotated = rotate_secrets(box, issue_secrets(box), now=NOW, overlap=timedelta(0))
    assert rotated.previous is None
    assert len(signing_keys(box, rotated, now=NOW)) == 1


def test_expire_previous_and_reseal(box: SecretBox, box_key: str) -> None:
    rotated = rotate_secrets(box, issue_secrets(box), now=NOW, overlap=timedelta(hours=1))
    assert expire_previous(rotated, now=NOW) == rotated
    assert expire_previous(rotated, now=NOW + timedelta(hours=1)) == StoredSecrets(rotated.current)

    newer = new_key()
    resealed = reseal_secrets(SecretBox([newer, box_key]), rotated)
    only_new = SecretBox([newer])
    assert current_secret(only_new, resealed) == current_secret(box, rotated)
    assert len(signing_keys(only_new, resealed, now=NOW)) == 2
    with pytest.raises(SecretUnreadable):
        current_secret(box, resealed)
