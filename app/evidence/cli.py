"""`mandate-vault evidence verify PACK.zip [--jwks URL-or-file]`: check a pack offline.

Exit 0 valid (warnings printed), 3 anything wrong, 2 with one line for a path
that is missing or not a ZIP, 4 when --jwks cannot be fetched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from app.core.cli import ExitCode, fail, new_app, run

evidence_app = new_app("Evidence packs: check one offline.")


def _load_jwks(source: str) -> Any:
    if source.startswith(("https://", "http://")):
        import httpx

        answer = httpx.get(source, timeout=10.0, follow_redirects=False)
        answer.raise_for_status()
        return answer.json()
    return json.loads(Path(source).read_text())


@evidence_app.command("verify")
def evidence_verify(
    pack: Annotated[Path, typer.Argument(help="The evidence pack (a ZIP file).")],
    jwks: Annotated[
        str | None,
        typer.Option("--jwks", help="The vault's JWKS: a URL or a file (default: the pack's own)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
) -> None:
    """Check an evidence pack offline: signature, files, audit proofs, verification."""
    from app.evidence import PackUnreadable, render_report, verify_pack
    from app.signing import KeySetInvalid

    try:
        data = pack.read_bytes()
    except OSError as error:
        fail(f"cannot read {pack}: {error.strerror}")
    keys = None
    if jwks is not None:
        try:
            keys = run(lambda: _load_jwks(jwks))
        except typer.Exit:
            raise
    try:
        report = verify_pack(data, keys)
    except PackUnreadable as error:
        fail(f"{pack} is not an evidence pack: {error}")
    except KeySetInvalid as error:
        fail(f"--jwks: {error}")
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        typer.echo(render_report(report))
    if not report.ok:
        raise typer.Exit(ExitCode.BAD_INPUT_FILE)
