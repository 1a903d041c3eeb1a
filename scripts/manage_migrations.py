#!/usr/bin/env python3
"""Migrations, as in the operations guide:

    python scripts/manage_migrations.py create "message"
    python scripts/manage_migrations.py upgrade [revision]
    python scripts/manage_migrations.py downgrade -1|revision
    python scripts/manage_migrations.py current | history | pending

The same operations as `mandate-vault db ...`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.cli import app

if __name__ == "__main__":
    app(["db", *sys.argv[1:]], prog_name="manage_migrations.py")
