"""`mandate-vault serve`: the API and dashboard under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from app.core.cli import settings_or_exit


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: PORT).")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
) -> None:
    """Run the API and dashboard."""
    import uvicorn

    settings = settings_or_exit()
    uvicorn.run(
        "app.main:app",
        host=host or settings.host,
        port=port or settings.port,
        reload=reload,
        access_log=False,
        proxy_headers=True,
        timeout_keep_alive=settings.http_keepalive_seconds,
        log_level=settings.log_level.lower(),
    )
