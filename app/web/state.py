"""Typed slots for the long-lived objects an application holds.

Each slot names one object and its type; the lifespan fills the slots and
routes read them through the slot, so nothing reads `app.state` as `Any`.
Features declare slots for their own objects beside their dependencies, so
this module knows none of them.
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

import httpx
from fastapi import Depends
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from app.core.clock import Clock
from app.core.config import Settings
from app.core.database import Database

T = TypeVar("T")


class Slot(Generic[T]):
    """One named, typed object kept on the application.

    The slot also remembers the application it was last filled for and the
    value: a request reads a handful of slots, and `app.state`'s attribute lookup
    (a Python-level `__getattr__`) cost more than the rest of each read. A
    request to another application reads its state."""

    __slots__ = ("name", "_last")

    def __init__(self, name: str) -> None:
        self.name = name
        self._last: tuple[Starlette, T] | None = None

    def set(self, app: Starlette, value: T) -> None:
        setattr(app.state, self.name, value)
        self._last = (app, value)

    def get(self, connection: HTTPConnection) -> T:
        app = connection.scope["app"]
        last = self._last
        if last is not None and last[0] is app:
            return last[1]
        try:
            value: T = getattr(app.state, self.name)
        except AttributeError:
            raise RuntimeError(
                f"app state '{self.name}' is not set: did the lifespan run?"
            ) from None
        return value

    def find(self, connection: HTTPConnection) -> T | None:
        """The object, or None when nothing filled this slot (an optional one)."""
        value: T | None = getattr(connection.app.state, self.name, None)
        return value

    async def __call__(self, connection: HTTPConnection) -> T:
        """The slot as a FastAPI dependency (a coroutine: FastAPI would run a plain
        function in its thread pool, a thread hop on every request)."""
        return self.get(connection)


SETTINGS: Slot[Settings] = Slot("settings")
DATABASE: Slot[Database] = Slot("database")
HTTP_CLIENT: Slot[httpx.AsyncClient] = Slot("http_client")
CLOCK: Slot[Clock] = Slot("clock")

SettingsDep = Annotated[Settings, Depends(SETTINGS)]
DatabaseDep = Annotated[Database, Depends(DATABASE)]
ClockDep = Annotated[Clock, Depends(CLOCK)]
