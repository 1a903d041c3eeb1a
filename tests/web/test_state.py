"""Typed state slots: each request reads its own application's objects."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from app.web.state import Slot


def _request_to(app: Starlette) -> HTTPConnection:
    return HTTPConnection({"type": "http", "app": app, "headers": []})


def test_each_application_reads_its_own_value():
    slot: Slot[str] = Slot("test_value")
    first, second = Starlette(), Starlette()
    slot.set(first, "first")
    slot.set(second, "second")  # the one the slot remembers
    assert slot.get(_request_to(second)) == "second"
    assert slot.get(_request_to(first)) == "first"  # read from its own state
    slot.set(first, "first again")
    assert slot.get(_request_to(first)) == "first again"
    assert slot.get(_request_to(second)) == "second"


def test_a_slot_never_filled_for_the_application_says_so():
    slot: Slot[int] = Slot("test_count")
    slot.set(Starlette(), 1)
    with pytest.raises(RuntimeError, match="did the lifespan run"):
        slot.get(_request_to(Starlette()))
    assert slot.find(_request_to(Starlette())) is None
