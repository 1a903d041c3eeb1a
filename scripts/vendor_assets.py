#!/usr/bin/env python3
"""Vendor front-end files from pinned npm packages into the repository.

    python3 scripts/vendor_assets.py

For each package listed: `npm pack NAME@VERSION` into a temporary folder (npm
checks the registry's integrity hash), copy only the listed files, and write
`app/web/vendor/manifest.json`: each file with the package, its integrity and the
file's SHA-256. Files under app/web/vendor/ are served from /static by
`app.web.static` under content-hashed names with a year's cache; templates ask
`static("vendor/<file>")`. TEST_ASSETS go to the tests only and are never served.

To add a library: add its rows, run this, commit the result. Standard library and
npm only.

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
VENDOR = ROOT / "app" / "web" / "vendor"
TEST_VENDOR = ROOT / "tests" / "dashboard" / "vendor"

# (npm package, version, file in the package, where it goes under VENDOR)
ASSETS: list[tuple[str, str, str, str]] = [
    # The dashboard: htmx for partial updates, Pico for the base styles.
    ("htmx.org", "2.0.11", "dist/htmx.min.js", "htmx.min.js"),
    ("htmx.org", "2.0.11", "LICENSE", "htmx.LICENSE"),
    ("@picocss/pico", "2.1.1", "css/pico.min.css", "pico.min.css"),
    ("@picocss/pico", "2.1.1", "LICENSE.md", "pico.LICENSE.md"),
    # The API docs: Swagger UI (try it out) and ReDoc (the reference).
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
# Test only, never served: axe-core, run inside the page by the browser tests.
TEST_ASSETS: list[tuple[str, str, str, str]] = [
    ("axe-core", "4.14.1", "axe.min.js", "axe.min.js"),
    ("axe-core", "4.14.1", "LICENSE", "axe.LICENSE"),
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


def copy_listed(
    rows: list[tuple[str, str, str, str]],
    destination: Path,
    tarballs: dict[tuple[str, str], tuple[Path, str]],
) -> dict[str, dict[str, str]]:
    """Copy each listed file out of its package; what was copied, with provenance."""
    manifest: dict[str, dict[str, str]] = {}
    for package, version, source, target in rows:
        tarball, integrity = tarballs[(package, version)]
        with tarfile.open(tarball) as archive:
            member = archive.extractfile(f"package/{source}")
            if member is None:
                sys.exit(f"{package}@{version} has no file {source}")
            original = member.read()
        data = patched(package, source, original)
        (destination / target).parent.mkdir(parents=True, exist_ok=True)
        (destination / target).write_bytes(data)
        manifest[target] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "package": f"{package}@{version}",
            "package_integrity": integrity,
            "source": source,
        }
        if data != original:
            manifest[target]["patched_from_sha256"] = hashlib.sha256(original).hexdigest()
    return manifest


def main() -> None:
    if shutil.which("npm") is None:
        sys.exit("npm is needed (Debian: apt-get install npm)")
    rows = ASSETS + TEST_ASSETS
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        packages = sorted({(p, v) for p, v, _, _ in rows})
        tarballs = {(p, v): pack(p, v, work) for p, v in packages}
        # A clean slate: files of versions no longer listed go too.
        if VENDOR.exists():
            shutil.rmtree(VENDOR)
        manifest = copy_listed(ASSETS, VENDOR, tarballs)
        copy_listed(TEST_ASSETS, TEST_VENDOR, tarballs)
    (VENDOR / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"{VENDOR.relative_to(ROOT)}: {len(manifest)} files from {len(packages)} packages")


if __name__ == "__main__":
    main()
