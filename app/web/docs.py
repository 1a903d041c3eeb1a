"""GET /docs (Swagger UI: try the API with a key) and GET /redoc (the reference),
from the service's own static files: they work offline and under the strict CSP."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.web.middleware import csp_with_style_nonce
from app.web.static import STATIC_ASSETS

DOCS_URL, REDOC_URL, OPENAPI_URL = "/docs", "/redoc", "/openapi.json"

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)


def _page(request: Request, template: str, **extra: str) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {
            "static": STATIC_ASSETS.get(request).url,
            "title": request.app.title,
            "docs_url": DOCS_URL,
            "redoc_url": REDOC_URL,
            "openapi_url": OPENAPI_URL,
            **extra,
        },
    )


@router.get(DOCS_URL, response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    return _page(request, "swagger.html")


@router.get(REDOC_URL, response_class=HTMLResponse)
async def redoc(request: Request) -> HTMLResponse:
    # ReDoc makes its styles in the browser: <style> elements (styled-components) are
    # admitted by a nonce fresh for each answer, read from <meta property="csp-nonce">,
    # and its components set style attributes. Scripts stay 'self' only.
    nonce = secrets.token_urlsafe(18)
    page = _page(request, "redoc.html", style_nonce=nonce)
    page.headers["Content-Security-Policy"] = csp_with_style_nonce(nonce)
    return page
