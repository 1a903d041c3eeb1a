#!/usr/bin/env python3
"""Migrations, as in the operations guide:

    python scripts/manage_migrations.py create "message"
    python scripts/manage_migrations.py upgrade [revision]
    python scripts/manage_migrations.py downgrade -1|revision
    python scripts/manage_migrations.py current | history | pending

The same operations as `mandate-vault db ...`; runs inside the project's `.venv`
(made on first use).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

if __name__ == "__main__":
    from app.bootstrap import run_inside_venv

    run_inside_venv()
    from app.cli import app

    app(["db", *sys.argv[1:]], prog_name="manage_migrations.py")
