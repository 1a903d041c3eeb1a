"""Reading archives defensively."""

from __future__ import annotations

import io
import zipfile

import pytest

from app.evidence.zipio import MAX_MEMBER_BYTES, PackUnreadable, read_zip, safe_name, write_zip


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("manifest.json", True),
        ("audit/rows.json", True),
        ("ap2/receipts/0001.jws", True),
        ("", False),
        ("/etc/passwd", False),
        ("../up.txt", False),
        ("a/../b", False),
        ("a//b", False),
        ("./a", False),
        ("a\\b", False),
        ("c:evil", False),
        ("tab\there", False),
        (" lead", False),
        ("a/", False),
        ("x" * 300, False),
    ],
)
def test_safe_names(name: str, ok: bool) -> None:
    assert safe_name(name) is ok


def test_writing_is_deterministic() -> None:
    members = [("b.json", b"{}"), ("a.txt", b"hello")]
    assert write_zip(members) == write_zip(members)
    assert read_zip(write_zip(members)).members == dict(members)


def test_a_zip_bomb_stops_at_the_member_cap() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.json", b"0" * (MAX_MEMBER_BYTES + 10))
    contents = read_zip(buffer.getvalue())
    assert "bomb.json" not in contents.members
    assert contents.problems[0][0] == "bomb.json"
    assert "larger than" in contents.problems[0][1]


def test_encrypted_and_folder_entries_are_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("folder/", b"")
        info = zipfile.ZipInfo("secret.txt")
        archive.writestr(info, b"data")
    raw = bytearray(buffer.getvalue())
    # Set the "encrypted" flag of secret.txt in its central directory entry.
    at = raw.rfind(b"PK\x01\x02")
    raw[at + 8] |= 0x01
    contents = read_zip(bytes(raw))
    reasons = dict(contents.problems)
    assert "folder" in reasons["folder/"]
    assert reasons["secret.txt"] == "is encrypted"


def test_non_bytes_are_unreadable() -> None:
    with pytest.raises(PackUnreadable):
        read_zip("a string")  # type: ignore[arg-type]
