"""Who did something: what every audit row and service call carries."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    type: str  # "user", "api_key", "system"
    id: str | None = None
    role: str | None = None

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls("system", name)
