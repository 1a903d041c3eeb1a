"""What the request tells the engine besides the presentation."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The request's `audience`, `nonce` and optional hashes (as posted beside `sd_jwt`)."""

    audience: str
    nonce: str
    checkout_jwt_hash: str | None = None
    open_checkout_hash: str | None = None
