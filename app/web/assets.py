"""Static files under content-hashed names, served by the service itself.

Two kinds, one table (logical name -> URL under /static):

- vendored libraries, copied from pinned npm packages by `scripts/vendor_assets.py`,
  which names them by content and lists them in `app/static/vendor/manifest.json`;
- the project's own files elsewhere under `app/static/` (small init scripts,
  styles), hashed when the table is first built.

A hashed URL changes whenever its bytes do, so every answer may be cached for a
year (`immutable`); only files in the table are served, nothing else on disk.
Templates call `asset_url("swagger-ui/swagger-ui-bundle.js")`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

STATIC_ROOT = Path(__file__).resolve().parents[1] / "static"
URL_PREFIX = "/static/"
VENDOR = "vendor"
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class Asset:
    logical: str
    path: Path  # the file on disk
    public: str  # its name under /static/

    @property
    def url(self) -> str:
        return URL_PREFIX + self.public


def _hashed(relative: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()[:12]
    return (relative.parent / f"{relative.stem}.{digest}{relative.suffix}").as_posix()


class StaticAssets:
    """The table of servable files: by logical name, and by public (hashed) name."""

    def __init__(self, assets: list[Asset]) -> None:
        self._by_logical = {asset.logical: asset for asset in assets}
        self._by_public = {asset.public: asset for asset in assets}

    @classmethod
    def load(cls, root: Path = STATIC_ROOT) -> StaticAssets:
        assets = []
        manifest = root / VENDOR / "manifest.json"
        if manifest.is_file():
            for logical, entry in json.loads(manifest.read_text()).items():
                file = f"{VENDOR}/{entry['file']}"
                assets.append(Asset(logical, root / file, file))
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if path.is_file() and relative.parts[0] != VENDOR:
                assets.append(
                    Asset(relative.as_posix(), path, _hashed(relative, path.read_bytes()))
                )
        return cls(assets)

    def url(self, logical: str) -> str:
        try:
            return self._by_logical[logical].url
        except KeyError:
            raise LookupError(f"no static asset named {logical!r} (see app/static)") from None

    def by_public_name(self, public: str) -> Asset | None:
        return self._by_public.get(public)

    def logical_names(self) -> list[str]:
        return sorted(self._by_logical)


@lru_cache(maxsize=1)
def static_assets() -> StaticAssets:
    """The process's table, built once (the files ship with the code and never change)."""
    return StaticAssets.load()


def asset_url(logical: str) -> str:
    return static_assets().url(logical)
