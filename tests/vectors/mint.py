"""Mint the project's verification vectors (the shared sample's format, more cases).

    python -m tests.vectors.mint --out tests/vectors/public.json

Deterministic: keys come from fixed labels (and one committed test-only RSA PEM),
times are fixed (valid vectors expire in the 2090s) and every signature is
deterministic, so re-minting reproduces the committed file byte for byte.
The format is described in tests/vectors/README.md; the cases in `cases.py`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tests.vectors.cases import SECTIONS, Cast, Minter

DEFAULT_OUT = Path(__file__).with_name("public.json")


def build() -> dict[str, Any]:
    """The vector set as a JSON-ready dict: `issuers`, then `cases` in submission order."""
    minter, cast = Minter(), Cast.create()
    for section in SECTIONS:
        section(minter, cast)
    return {"issuers": minter.issuers, "cases": minter.cases}


def render(data: dict[str, Any]) -> str:
    """The file's exact text: one-space indentation, non-ASCII kept, a final newline."""
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mint the project's verification vectors.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON")
    args = parser.parse_args(argv)
    data = build()
    text = render(data)
    args.out.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {args.out} ({len(data['cases'])} cases, {len(text)} bytes)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
