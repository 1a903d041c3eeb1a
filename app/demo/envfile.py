"""Setting one `NAME=value` line in a dotenv file, keeping everything else in it."""

from __future__ import annotations

import os
import re
from pathlib import Path

_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_\-.:/@+=]*$")


def save_setting(path: Path, name: str, value: str) -> None:
    """Replace (or append) `name=value` in `path`, creating it with mode 600.

    Written to a temporary file and renamed, so a crash never leaves half a file.
    """
    if not _SAFE_VALUE.match(value):
        raise ValueError(f"{name}: only plain values are written, not {value!r}")
    if path.exists() and not path.is_file():
        raise IsADirectoryError(f"{path} is not a regular file")
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    assignment = re.compile(rf"^\s*(export\s+)?{re.escape(name)}\s*=")
    replaced = False
    for index, line in enumerate(lines):
        if assignment.match(line):
            lines[index] = f"{name}={value}"
            replaced = True
    if not replaced:
        lines.append(f"{name}={value}")
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
