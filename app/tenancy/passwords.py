"""Password policy and hashing.

Policy: 12 to 1,024 characters, not a common password (the bundled list, also
with only digits or punctuation appended), not containing the email's local
part. Hashing: argon2id through `app.core.security` (parameters stated there).
"""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

from app.core.errors import Unprocessable
from app.core.security import hash_password, password_hasher, verify_password

MIN_LENGTH = 12
MAX_LENGTH = 1024
_LIST = Path(__file__).with_name("common_passwords.txt")
_TRAILING = string.digits + string.punctuation + " "

__all__ = ["MAX_LENGTH", "MIN_LENGTH", "check_password", "hash_password", "verify_password"]


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = _LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


def problems(password: str, email: str | None = None) -> list[str]:
    """Why `password` is refused (empty when it is acceptable)."""
    if len(password) > MAX_LENGTH:
        return [f"at most {MAX_LENGTH} characters"]
    found = []
    if len(password) < MIN_LENGTH:
        found.append(f"at least {MIN_LENGTH} characters")
    lowered = password.lower()
    stem = lowered.rstrip(_TRAILING)
    listed = common_passwords()
    if lowered in listed or (stem and stem in listed) or len(set(lowered)) <= 2:
        found.append("too common or too simple")
    if email:
        local = email.split("@", 1)[0].lower()
        if len(local) >= 3 and local in lowered:
            found.append("must not contain the email address's name part")
    return found


def check_password(password: str, email: str | None = None) -> None:
    """Raise 422 `weak_password` naming every rule the password breaks."""
    found = problems(password, email)
    if found:
        raise Unprocessable(
            "Password refused: " + "; ".join(found) + ".",
            code="weak_password",
            reasons=found,
        )


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash to verify against when there is no user, so timing does not tell."""
    return password_hasher().hash("no-such-user-" + "x" * 20)


def verify_or_dummy(password_hash: str | None, password: str) -> bool:
    if not password_hash or password_hash.startswith("!"):
        verify_password(dummy_hash(), password)
        return False
    return verify_password(password_hash, password)
