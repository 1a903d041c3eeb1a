"""Every dependency of every route is a coroutine (or an async generator).

FastAPI runs a plain function dependency in its thread pool: a thread hop, and
two wake-ups, on every request that uses it. One sync slot lookup on the hot
paths cost a tenth of a GET's CPU; this keeps it from coming back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import _is_async_gen_callable, _is_coroutine_callable

from app.main import create_app
from tests.conftest import make_settings


def _routes(routes: list[Any]) -> Iterator[Any]:
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)
        else:
            yield route


def _sync_dependencies(dependant: Dependant) -> Iterator[str]:
    for sub in dependant.dependencies:
        call = sub.call
        if call is not None and not (_is_coroutine_callable(call) or _is_async_gen_callable(call)):
            yield getattr(call, "__qualname__", None) or repr(call)
        yield from _sync_dependencies(sub)


def test_no_route_resolves_a_dependency_in_the_thread_pool(tmp_path):
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'deps.db'}"))
    checked, sync = 0, set()
    for route in _routes(app.routes):
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue
        checked += 1
        sync.update(f"{route.path}: {name}" for name in _sync_dependencies(dependant))
    assert checked > 100  # every API and dashboard route was walked
    assert sorted(sync) == []
