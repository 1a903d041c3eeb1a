"""ZIP in and out, defensively: packs are small, so every limit is tight.

Writing is deterministic (fixed member times, sorted order after the two
manifest files), so the same contents always give the same bytes. Reading
never trusts the archive: sizes are capped while decompressing (a zip bomb
stops at the cap), names must be plain relative paths, duplicates and
encrypted members are refused, and each member's problem is reported against
its own name.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

MAX_PACK_BYTES = 32 * 1024 * 1024
MAX_MEMBERS = 512
MAX_MEMBER_BYTES = 8 * 1024 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024
MAX_NAME = 200
_EPOCH = (1980, 1, 1, 0, 0, 0)


class PackUnreadable(Exception):
    """The bytes are not an evidence pack at all (not a ZIP, or over the size limits)."""


def safe_name(name: str) -> bool:
    """A plain relative POSIX path: no root, drive, '..', '.', backslash or control char."""
    if not name or len(name) > MAX_NAME or name != name.strip():
        return False
    if name.startswith("/") or "\\" in name or ":" in name:
        return False
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in name):
        return False
    parts = name.split("/")
    return all(part not in ("", ".", "..") for part in parts) and posixpath.normpath(name) == name


def write_zip(members: Sequence[tuple[str, bytes]]) -> bytes:
    """A ZIP of `members` in the order given, deflated, with fixed timestamps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


@dataclass
class ZipContents:
    """Readable members by name, and what was wrong with the others."""

    members: dict[str, bytes] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    names: list[str] = field(default_factory=list)  # every name, in archive order


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    limit = min(MAX_MEMBER_BYTES, budget)
    with archive.open(info) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit} bytes")
    return data


def read_zip(data: bytes) -> ZipContents:
    """The members of a pack; PackUnreadable when `data` is not a usable ZIP."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise PackUnreadable("a pack is bytes")
    if len(data) > MAX_PACK_BYTES:
        raise PackUnreadable(f"larger than {MAX_PACK_BYTES // (1024 * 1024)} MiB")
    try:
        archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
        infos = archive.infolist()
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,  # a central directory asking for a ZIP version we lack
        OSError,
        ValueError,
        EOFError,
    ) as exc:
        raise PackUnreadable(f"not a ZIP archive ({exc})") from None
    if len(infos) > MAX_MEMBERS:
        raise PackUnreadable(f"more than {MAX_MEMBERS} files")
    contents = ZipContents()
    seen: set[str] = set()
    budget = MAX_TOTAL_BYTES
    with archive:
        for info in infos:
            name = info.filename
            contents.names.append(name)
            if name in seen:
                contents.problems.append((name, "appears more than once in the archive"))
                contents.members.pop(name, None)
                continue
            seen.add(name)
            if info.is_dir():
                contents.problems.append((name, "is a folder entry; a pack holds files only"))
                continue
            if not safe_name(name):
                contents.problems.append((name, "is not a plain relative path"))
                continue
            if info.flag_bits & 0x1:
                contents.problems.append((name, "is encrypted"))
                continue
            try:
                member = _read_member(archive, info, budget)
            except (
                zipfile.BadZipFile,
                zlib.error,
                EOFError,
                NotImplementedError,
                RuntimeError,
                OSError,
                ValueError,
            ) as exc:
                contents.problems.append((name, f"cannot be read from the archive ({exc})"))
                continue
            budget -= len(member)
            contents.members[name] = member
    return contents
