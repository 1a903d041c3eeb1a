"""The API docs pages and the static files they load: all local, hashed, cached
for a year, under the strict Content-Security-Policy."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from app.web.middleware import STRICT_CSP
from app.web.static import WEB_ROOT, StaticAssets

# Files and pages are the same on either database.
SQLITE = pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
REFERENCE = re.compile(r'(?:src|href|data-[a-z-]+-url)="([^"]+)"')


def test_vendored_files_are_what_the_manifest_says():
    manifest = json.loads((WEB_ROOT / "vendor" / "manifest.json").read_text())
    assert {"swagger-ui/swagger-ui-bundle.js", "redoc/redoc.standalone.js", "htmx.min.js"} <= set(
        manifest
    )
    for file, entry in manifest.items():
        data = (WEB_ROOT / "vendor" / file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], file
        assert re.fullmatch(r"(@[a-z]+/)?[a-z0-9.-]+@\d+\.\d+\.\d+", entry["package"]), file


@SQLITE
async def test_every_asset_is_served_with_a_year_of_cache(client):
    assets = StaticAssets()
    for asset in assets.assets():
        url = assets.url(asset.name)
        answer = await client.get(url, headers={"Accept-Encoding": "identity"})
        assert answer.status_code == 200, url
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert answer.content == asset.body
        if asset.name.endswith(".js"):
            assert answer.headers["content-type"].startswith("text/javascript")
        if asset.name.endswith(".css"):
            assert answer.headers["content-type"].startswith("text/css")
    head = await client.head(assets.url("docs/swagger-init.js"))
    assert head.status_code == 200


@SQLITE
@pytest.mark.parametrize(
    "path",
    [
        "/static/nope.js",
        "/static/docs/swagger-init.js",
        "/static/../main.py",
        "/static/vendor/manifest.json",
    ],
)
async def test_only_hashed_names_of_known_files_are_served(client, path):
    answer = await client.get(path)
    assert answer.status_code == 404


def test_own_files_change_name_with_their_content(tmp_path):
    (tmp_path / "init.js").write_text("one")
    first = StaticAssets({"docs": tmp_path}).url("docs/init.js")
    (tmp_path / "init.js").write_text("two")
    second = StaticAssets({"docs": tmp_path}).url("docs/init.js")
    assert first != second
    assert re.fullmatch(r"/static/docs/init\.[0-9a-f]{10}\.js", first)
    with pytest.raises(KeyError):
        StaticAssets({"docs": tmp_path}).url("docs/other.js")


@SQLITE
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_only_local_files(client, page):
    answer = await client.get(page)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert "<script>" not in html  # nothing inline
    assert "<style" not in html
    references = REFERENCE.findall(html)
    assert references
    for reference in references:
        assert reference.startswith("/"), reference
        fetched = await client.get(reference)
        assert fetched.status_code == 200, reference


@SQLITE
async def test_docs_csp_is_strict_and_redoc_styles_take_a_fresh_nonce(client):
    assert (await client.get("/docs")).headers["content-security-policy"] == STRICT_CSP
    nonces = []
    for _ in range(2):
        answer = await client.get("/redoc")
        policy = answer.headers["content-security-policy"]
        nonce = re.search(r"style-src 'self' 'nonce-([A-Za-z0-9_-]{24})'", policy).group(1)
        assert f'<meta property="csp-nonce" content="{nonce}">' in answer.text
        assert "script-src 'self';" in policy
        assert f"style-src-elem 'self' 'nonce-{nonce}';" in policy
        # Only style attributes are inline (ReDoc's React style props), never a script.
        assert policy.count("unsafe") == 1
        assert "style-src-attr 'unsafe-inline'" in policy
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
