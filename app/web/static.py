"""Static files under /static with content-hashed names, cached for a year.

Nothing is built: at start-up every file of the asset roots is read once, its
SHA-256 names it (`vendor/htmx.min.js` is served as
`/static/vendor/htmx.min.3f2a9c1b0d.js`) and a gzip copy is kept beside it.
Templates ask `StaticAssets.url(name)` for the current address, so a changed
file gets a new URL and browsers never keep a stale copy. Unknown or outdated
names answer 404.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from app.web.state import Slot

PREFIX = "/static/"
LONG_CACHE = "public, max-age=31536000, immutable"
SERVED_SUFFIXES = frozenset({".js", ".css", ".svg", ".png", ".ico", ".woff2", ".map"})
WEB_ROOT = Path(__file__).resolve().parent
APP_ROOT = WEB_ROOT.parent

# Logical folder -> directory on disk. Third-party files vendored by
# scripts/vendor_assets.py live in app/web/vendor; each edge adds its own folder.
ASSET_ROOTS: dict[str, Path] = {
    "vendor": WEB_ROOT / "vendor",
    "docs": WEB_ROOT / "docs_assets",
    "dashboard": APP_ROOT / "dashboard" / "static",
}


@dataclass(frozen=True, slots=True)
class Asset:
    name: str  # logical name, e.g. vendor/htmx.min.js
    hashed: str  # served name, e.g. vendor/htmx.min.3f2a9c1b0d.js
    body: bytes
    gzipped: bytes
    media_type: str
    etag: str


def _hashed_name(name: str, digest: str) -> str:
    folder, _, file = name.rpartition("/")
    stem, dot, suffix = file.rpartition(".")
    served = f"{stem}.{digest}.{suffix}" if dot else f"{file}.{digest}"
    return f"{folder}/{served}" if folder else served


def _media_type(path: Path) -> str:
    if path.suffix == ".js":
        return "text/javascript; charset=utf-8"
    if path.suffix == ".css":
        return "text/css; charset=utf-8"
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


class StaticAssets:
    """The manifest (logical name -> hashed URL) and an ASGI app serving it."""

    def __init__(self, roots: Mapping[str, Path] = ASSET_ROOTS) -> None:
        self._by_name: dict[str, Asset] = {}
        self._by_hashed: dict[str, Asset] = {}
        for folder, directory in roots.items():
            if not directory.is_dir():
                continue
            for path in sorted(directory.rglob("*")):
                if path.is_file() and path.suffix in SERVED_SUFFIXES:
                    self._add(f"{folder}/{path.relative_to(directory).as_posix()}", path)

    def _add(self, name: str, path: Path) -> None:
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:10]
        asset = Asset(
            name=name,
            hashed=_hashed_name(name, digest),
            body=body,
            gzipped=gzip.compress(body, compresslevel=9, mtime=0),
            media_type=_media_type(path),
            etag=f'"{digest}"',
        )
        self._by_name[name] = asset
        self._by_hashed[asset.hashed] = asset

    def url(self, name: str) -> str:
        """The URL of a logical asset name; KeyError for a name that is not there."""
        return PREFIX + self._by_name[name].hashed

    def assets(self) -> list[Asset]:
        return sorted(self._by_name.values(), key=lambda a: a.name)

    def compressed_bytes(self, names: list[str]) -> int:
        """What these assets weigh on the wire (gzip), for the size budget."""
        return sum(len(self._by_name[name].gzipped) for name in names)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve `/static/<hashed name>` (mounted at /static, so `path` is the rest)."""
        path = scope.get("path", "")
        relative = path[len(PREFIX) :] if path.startswith(PREFIX) else path.lstrip("/")
        asset = self._by_hashed.get(relative)
        response: Response
        if scope.get("method") not in ("GET", "HEAD"):
            response = PlainTextResponse("method not allowed", 405, headers={"Allow": "GET, HEAD"})
        elif asset is None:
            response = PlainTextResponse("not found", 404, headers={"Cache-Control": "no-store"})
        else:
            response = self._answer(scope, asset)
        await response(scope, receive, send)

    def _answer(self, scope: Scope, asset: Asset) -> Response:
        headers = {
            "Cache-Control": LONG_CACHE,
            "ETag": asset.etag,
            "Vary": "Accept-Encoding",
        }
        request_headers = dict(scope.get("headers", ()))
        if request_headers.get(b"if-none-match", b"").decode("latin-1") == asset.etag:
            return Response(status_code=304, headers=headers)
        accepts = request_headers.get(b"accept-encoding", b"").decode("latin-1")
        body = asset.body
        if "gzip" in accepts:
            body = asset.gzipped
            headers["Content-Encoding"] = "gzip"
        if scope.get("method") == "HEAD":
            headers["Content-Length"] = str(len(body))
            return Response(status_code=200, headers=headers, media_type=asset.media_type)
        return Response(body, headers=headers, media_type=asset.media_type)


STATIC_ASSETS: Slot[StaticAssets] = Slot("static_assets")
