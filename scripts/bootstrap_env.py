#!/usr/bin/env python3
"""Write a development `.env` with fresh random secrets, keeping what is already set.

Only the standard library: it runs before anything is installed.
"""

import secrets
import sys
from pathlib import Path

DEFAULTS = {
    "ENVIRONMENT": lambda: "development",
    "DATABASE_URL": lambda: "sqlite+aiosqlite:///./mandate_vault.db",
    "SECRET_KEY": lambda: secrets.token_urlsafe(48),
    "DEMO_ADMIN_PASSWORD": lambda: secrets.token_urlsafe(12),
}


def main(path: Path) -> None:
    existing = path.read_text().splitlines() if path.exists() else []
    present = {
        line.split("=", 1)[0].strip()
        for line in existing
        if "=" in line and not line.lstrip().startswith("#")
    }
    added = [f"{name}={make()}" for name, make in DEFAULTS.items() if name not in present]
    if added:
        lines = existing or ["# Local development settings (generated; never commit this file)."]
        path.write_text("\n".join([*lines, *added]) + "\n")
        path.chmod(0o600)
        print(f"{path}: set {', '.join(line.split('=')[0] for line in added)}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ".env"))
