"""The `mandate-vault` command: composes the commands each feature defines.

Heavy imports stay inside the commands so that `--help` answers at once.
"""

from __future__ import annotations

import typer

from app.audit.cli import audit_app
from app.dbops.cli import db_app, retention_app
from app.demo.cli import demo_app, seed
from app.events.cli import worker
from app.evidence.cli import evidence_app
from app.mandates.cli import app as mandates_app
from app.tenancy.cli import api_keys_app, tenants_app, users_app
from app.web.cli import serve

app = typer.Typer(
    name="mandate-vault",
    help="Mandate Vault: keep, verify and search signed payment mandates.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(serve)
app.command()(seed)
app.command()(worker)
app.add_typer(db_app, name="db")
app.add_typer(retention_app, name="retention")
app.add_typer(tenants_app, name="tenants")
app.add_typer(users_app, name="users")
app.add_typer(api_keys_app, name="api-keys")
app.add_typer(mandates_app, name="mandates")
app.add_typer(demo_app, name="demo")
app.add_typer(audit_app, name="audit")
app.add_typer(evidence_app, name="evidence")


def main() -> None:
    app(prog_name="mandate-vault")


if __name__ == "__main__":
    main()
