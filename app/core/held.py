"""Rows a process holds for a short time, dropped when a transaction that
changed them commits.

A holder (the trust loader's issuer rows, the outbox's webhook subscriptions)
registers with `forget_on_change(Model, holder)`; after any commit whose flush
touched a `Model` instance, or whose code called `changed(session, Model)` for a
Core statement, every holder of that model in this process has `forget()`
called. Other processes see the change when their holders' time runs out.
"""

from __future__ import annotations

import time
import weakref
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_CHANGED = "held_rows_changed"


class Forgets(Protocol):
    def forget(self) -> None: ...


_HOLDERS: dict[type[Any], weakref.WeakSet[Forgets]] = {}


def forget_on_change(model: type[Any], holder: Forgets) -> None:
    """`holder.forget()` is called after every commit that changed `model` rows."""
    _HOLDERS.setdefault(model, weakref.WeakSet()).add(holder)


def changed(session: Session | AsyncSession, model: type[Any]) -> None:
    """Note that this transaction changed `model` rows with a Core statement."""
    target = session.sync_session if isinstance(session, AsyncSession) else session
    target.info.setdefault(_CHANGED, set()).add(model)


def pending(session: Session | AsyncSession, model: type[Any]) -> bool:
    """Whether this transaction changed `model` rows (not committed yet): code in it
    must read them, not what a holder kept."""
    target = session.sync_session if isinstance(session, AsyncSession) else session
    return model in target.info.get(_CHANGED, ())


class TimedRows:
    """Values read from the database kept per key for `seconds` (monotonic), dropped
    whole by `forget()`: at most `max_keys` keys."""

    def __init__(self, seconds: float, max_keys: int = 4096) -> None:
        self.seconds = seconds
        self.max_keys = max_keys
        self._values: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any) -> Any | None:
        entry = self._values.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def put(self, key: Any, value: Any) -> None:
        if self.seconds <= 0:
            return
        if len(self._values) >= self.max_keys:
            self._values.clear()
        self._values[key] = (time.monotonic() + self.seconds, value)

    def forget(self) -> None:
        self._values.clear()


@event.listens_for(Session, "after_flush")
def _note_orm_changes(session: Session, _context: Any) -> None:
    if not _HOLDERS:
        return
    for row in (*session.new, *session.dirty, *session.deleted):
        if type(row) in _HOLDERS:
            session.info.setdefault(_CHANGED, set()).add(type(row))


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session: Session) -> None:
    for model in session.info.pop(_CHANGED, ()):
        for holder in list(_HOLDERS.get(model, ())):
            holder.forget()


@event.listens_for(Session, "after_rollback")
def _nothing_changed(session: Session) -> None:
    session.info.pop(_CHANGED, None)
