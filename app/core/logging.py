"""structlog set-up: JSON lines when deployed, readable lines in development.

The request id and tenant are bound per request through contextvars, so every
line logged while serving a request carries them. The standard library's
loggers (uvicorn, SQLAlchemy, asyncio) go through the same processors.

Two rules hold in every mode and at every level:

- Cheap: an exception is rendered by `bounded_exception` - at most
  `MAX_FRAMES` frames, no local variables, no source lines read, at most
  `MAX_EXCEPTION_CHARS` characters - so logging one never stalls the event loop.
- Safe: exception messages that carry data (database errors, validation errors,
  decoding errors) are withheld, and `redact` masks anything shaped like a
  credential (API keys, refresh tokens, JWTs, webhook secrets, bearer values,
  `password=...` pairs) in every string of every line.
"""

from __future__ import annotations

import io
import logging
import re
import sys
import traceback
from types import TracebackType
from typing import Any, TextIO, cast

import structlog

from app.core.config import Settings

MAX_FRAMES = 12
MAX_CHAIN = 3
MAX_MESSAGE_CHARS = 300
MAX_EXCEPTION_CHARS = 4000
MAX_VALUE_CHARS = 2000

_SECRETS = [
    (re.compile(r"\b(mv[kr]_)[A-Za-z0-9_\-]{6,}"), r"\1[redacted]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]{6,}"), "whsec_[redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]*)?"), "[jwt redacted]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s'\",]+"), r"\1 [redacted]"),
    (
        re.compile(
            r"(?i)(password|passwd|secret|token|api[_-]?key|authorization)"
            r"(['\"]?\s*[:=]\s*['\"]?)[^'\"\s,;}&]+"
        ),
        r"\1\2[redacted]",
    ),
]
# Exceptions whose text can hold the data they were given: statement parameters,
# field values, raw bytes. Their type (and SQLSTATE) is logged, their text is not.
_DATA_CARRYING_MODULES = ("sqlalchemy", "asyncpg", "sqlite3", "pydantic", "pydantic_core")


def redact(text: str) -> str:
    """`text` with anything shaped like a credential masked, and bounded in length."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + f"... [{len(text) - MAX_VALUE_CHARS} more characters]"
    return text


def _redact_value(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact(value)
    if depth >= 3:
        return value
    if isinstance(value, dict):
        return {k: _redact_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v, depth + 1) for v in value]
    return value


def redact_secrets(_logger: Any, _method: str, event_dict: Any) -> Any:
    """structlog processor: `redact` over every value of the line."""
    return {key: _redact_value(value) for key, value in event_dict.items()}


def _carries_data(error: BaseException) -> bool:
    module = type(error).__module__.split(".")[0]
    return module in _DATA_CARRYING_MODULES or isinstance(error, UnicodeError)


def _message(error: BaseException) -> str:
    name = f"{type(error).__module__}.{type(error).__qualname__}".removeprefix("builtins.")
    if _carries_data(error):
        state = getattr(error, "sqlstate", None) or getattr(
            getattr(error, "orig", None), "sqlstate", None
        )
        statement = getattr(error, "statement", None)
        parts = [name, "(message withheld: it may carry data)"]
        if state:
            parts.append(f"sqlstate={state}")
        if isinstance(statement, str):
            parts.append(f"statement={' '.join(statement.split())[:300]}")
        return " ".join(parts)
    text = str(error)
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + "..."
    return f"{name}: {redact(text)}" if text else name


def _frames(tb: TracebackType | None) -> list[str]:
    # No source lines are read and no locals captured: this stays cheap on any traceback.
    summary = traceback.StackSummary.extract(
        traceback.walk_tb(tb), limit=None, lookup_lines=False, capture_locals=False
    )
    frames = list(summary)[-MAX_FRAMES:]
    skipped = len(summary) - len(frames)
    lines = [f"  ... {skipped} earlier frames"] if skipped > 0 else []
    lines += [f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames]
    return lines


def format_exception(error: BaseException) -> str:
    """A bounded, data-free traceback of `error` and up to MAX_CHAIN causes."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < MAX_CHAIN and current not in chain:
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    blocks = []
    for item in reversed(chain):
        blocks.append(
            "\n".join(
                ["Traceback (most recent call last):", *_frames(item.__traceback__), _message(item)]
            )
        )
    text = "\n\nThe above caused:\n\n".join(blocks)
    if len(text) > MAX_EXCEPTION_CHARS:
        text = text[: MAX_EXCEPTION_CHARS // 2] + "\n  ...\n" + text[-MAX_EXCEPTION_CHARS // 2 :]
    return text


def bounded_exception(_logger: Any, _method: str, event_dict: Any) -> Any:
    """structlog processor: `exc_info` becomes a bounded `exception` string."""
    exc_info = event_dict.pop("exc_info", None)
    if not exc_info:
        return event_dict
    if isinstance(exc_info, BaseException):
        error: BaseException | None = exc_info
    elif isinstance(exc_info, tuple):
        error = exc_info[1]
    else:
        error = sys.exc_info()[1]
    if error is not None:
        event_dict["exception"] = format_exception(error)
    return event_dict


class _CurrentStderr(io.TextIOBase):
    """Writes to whatever `sys.stderr` is now (loggers are cached; streams get swapped)."""

    def write(self, s: str) -> int:
        return sys.stderr.write(s)

    def flush(self) -> None:
        sys.stderr.flush()


# Libraries whose own handlers would print unbounded, unredacted tracebacks.
_ADOPTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy", "asyncio")


# How many times configure_logging ran: a SteadyLogger binds again when it changes.
_configurations = 0


def configure_logging(settings: Settings) -> None:
    global _configurations
    _configurations += 1
    level = getattr(logging, settings.log_level)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        bounded_exception,
        redact_secrets,
    ]
    if settings.environment.is_deployed:
        renderer: structlog.types.Processor = structlog.processors.JSONRenderer()
    else:
        # The exception arrives as a finished string; nothing rich is rendered.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # PrintLogger only writes and flushes, which is all _CurrentStderr offers.
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=False,  # reconfigurable (tests, CLI)
    )
    # Libraries that log through the standard library go to the same stream,
    # through the same processors.
    handler = logging.StreamHandler(cast(TextIO, _CurrentStderr()))
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    logging.basicConfig(level=max(level, logging.WARNING), handlers=[handler], force=True)
    for name in _ADOPTED_LOGGERS:
        adopted = logging.getLogger(name)
        adopted.handlers.clear()
        adopted.propagate = True
    # Requests are logged once, by the request middleware; uvicorn's access log (on
    # under plain `uvicorn app.main:app`) would log each one a second time.
    logging.getLogger("uvicorn.access").disabled = True


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


class SteadyLogger:
    """`get_logger(name)` for a line written on every request: bound once per
    `configure_logging`, where structlog's lazy logger (loggers are not cached, so
    that configuring again takes effect) builds a logger on each call, about 3 us,
    even for a level that is filtered out. Processors changed in place (structlog's
    `capture_logs`) apply to it as they do to the lazy one."""

    __slots__ = ("_bound", "_name", "_seen")

    def __init__(self, name: str) -> None:
        self._name = name
        self._seen = -1
        self._bound: structlog.stdlib.BoundLogger | None = None

    def get(self) -> structlog.stdlib.BoundLogger:
        bound = self._bound
        if bound is None or self._seen != _configurations:
            bound = self._bound = structlog.get_logger(self._name).bind()
            self._seen = _configurations
        return bound
