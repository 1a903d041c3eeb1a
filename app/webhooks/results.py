"""What one delivery attempt came to: the typed result every later step reads."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AttemptOutcome(StrEnum):
    SUCCESS = "success"  # a 2xx answer
    HTTP_ERROR = "http_error"  # any other status not listed below
    GONE = "gone"  # 410: the receiver asks us to stop; the endpoint is disabled
    THROTTLED = "throttled"  # 429 or 503: Retry-After is honoured
    REDIRECT = "redirect"  # 3xx: never followed, counted as a failure
    TIMEOUT = "timeout"  # no full answer within the connect or total timeout
    CONNECT_FAILED = "connect_failed"  # refused, unreachable, reset while connecting
    TLS_FAILED = "tls_failed"  # handshake or certificate check failed
    PROTOCOL_ERROR = "protocol_error"  # the answer was not valid HTTP, or the link broke
    BLOCKED = "blocked"  # the destination is not allowed (checked again at send time)
    DNS_FAILED = "dns_failed"  # the host did not resolve (in time) at send time


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """One attempt, as the delivery log keeps it."""

    outcome: AttemptOutcome
    status_code: int | None = None
    elapsed_ms: float = 0.0
    response_excerpt: str = ""
    response_truncated: bool = False
    error: str | None = None
    retry_after_seconds: float | None = None
    remote_address: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome is AttemptOutcome.SUCCESS
