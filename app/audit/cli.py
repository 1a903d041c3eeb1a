"""`mandate-vault audit ...` (seal, checkpoint, verify, worker, rotate-key) and
`mandate-vault evidence verify` (app.evidence.cli). Exit statuses are the kit's (`app.core.cli`):
verify answers 0 intact, 3 broken, 4 database unreachable.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from app.core.cli import (
    ExitCode,
    fail,
    new_app,
    open_database,
    progress_bar,
    run_async,
)

audit_app = new_app("The tamper-evident audit trail: seal, checkpoint, verify.")


@audit_app.command("seal")
def seal() -> None:
    """Seal every committed audit row that is not yet linked into its chain."""

    async def job(settings: Any) -> int:
        from app.audit.worker import seal_all

        async with open_database(settings) as database:
            return await seal_all(database)

    typer.echo(f"sealed {run_async(job):,} audit rows")


@audit_app.command("checkpoint")
def checkpoint() -> None:
    """Seal what is pending, then sign the head of every chain with new rows."""

    async def job(settings: Any) -> tuple[int, list[Any]]:
        from app.audit.vault_keys import load_keyring
        from app.audit.worker import checkpoint_once, seal_all

        async with open_database(settings) as database:
            sealed = await seal_all(database)
            keyring = await load_keyring(database, settings)
            return sealed, await checkpoint_once(database, keyring, settings, force=True)

    sealed, made = run_async(job)
    typer.echo(f"sealed {sealed:,} audit rows; signed {len(made)} checkpoints")
    for item in made:
        typer.echo(f"  chain {item.chain_id}: rows {item.first_seq}..{item.seq}")


@audit_app.command("verify")
def verify(
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Only this tenant's chain (UUID or 'platform').")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON report per chain.")] = False,
) -> None:
    """Walk every chain from its newest anchor: links, hashes, checkpoint signatures."""
    chains: list[str] | None = None
    if tenant is not None:
        from app.audit.chain import chain_id_for

        try:
            chains = [chain_id_for(None if tenant == "platform" else tenant)]
        except ValueError:
            fail(f"--tenant is not a UUID: {tenant}")

    async def job(settings: Any) -> list[Any]:
        from app.audit.vault_keys import load_keyring
        from app.audit.worker import verify_all

        async with open_database(settings) as database:
            keyring = await load_keyring(database, settings)
            with progress_bar("verifying audit rows") as advance:
                return await verify_all(
                    database, keyring, settings, chains=chains, progress=advance
                )

    reports = run_async(job)
    if as_json:
        typer.echo(json.dumps({"chains": [r.to_json() for r in reports]}, indent=2))
    else:
        if not reports:
            typer.echo("no audit chain has sealed rows yet")
        for report in reports:
            typer.echo(report.summary())
    if any(not report.ok for report in reports):
        raise typer.Exit(ExitCode.BAD_INPUT_FILE)


@audit_app.command("worker")
def worker() -> None:
    """Run the sealer, checkpoints and scheduled verification in the foreground
    (SIGTERM or Ctrl-C: the round in flight finishes, then it exits)."""

    async def job(settings: Any) -> None:
        import asyncio
        import signal

        from app.audit.vault_keys import load_keyring
        from app.audit.worker import AuditWorker

        async with open_database(settings) as database:
            # Fails at once (exit 4) when the database cannot be reached at start.
            keyring = await load_keyring(database, settings)
            audit = AuditWorker(database, settings, keyring=keyring)
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):  # finish the round, then exit 0
                loop.add_signal_handler(signum, audit.stop)
            try:
                await audit.run()
            finally:
                await audit.close()

    run_async(job)


@audit_app.command("rotate-key")
def rotate_key() -> None:
    """Make a new vault signing key; the old public key stays published."""

    async def job(settings: Any) -> str:
        from app.audit.vault_keys import rotate_key as rotate

        if settings.signing_key_file:
            fail("SIGNING_KEY_FILE is set: rotate by pointing it at a new key file")
        async with open_database(settings) as database:
            keyring = await rotate(database, settings)
            return keyring.kid

    typer.echo(f"new signing key {run_async(job)}")
