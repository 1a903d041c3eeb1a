"""The evidence pack of a v0.2 mandate carries its artifacts and the dispute check's result."""

from __future__ import annotations

import io
import json
import zipfile

from app.evidence import verify_pack
from app.evidence.report import Severity
from tests.ap2.minting import H
from tests.ap2.scenarios import M1, NOW_TS, amount_range, payees, reference
from tests.ap2_api.helpers import (
    checkout_chain,
    merchant_receipt,
    payment_chain,
    processor_receipt,
)
from tests.evidence.test_pack_api import rewrite

URL = "/api/v1/ap2/presentations"


async def test_pack_has_the_v02_artifacts_and_the_dispute_result(api, tenant, world):
    checkout = checkout_chain(NOW_TS)
    assert (await api.post(URL, json=checkout.body(), headers=tenant.headers)).status_code == 200
    open_hash = H(checkout.root.text)
    payment = payment_chain(
        NOW_TS,
        cons=[amount_range(20000, 0), payees(M1), reference(open_hash)],
        cj=checkout.cj,
        open_checkout_hash=open_hash,
    )
    response = await api.post(URL, json=payment.body(), headers=tenant.headers)
    assert response.status_code == 200, response.text
    payment_id = response.json()["mandate_id"]
    vault_receipt = response.json()["receipt"]
    for receipt in (merchant_receipt(checkout, NOW_TS), processor_receipt(payment, NOW_TS)):
        stored = await api.post(
            "/api/v1/ap2/receipts", json={"receipt": receipt}, headers=tenant.headers
        )
        assert stored.status_code == 201

    admin = world.a["customer_admin"].key()
    response = await api.get(f"/api/v1/mandates/{payment_id}/evidence", headers=admin)
    assert response.status_code == 200, response.text
    data = response.content
    pack = zipfile.ZipFile(io.BytesIO(data))
    names = set(pack.namelist())
    assert {
        "ap2/chain.txt",
        "ap2/presentation.json",
        "ap2/vault_receipt.jwt",
        "ap2/receipts/001.jwt",
        "ap2/receipts.json",
        "ap2/checkout_chain.txt",
        "ap2/checkout_presentation.json",
        "ap2/dispute_check.json",
    } <= names
    assert pack.read("ap2/chain.txt").decode() == payment.sd_jwt
    assert pack.read("ap2/checkout_chain.txt").decode() == checkout.sd_jwt
    assert pack.read("ap2/vault_receipt.jwt").decode() == vault_receipt
    assert pack.read("ap2/receipts/001.jwt").decode().count(".") == 2
    dispute = json.loads(pack.read("ap2/dispute_check.json"))
    assert dispute["result"] == "consistent"
    assert [s["step"] for s in dispute["steps"]] == [
        "chain",
        "receipt",
        "checkout_mandate",
        "payment_reference",
    ]
    presentation = json.loads(pack.read("ap2/presentation.json"))
    assert presentation["open_mandate_hash"] == payment.open_mandate_hash
    assert presentation["verification"]["context"]["open_checkout_hash"] == open_hash
    jwks = (await api.get("/.well-known/jwks.json")).json()
    report = verify_pack(data, jwks)
    # The manifest signs every ap2/ file: each is hash-checked, and a changed byte is named.
    errors = report.files_with(Severity.ERROR)
    assert not [name for name in errors if name.startswith("ap2/")]
    checked = [f.line() for f in report.findings if f.file.startswith("ap2/")]
    assert all("hash-checked and signed" in line for line in checked)
    assert len(checked) == len([n for n in names if n.startswith("ap2/")])
    broken = verify_pack(rewrite(data, "ap2/dispute_check.json", flip_at=20), jwks)
    assert "ap2/dispute_check.json" in broken.files_with(Severity.ERROR)
