"""The keyring: one current key, older public keys still published."""

from __future__ import annotations

import pytest

from app.keys import keys_from_jwks
from app.signing import Keyring, generate_signing_key, verify_jws

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}


def test_jwks_lists_current_first_with_public_members_only() -> None:
    keyring = Keyring.of(generate_signing_key())
    jwks = keyring.public_jwks()
    assert [k["kid"] for k in jwks["keys"]] == [keyring.kid]
    assert not PRIVATE_MEMBERS & set(jwks["keys"][0])
    assert len(keys_from_jwks(jwks)) == 1


def test_rotation_keeps_every_older_key_newest_first() -> None:
    first = Keyring.of(generate_signing_key())
    second = first.rotated()
    third = second.rotated()
    assert [k["kid"] for k in third.public_jwks()["keys"]] == [third.kid, second.kid, first.kid]
    token = first.sign(b"checkpoint", typ="t+jws")
    assert verify_jws(token, third.keyset()).kid == first.kid


def test_rotating_to_a_given_key_and_dropping_duplicates() -> None:
    first = Keyring.of(generate_signing_key())
    new = generate_signing_key()
    rotated = first.rotated(new)
    assert rotated.current is new
    # Publishing the current key again among the retired ones lists it once.
    again = Keyring.of(new, [new.public_jwk(), first.current.public_jwk()])
    assert [k["kid"] for k in again.public_jwks()["keys"]] == [new.kid, first.kid]


def test_a_retired_entry_that_is_not_a_public_key_is_refused() -> None:
    with pytest.raises(Exception, match="JWKS"):
        Keyring.of(generate_signing_key(), [{"kid": "x", "kty": "EC"}])
