"""The feature routers' routes, added to the app as its own.

`FastAPI.include_router` keeps an included router as a branch of the app's
router. A request then walks the branches in order, and each one it reaches walks
its own routes: once to find the match and once more to handle it, each time
asking every router on the way whether its routes changed. For the caller
endpoint that is about 25 route tests and five branch walks per request, about a
third of the request's CPU in process.

An API route already holds what its router gives it when it is declared (the
prefix, tags, dependencies, responses and body limit), so the same route object in
the app's own list is what a route declared on the app is, tested once per request.
`add_routes` refuses what `include_router` would keep and a copied list would
lose: an included router, a plain Starlette route or mount (its router's prefix is
applied only when it is included), and startup, shutdown or lifespan handlers.
Routes added this way are built without the app as their dependency overrides
provider: `app.dependency_overrides` does not reach them (the project
overrides none; its tests use real dependencies).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """Append `router`'s routes, in order, to the app's own routes."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise ValueError(f"router {router.prefix!r} holds a {type(route).__name__}")
    if router.on_startup or router.on_shutdown:
        raise ValueError(f"router {router.prefix!r} has startup or shutdown handlers")
    if type(router.lifespan_context) is not type(APIRouter().lifespan_context):
        raise ValueError(f"router {router.prefix!r} has a lifespan of its own")
    app.router.routes.extend(router.routes)
