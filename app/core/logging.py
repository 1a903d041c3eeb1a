"""structlog set-up: JSON lines when deployed, readable lines in development.

The request id and tenant are bound per request through contextvars, so every
line logged while serving a request carries them.
"""

from __future__ import annotations

import io
import logging
import sys
from typing import TextIO, cast

import structlog

from app.core.config import Settings


class _CurrentStderr(io.TextIOBase):
    """Writes to whatever `sys.stderr` is now (loggers are cached; streams get swapped)."""

    def write(self, s: str) -> int:
        return sys.stderr.write(s)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(settings: Settings) -> None:
    level = getattr(logging, settings.log_level)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if settings.environment.is_deployed:
        renderer: structlog.types.Processor = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # PrintLogger only writes and flushes, which is all _CurrentStderr offers.
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=False,  # reconfigurable (tests, CLI)
    )
    # Libraries that log through the standard library go to the same stream.
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr, force=True)
    # Requests are logged once, by the request middleware; uvicorn's access log (on
    # under plain `uvicorn app.main:app`) would log each one a second time.
    logging.getLogger("uvicorn.access").disabled = True


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
