"""`mandate-vault seed`: the demo tenant, its admin, a key, an issuer and sample mandates."""

from __future__ import annotations

import os
from pathlib import Path

from app.core.cli import run_async


def seed() -> None:
    """Load the demo tenant, admin user and sample data (safe to run again)."""
    from app.core.config import find_env_file
    from app.demo.envfile import save_setting
    from app.demo.seed import login_line, print_summary, seed_demo_data

    result = run_async(seed_demo_data)
    env_file = find_env_file()
    source = (
        "the environment"
        if os.environ.get("DEMO_ADMIN_PASSWORD")
        else str((env_file or Path(".env")).resolve())
    )
    saved = None
    if result.password_generated and result.admin_password:
        target = (env_file or Path(".env")).resolve()
        try:
            save_setting(target, "DEMO_ADMIN_PASSWORD", result.admin_password)
            saved = f"saved as DEMO_ADMIN_PASSWORD in {target}"
        except OSError as error:
            saved = f"could not be saved to {target} ({error.strerror or error}): note it now"
    print_summary(result, login_line(result, source, saved))
