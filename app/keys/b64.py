"""Strict base64url, as JOSE uses it: unpadded and canonical, nothing else accepted."""

from __future__ import annotations

import binascii

from pybase64 import b64decode

# Value of each base64url character (0xFF for bytes outside the alphabet).
_B64URL_VALUE = [0xFF] * 256
for _i, _c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"):
    _B64URL_VALUE[_c] = _i
_TO_STD = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"", b"==", b"=")


def b64url_decode(data: str | bytes) -> bytes:
    """Strict unpadded base64url; raises ValueError on any other alphabet or bad length."""
    raw = data.encode("ascii") if isinstance(data, str) else data  # UnicodeEncodeError: ValueError
    # The strict decoder rejects anything outside the standard alphabet once "-_" are mapped,
    # so only the standard-only characters and padding need refusing here.
    if b"+" in raw or b"/" in raw or b"=" in raw:
        raise ValueError("not unpadded base64url")
    rest = len(raw) % 4
    # Unused low bits must be zero, so each byte string has exactly one encoding.
    if rest and (rest == 1 or _B64URL_VALUE[raw[-1]] & (0x0F if rest == 2 else 0x03)):
        raise ValueError("non-canonical base64url")
    return b64decode(raw.translate(_TO_STD) + _PADDING[rest], validate=True)


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url text of `data`."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_TO_URL).decode()


_TO_URL = bytes.maketrans(b"+/", b"-_")
