"""A background job that runs every few seconds for the lifetime of a context
(the app's lifespan): one round at a time, a failed round logged and tried again
at the next interval, cancelled when the context ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from app.core.logging import get_logger

log = get_logger(__name__)


@contextlib.asynccontextmanager
async def periodic(
    name: str,
    interval: float,
    round: Callable[[], Awaitable[None]],
    *,
    wait_first: bool = False,
    on_failure: Callable[[], None] | None = None,
) -> AsyncIterator[None]:
    """Run `round` every `interval` seconds (not at all when `interval` <= 0); a
    failure is logged as `{name}_failed` with the error's type."""
    if interval <= 0:
        yield
        return

    async def loop() -> None:
        if wait_first:
            await asyncio.sleep(interval)
        while True:
            try:
                await round()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the next round tries again
                if on_failure is not None:
                    on_failure()
                log.warning(f"{name}_failed", error=type(error).__name__)
            await asyncio.sleep(interval)

    task = asyncio.create_task(loop(), name=name.replace("_", "-"))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
