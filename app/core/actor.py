"""Who did something: what every audit row and service call carries."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

# The client address of the request being served (set by the request middleware),
# which audit rows record; kept out of the log context on purpose.
CLIENT_IP: ContextVar[str | None] = ContextVar("client_ip", default=None)


@dataclass(frozen=True, slots=True)
class Actor:
    type: str  # "user", "api_key", "system"
    id: str | None = None
    role: str | None = None

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls("system", name)
