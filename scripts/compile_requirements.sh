#!/usr/bin/env bash
# Regenerate requirements.txt from pyproject.toml: every runtime dependency and
# everything it pulls in, pinned exactly, for people who install with pip
# (`pip install -r requirements.txt`) and for the root scripts' bootstrap.
#
#   ./scripts/compile_requirements.sh
#
# pip-tools runs from a throwaway virtualenv so it is no dependency of the
# project. tests/test_requirements.py fails when the file and pyproject.toml differ.
set -euo pipefail
cd "$(dirname "$0")/.."
PIP_TOOLS_VERSION=7.6.2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "pip-tools==$PIP_TOOLS_VERSION"
CUSTOM_COMPILE_COMMAND="./scripts/compile_requirements.sh" \
  "$work/venv/bin/pip-compile" --quiet --strip-extras --no-emit-index-url --no-emit-find-links \
  --output-file requirements.txt pyproject.toml
echo "requirements.txt: $(grep -c '==' requirements.txt) pinned packages"
