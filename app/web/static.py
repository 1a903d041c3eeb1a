"""GET /static/{name}: the files of `app.web.assets`, by hashed name, cached for a year."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter
from fastapi.responses import FileResponse

from app.core.errors import NotFound
from app.web.assets import IMMUTABLE, static_assets

router = APIRouter(include_in_schema=False)


@router.api_route("/static/{name:path}", methods=["GET", "HEAD"])
async def static_file(name: str) -> FileResponse:
    asset = static_assets().by_public_name(name)
    if asset is None:
        raise NotFound("no such static file")
    # The type follows the logical name (hashed names of LICENSE files have no suffix).
    media_type = mimetypes.guess_type(asset.logical)[0] or "text/plain; charset=utf-8"
    return FileResponse(asset.path, media_type=media_type, headers={"Cache-Control": IMMUTABLE})
