#!/usr/bin/env python3
"""Vendor front-end files from pinned npm packages into app/static/vendor/.

    python3 scripts/vendor_assets.py

For each package in ASSETS: `npm pack NAME@VERSION` into a temporary folder (npm
checks the registry's integrity hash), copy only the listed files under
content-hashed names (`swagger-ui-bundle.<first 12 hex of SHA-256>.js`) and write
`app/static/vendor/manifest.json`, logical name -> file, with the package, its
integrity and each file's SHA-256. The service serves them from /static with a
year's cache (`app.web.assets`); templates ask `asset_url("logical/name")`.

To add a library (htmx, a chart library, ...): add its rows to ASSETS, run this,
commit app/static/vendor/. Standard library and npm only.

PATCHES lists the few textual changes made to a vendored file, each with its
reason; a patch that no longer matches stops the script, so an upgrade is
checked by hand. The manifest keeps the package file's own SHA-256 too.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "app" / "static" / "vendor"

# (npm package, version, file in the package, logical name the code asks for)
ASSETS: list[tuple[str, str, str, str]] = [
    ("swagger-ui-dist", "5.35.0", "swagger-ui-bundle.js", "swagger-ui/swagger-ui-bundle.js"),
    ("swagger-ui-dist", "5.35.0", "swagger-ui.css", "swagger-ui/swagger-ui.css"),
    ("swagger-ui-dist", "5.35.0", "favicon-32x32.png", "swagger-ui/favicon-32x32.png"),
    ("swagger-ui-dist", "5.35.0", "LICENSE", "swagger-ui/LICENSE"),
    ("swagger-ui-dist", "5.35.0", "NOTICE", "swagger-ui/NOTICE"),
    (
        "swagger-ui-dist",
        "5.35.0",
        "swagger-ui-bundle.js.LICENSE.txt",
        "swagger-ui/swagger-ui-bundle.js.LICENSE.txt",
    ),
    ("redoc", "3.0.1", "bundles/redoc.standalone.js", "redoc/redoc.standalone.js"),
    ("redoc", "3.0.1", "LICENSE", "redoc/LICENSE"),
]


# ReDoc's sidebar shows its maker's logo from their CDN: the one request the page
# would make to another host. The logo becomes a small local SVG saying the same;
# the attribution link stays.
_REDOCLY_MARK = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='60' height='16'%3E"
    "%3Ctext x='0' y='12' font-family='sans-serif' font-size='12' fill='%23333'%3ERedocly"
    "%3C/text%3E%3C/svg%3E"
)
# ReDoc decides whether to run its search index in a worker by trying `Function()`;
# under the service's CSP (no 'unsafe-eval') the try is refused, reported as a CSP
# violation, and ReDoc searches in the page. The probe is skipped: same search, no
# violation.
_SEARCH_WORKER_PROBE = "try{return e._factory??=Function(XDe),!0}catch{return!1}"
PATCHES: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("redoc", "bundles/redoc.standalone.js"): [
        ("https://cdn.redoc.ly/redoc/logo-mini-full.svg", _REDOCLY_MARK),
        ("https://cdn.redoc.ly/redoc/logo-mini.svg", _REDOCLY_MARK),
        (_SEARCH_WORKER_PROBE, "return!1"),
    ],
}


def patched(package: str, source: str, data: bytes) -> bytes:
    for old, new in PATCHES.get((package, source), []):
        if data.count(old.encode()) == 0:
            sys.exit(f"{package} {source}: the patch for {old!r} no longer matches; check it")
        data = data.replace(old.encode(), new.encode())
    return data


def hashed_name(name: str, digest: str) -> str:
    """`redoc.standalone.js` -> `redoc.standalone.<hash>.js` (hash before the last suffix)."""
    path = Path(name)
    return f"{path.stem}.{digest[:12]}{path.suffix}"


def pack(package: str, version: str, work: Path) -> tuple[Path, str]:
    """The package's tarball and the integrity npm checked it against."""
    result = subprocess.run(
        ["npm", "pack", f"{package}@{version}", "--json", "--silent"],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"npm pack {package}@{version} failed:\n{result.stderr}")
    (info,) = json.loads(result.stdout)
    return work / info["filename"], info["integrity"]


def main() -> None:
    if shutil.which("npm") is None:
        sys.exit("npm is needed (Debian: apt-get install npm)")
    manifest: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        packages = sorted({(p, v) for p, v, _, _ in ASSETS})
        tarballs = {(p, v): pack(p, v, work) for p, v in packages}
        # A clean slate: files of versions no longer listed go too.
        if VENDOR.exists():
            for directory in (d for d in VENDOR.iterdir() if d.is_dir()):
                shutil.rmtree(directory)
        for package, version, source, logical in ASSETS:
            tarball, integrity = tarballs[(package, version)]
            with tarfile.open(tarball) as archive:
                member = archive.extractfile(f"package/{source}")
                if member is None:
                    sys.exit(f"{package}@{version} has no file {source}")
                original = member.read()
            data = patched(package, source, original)
            digest = hashlib.sha256(data).hexdigest()
            relative = Path(f"{package}-{version}") / hashed_name(source, digest)
            (VENDOR / relative).parent.mkdir(parents=True, exist_ok=True)
            (VENDOR / relative).write_bytes(data)
            manifest[logical] = {
                "file": relative.as_posix(),
                "sha256": digest,
                "package": f"{package}@{version}",
                "package_integrity": integrity,
                "source": source,
            }
            if data != original:
                manifest[logical]["patched_from_sha256"] = hashlib.sha256(original).hexdigest()
    (VENDOR / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"{VENDOR.relative_to(ROOT)}: {len(manifest)} files from {len(packages)} packages")


if __name__ == "__main__":
    main()
