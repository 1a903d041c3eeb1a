"""`mandate-vault seed`: the demo tenant, its admin, a key, an issuer and sample mandates."""

from __future__ import annotations

from app.core.cli import run_async


def seed() -> None:
    """Load the demo tenant, admin user and sample data (safe to run again)."""
    from app.demo.seed import print_summary, seed_demo_data

    print_summary(run_async(seed_demo_data))
