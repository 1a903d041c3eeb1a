"""`mandate-vault seed` (the demo tenant, its admin, a key, an issuer and sample
mandates) and `mandate-vault demo keygen | mint` (keys and signed mandates to try)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from app.core.cli import fail, new_app, run_async


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


demo_app = new_app("Try the vault: issuer keys and signed mandates (no database, no network).")


@demo_app.command("keygen")
def demo_keygen(
    key_file: Annotated[Path, typer.Argument(help="Where to write the private key (mode 600).")],
    did: Annotated[str, typer.Option(help="The issuer's DID, e.g. did:web:bank.example.")],
    kid: Annotated[str, typer.Option(help="Key id, in the tokens' header.")] = "key-1",
    name: Annotated[str | None, typer.Option(help="Display name in the truststore.")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing key file.")] = False,
) -> None:
    """Make an ES256 issuer key; prints the `POST /api/v1/issuers` body that trusts it."""
    from app.demo.minting import MintError, new_key, save_key

    key = new_key(did, kid)
    try:
        save_key(key, key_file, overwrite=force)
    except (MintError, OSError) as error:
        fail(str(error))
    typer.echo(json.dumps(key.registration(name)))


@demo_app.command("mint")
def demo_mint(
    kind: Annotated[str, typer.Argument(help="generic, intent, cart or payment.")],
    key: Annotated[Path, typer.Option(help="The issuer's key file (demo keygen).")],
    merchant_key: Annotated[
        Path | None, typer.Option(help="Cart only: the merchant's key file; it signs the cart.")
    ] = None,
    subject: Annotated[str, typer.Option(help="Who may use the mandate (an agent's DID).")] = (
        "did:example:shopping-agent-1"
    ),
    amount: Annotated[str, typer.Option(help="Limit (generic, intent) or total.")] = "250.00",
    currency: Annotated[str, typer.Option(help="ISO 4217 code.")] = "USD",
    scope: Annotated[str, typer.Option(help="Generic only: what it is for.")] = "groceries",
    merchant: Annotated[
        list[str] | None,
        typer.Option(help="Allowed merchant (repeat); payment: the merchant agent."),
    ] = None,
    description: Annotated[str, typer.Option(help="Intent only: what the user asked for.")] = (
        "Running shoes, size 42, under 150 USD"
    ),
    days: Annotated[int, typer.Option(help="Days until it expires.")] = 30,
    token: Annotated[bool, typer.Option("--token", help="Print the bare token.")] = False,
) -> None:
    """Sign a mandate; prints the `POST /api/v1/mandates` body (`{"vc_jwt": ...}`)."""
    from app.demo.minting import MintError, MintOptions, load_key, mint

    try:
        issuer = load_key(key)
        signer = load_key(merchant_key) if merchant_key is not None else None
        options = MintOptions(
            kind=kind,
            subject=subject,
            days=days,
            amount=amount,
            currency=currency,
            scope=scope,
            merchants=tuple(merchant or ()),
            description=description,
        )
        minted = mint(issuer, options, merchant=signer)
    except MintError as error:
        fail(str(error))
    typer.echo(minted if token else json.dumps({"vc_jwt": minted}))
