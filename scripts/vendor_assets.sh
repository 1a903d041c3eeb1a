#!/usr/bin/env bash
# Vendor the front-end packages the service serves (and the one its browser
# tests inject) into the repository, from the npm registry, pinned.
#
#   scripts/vendor_assets.sh          # fetch every list below and copy the files
#
# Needs `npm` (only to fetch: nothing is built and nothing runs at serve time).
# Each line of a list is: PACKAGE@VERSION  FILE-IN-PACKAGE  DESTINATION
# Served files land in app/web/vendor/ and are served from /static with
# content-hashed names (app/web/static.py); their licences are copied beside.
# Change a version here, run the script, commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."

# The dashboard (issue #10): htmx for partial updates, Pico for the base styles.
DASHBOARD_ASSETS=(
  "htmx.org@2.0.11        dist/htmx.min.js          app/web/vendor/htmx.min.js"
  "htmx.org@2.0.11        LICENSE                   app/web/vendor/htmx.LICENSE"
  "@picocss/pico@2.1.1    css/pico.min.css          app/web/vendor/pico.min.css"
  "@picocss/pico@2.1.1    LICENSE.md                app/web/vendor/pico.LICENSE.md"
)

# Test only, never served: axe-core, run inside the page by the browser tests.
TEST_ASSETS=(
  "axe-core@4.14.1        axe.min.js                tests/dashboard/vendor/axe.min.js"
  "axe-core@4.14.1        LICENSE                   tests/dashboard/vendor/axe.LICENSE"
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

vendor() {
  local spec source destination package tarball
  for line in "$@"; do
    read -r spec source destination <<<"$line"
    package="$work/$(echo "$spec" | tr '/@' '__')"
    if [ ! -d "$package" ]; then
      mkdir -p "$package"
      tarball=$(cd "$package" && npm pack --silent "$spec")
      tar -xzf "$package/$tarball" -C "$package"
    fi
    mkdir -p "$(dirname "$destination")"
    cp "$package/package/$source" "$destination"
    printf '%-45s %8d bytes  (%s)\n' "$destination" "$(wc -c <"$destination")" "$spec"
  done
}

vendor "${DASHBOARD_ASSETS[@]}"
vendor "${TEST_ASSETS[@]}"
