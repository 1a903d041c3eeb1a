"""`mandate-vault serve`: the API and dashboard under uvicorn, in one process or
in `--workers N` processes sharing the one listening socket."""

from __future__ import annotations

import errno
import json
import socket
import urllib.request
from typing import TYPE_CHECKING, Annotated

import typer

from app.core.cli import ExitCode, fail, settings_or_exit

if TYPE_CHECKING:
    from app.core.config import Settings


def bind_error(host: str, port: int) -> OSError | None:
    """Why `host:port` cannot be listened on now, or None (checked as uvicorn binds)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        return error
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            return error
    return None


def _vault_answering(host: str, port: int) -> str | None:
    """The version of a Mandate Vault already answering there, if one is."""
    target = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    url = f"http://{f'[{target}]' if ':' in target else target}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=0.5) as answer:
            version = json.loads(answer.read(4096)).get("version")
    except (OSError, ValueError, AttributeError):
        return None
    return version if isinstance(version, str) else None


def _busy_message(host: str, port: int) -> str:
    running = _vault_answering(host, port)
    who = (
        f"a Mandate Vault ({running}) is already running there"
        if running
        else f"another program is listening there (`ss -ltnp 'sport = :{port}'` names it)"
    )
    return (
        f"port {port} on {host} is already in use: {who}. Stop it, or pick another port: "
        f"`make run PORT={port + 1}`, `mandate-vault serve --port {port + 1}` or PORT={port + 1} in .env"
    )


def browsable(host: str, port: int) -> str:
    shown = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(host, host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: PORT).")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=256,
            help="Server processes behind the one port (default: WORKERS; one per core "
            "in staging and production, one in development).",
        ),
    ] = None,
) -> None:
    """Run the API and dashboard."""
    import uvicorn

    settings = settings_or_exit()
    host = host or settings.host
    port = port or settings.port
    processes = workers or settings.worker_processes
    if reload and processes > 1:
        fail(
            f"--reload runs a single process and cannot serve with {processes} workers: "
            "drop --reload, or pass --workers 1 (or WORKERS=1)",
            ExitCode.REFUSED,
        )
    error = bind_error(host, port)
    if error is not None:
        if getattr(error, "errno", None) == errno.EADDRINUSE:
            fail(_busy_message(host, port), ExitCode.REFUSED)
        fail(f"cannot listen on {host}:{port}: {error.strerror or error}", ExitCode.REFUSED)
    base = browsable(host, port)
    metrics = f"   Metrics: {base}/metrics" if settings.metrics_enabled else ""
    typer.echo(f"Dashboard: {base}/   API docs: {base}/docs{metrics}")
    if processes > 1:
        typer.echo(f"{processes} server processes on port {port}{_shared_state_note(settings)}")
    # Each worker process imports `app.main:app` and reads the settings (the
    # environment and the same settings file) itself.
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        reload=reload,
        workers=processes if processes > 1 else None,
        access_log=False,
        proxy_headers=True,
        timeout_keep_alive=settings.http_keepalive_seconds,
        log_level=settings.log_level.lower(),
    )


def _shared_state_note(settings: Settings) -> str:
    """What holds across the processes, said once at start-up."""
    if settings.redis_url:
        return "; rate limits and sign-outs/revocations shared through Redis"
    return (
        f"; without REDIS_URL rate limits count per process and a revocation reaches "
        f"the other processes within AUTH_CACHE_TTL_SECONDS ({settings.auth_cache_ttl_seconds:g} s)"
    )
