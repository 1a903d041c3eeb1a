"""The feature routers' routes as the app's own (`app.web.routes.add_routes`)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute

from app.main import create_app
from app.web.routes import add_routes
from tests.conftest import make_settings


def test_every_api_route_is_the_apps_own_in_the_declared_order(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'routes.db'}"))
    own = [route for route in app.router.routes if isinstance(route, APIRoute)]
    paths = [route.path for route in own]
    assert paths[0] == "/api/v1/mandates", "the hot paths are tested first"
    assert {"/api/v1/mandates/{mandate_id}", "/api/v1/auth/me", "/healthz"} <= set(paths)
    documented = set(app.openapi()["paths"])
    assert len(documented) > 50
    assert documented <= set(paths), "every documented route is the app's own, none in a branch"


async def test_a_route_added_keeps_its_routers_prefix_dependencies_and_tags() -> None:
    seen: list[str] = []

    async def mark() -> None:
        seen.append("dependency")

    router = APIRouter(prefix="/things", tags=["things"], dependencies=[Depends(mark)])

    @router.get("/{thing_id}")
    async def read(thing_id: int) -> dict[str, int]:
        return {"thing_id": thing_id}

    app = FastAPI()
    add_routes(app, router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ok = await client.get("/things/7")
        invalid = await client.get("/things/seven")
        missing = await client.get("/other")
    assert ok.json() == {"thing_id": 7}
    assert invalid.status_code == 422
    assert missing.status_code == 404
    assert seen == ["dependency", "dependency"], "the router's dependency, on both requests"
    operation = app.openapi()["paths"]["/things/{thing_id}"]["get"]
    assert operation["tags"] == ["things"]


def test_routers_whose_parts_a_copied_list_would_lose_are_refused() -> None:
    app = FastAPI()
    before = list(app.router.routes)
    nested = APIRouter(prefix="/outer")

    @nested.get("/plain")
    async def plain() -> None:
        return None

    nested.include_router(APIRouter(prefix="/inner"))
    with pytest.raises(ValueError, match="holds"):
        add_routes(app, nested)
    starlette_only = APIRouter(prefix="/plain")
    starlette_only.add_route("/page", lambda request: None)
    with pytest.raises(ValueError, match="holds a Route"):
        add_routes(app, starlette_only)
    with pytest.raises(ValueError, match="startup"):
        add_routes(app, APIRouter(on_startup=[lambda: None]))
    assert app.router.routes == before, "nothing added from a refused router"
