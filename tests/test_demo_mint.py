"""`mandate-vault demo keygen | mint`: refusals are one line and exit 2 (the happy
path is the README tutorial, tests/test_tutorial.py)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import jwt
import pytest


def demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "demo", *args],
        cwd=cwd,
        env={**os.environ, "MANDATE_VAULT_ENV_FILE": os.devnull},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_keygen_writes_a_private_file_and_prints_the_registration(tmp_path: Path) -> None:
    made = demo("keygen", "bank.key", "--did", "did:web:bank.example", "--kid", "b1", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    body = json.loads(made.stdout)
    assert body["did"] == "did:web:bank.example"
    (public,) = body["jwks"]["keys"]
    assert (public["kid"], public["alg"], public["crv"]) == ("b1", "ES256", "P-256")
    assert "d" not in public
    key_file = tmp_path / "bank.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "d" in json.loads(key_file.read_text())["jwk"]
    again = demo("keygen", "bank.key", "--did", "did:web:bank.example", cwd=tmp_path)
    assert (again.returncode, again.stderr) == (
        2,
        "error: bank.key exists; pass --force to replace it\n",
    )

    token = demo("mint", "payment", "--key", "bank.key", "--token", cwd=tmp_path).stdout.strip()
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"], header["typ"]) == ("ES256", "b1", "vc+jwt")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["vc"]["type"] == ["VerifiableCredential", "PaymentMandate"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cart", "--key", "bank.key"], "a cart mandate needs --merchant-key"),
        (["refund", "--key", "bank.key"], "unknown kind 'refund'"),
        (["generic", "--key", "bank.key", "--amount", "lots"], "--amount must be a decimal"),
        (["generic", "--key", "bank.key", "--amount", "-5"], "--amount must be positive"),
        (["generic", "--key", "bank.key", "--days", "0"], "--days must be between 1 and 3650"),
        (["generic", "--key", "none.key"], "none.key: no such key file"),
        (["generic", "--key", "junk.key"], "junk.key is not a key file made by"),
    ],
)
def test_mint_refusals_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    demo("keygen", "bank.key", "--did", "did:web:bank.example", cwd=tmp_path)
    (tmp_path / "junk.key").write_text('{"did": 1}')
    refused = demo("mint", *args, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"error: {message}"), refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    assert refused.stdout == ""
