from __future__ import annotations

import pytest

from app.core.config import SettingsError
from app.core.secretbox import SecretBox, SecretUnreadable, derive_key, new_key
from tests.conftest import make_settings


def test_sealed_value_opens_and_is_not_the_plaintext() -> None:
    box = SecretBox.from_settings("s" * 40)
    sealed = box.seal("whsec_abc")
    assert "whsec_abc" not in sealed
    assert box.open(sealed) == "whsec_abc"


def test_derived_key_depends_on_the_secret_key() -> None:
    sealed = SecretBox.from_settings("a" * 40).seal("x")
    with pytest.raises(SecretUnreadable):
        SecretBox.from_settings("b" * 40).open(sealed)
    assert derive_key("a" * 40) == derive_key("a" * 40)


def test_rotation_new_key_first_still_opens_old_values_and_reseals() -> None:
    old, new = new_key(), new_key()
    sealed_old = SecretBox([old]).seal("secret")
    rotated = SecretBox([new, old])
    assert rotated.open(sealed_old) == "secret"
    resealed = rotated.reseal(sealed_old)
    assert SecretBox([new]).open(resealed) == "secret"
    with pytest.raises(SecretUnreadable):
        SecretBox([new]).open(sealed_old)


def test_garbage_is_unreadable_not_a_crash() -> None:
    box = SecretBox([new_key()])
    for junk in ("", "not-a-token", "gAAAA\u0000", "é"):
        with pytest.raises(SecretUnreadable):
            box.open(junk)


def test_bad_encryption_keys_setting_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="ENCRYPTION_KEYS"):
        make_settings("sqlite+aiosqlite:///x.db", encryption_keys="nope")
    settings = make_settings(
        "sqlite+aiosqlite:///x.db", encryption_keys=f"{new_key()}, {new_key()}"
    )
    assert len(settings.encryption_key_list) == 2
