"""The verifier written in docs/evidence-pack.md, from the format alone, accepts our packs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.evidence import layout
from app.evidence.documents import dump_json, load_json
from app.signing import Keyring, generate_signing_key
from tests.evidence.packs import Pack, make_pack, repack

DOC = Path(__file__).resolve().parents[2] / "docs" / "evidence-pack.md"


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = DOC.read_text()
    section = text[text.index("## 7.") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    path = tmp_path_factory.mktemp("doc") / "verify_pack.py"
    path.write_text(code.group(1))
    return path


def _run(script: Path, tmp_path: Path, data: bytes, jwks: dict) -> subprocess.CompletedProcess[str]:
    pack_path, jwks_path = tmp_path / "pack.zip", tmp_path / "jwks.json"
    pack_path.write_bytes(data)
    jwks_path.write_text(json.dumps(jwks))
    return subprocess.run(
        [sys.executable, str(script), str(pack_path), str(jwks_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("cart", [False, True])
def test_the_documented_verifier_accepts_our_packs(
    script: Path, tmp_path: Path, cart: bool
) -> None:
    pack = make_pack(cart=cart)
    result = _run(script, tmp_path, pack.data, pack.jwks)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"OK: {pack.contents.mandate_id} 20 audit rows proven")


def test_the_documented_verifier_refuses_what_ours_refuses(script: Path, tmp_path: Path) -> None:
    pack: Pack = make_pack(events=4)
    stranger = Keyring.of(generate_signing_key())
    assert _run(script, tmp_path, repack(pack, {}, resign=stranger), pack.jwks).returncode != 0
    rows = load_json(pack.members()[layout.AUDIT_ROWS])
    rows["rows"][0]["record"]["action"] = "mandate.purged"
    edited = repack(pack, {layout.AUDIT_ROWS: dump_json(rows)}, resign=pack.keyring)
    result = _run(script, tmp_path, edited, pack.jwks)
    assert result.returncode != 0
    assert "AssertionError" in result.stderr
