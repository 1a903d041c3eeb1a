"""`-m "not postgres"` runs every SQLite test and no PostgreSQL one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _collected(marker: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        + ["-m", marker, "tests/test_database.py", "tests/test_cli.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_the_postgres_marker_follows_the_engine() -> None:
    without = _collected("not postgres")
    only = _collected("postgres")
    assert without
    assert only
    assert not [t for t in without if "[postgres]" in t]
    assert not [t for t in only if "[sqlite]" in t]
    assert "tests/test_cli.py::test_missing_postgres_database_is_one_line" in only
    assert any("[sqlite]" in t for t in without)
